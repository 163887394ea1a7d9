import pytest

from lorabench.data.records import TaskKind

from lorabench.tasks.choice import ChoiceRecord

from lorabench.tasks.extractive import ExtractiveRecord

from lorabench.tasks.math import MathRecord

from lorabench.tasks.open_answers import OpenRecord
from lorabench.core.errors import LorabenchError
from lorabench.core.kinds import get_task
from lorabench.prompts.build import (
    NO_ANSWER,
    Prompt,
    PromptSettings,
    TokenCounts,
    build_prompt,
    encode_prompt,
    encode_target,
    target_text,
    user_message,
)
from lorabench.prompts.answers import answer_from_generation
from tests.tiny_models import build_causal_tokenizer, build_seq2seq_tokenizer


@pytest.fixture(scope="module")
def chat_tokenizer():
    return build_causal_tokenizer()


@pytest.fixture(scope="module")
def plain_tokenizer():
    return build_seq2seq_tokenizer()


EXTRACTIVE = ExtractiveRecord(
    id="e1", context="Velmora lies on the Oslet river. It was founded in 1842.", question="When was Velmora founded?",
    answers=["1842", "in 1842"],
)
CHOICE = ChoiceRecord(id="c1", question="Where is Velmora?", options=["on a river", "on a hill"], answer="A")
MATH = MathRecord(id="m1", question="3 + 4?", answer="3 + 4 = 7\n#### 7")
OPEN = OpenRecord(id="o1", instruction="Describe Velmora.", response="A river town.", context="")


def test_user_message_holds_context_question_and_options():
    text = user_message(CHOICE, PromptSettings())
    assert "Question: Where is Velmora?\nA. on a river\nB. on a hill" in text
    assert "letter of the correct option" in text
    extractive = user_message(EXTRACTIVE, PromptSettings())
    assert extractive.index("Context:") < extractive.index("Question:")
    assert "Context" not in user_message(OPEN, PromptSettings())


def test_targets_per_task():
    assert target_text(EXTRACTIVE) == "1842"
    assert target_text(CHOICE) == "A"
    assert target_text(MATH).endswith("#### 7")
    unanswerable = ExtractiveRecord(id="u", context="c", question="q", answers=[], unanswerable=True)
    assert target_text(unanswerable) == NO_ANSWER


def test_chat_template_used_when_present(chat_tokenizer, plain_tokenizer):
    chat = build_prompt(EXTRACTIVE, chat_tokenizer, PromptSettings(system="Be brief."))
    assert chat.chat and chat.text.startswith("<|im_start|>system\nBe brief.<|im_end|>")
    assert chat.text.endswith("<|im_start|>assistant\n")
    plain = build_prompt(EXTRACTIVE, plain_tokenizer, PromptSettings())
    assert not plain.chat and plain.text.endswith("\nAnswer:")
    assert not build_prompt(EXTRACTIVE, chat_tokenizer, PromptSettings(chat_template="off")).chat
    with pytest.raises(LorabenchError, match="no chat template"):
        build_prompt(EXTRACTIVE, plain_tokenizer, PromptSettings(chat_template="on"))


def test_chat_prompt_is_not_given_a_second_bos(chat_tokenizer):
    prompt = build_prompt(EXTRACTIVE, chat_tokenizer, PromptSettings())
    ids = encode_prompt(prompt.text, chat_tokenizer, prompt.chat)
    assert ids[0] == chat_tokenizer.convert_tokens_to_ids("<|im_start|>")
    assert ids[1] != ids[0]
    assert prompt.n_tokens == len(ids)


def test_training_sequence_starts_with_the_exact_evaluation_prompt(chat_tokenizer, plain_tokenizer):
    for tokenizer in (chat_tokenizer, plain_tokenizer):
        prompt = build_prompt(EXTRACTIVE, tokenizer, PromptSettings())
        prompt_ids = encode_prompt(prompt.text, tokenizer, prompt.chat)
        full = prompt_ids + encode_target(prompt.target, tokenizer, prompt.chat)
        assert full[: len(prompt_ids)] == prompt_ids
        assert tokenizer.decode(full[len(prompt_ids) :]).strip() == "1842"


def test_long_context_is_shortened_never_the_question(chat_tokenizer):
    long = ExtractiveRecord(
        id="long", context=" ".join(f"Sentence {i} about Velmora." for i in range(200)),
        question="When was Velmora founded?", answers=["1842"],
    )
    settings = PromptSettings(max_prompt_tokens=120)
    prompt = build_prompt(long, chat_tokenizer, settings)
    assert prompt.shortened and prompt.n_tokens <= 120
    assert "Question: When was Velmora founded?" in prompt.text
    assert "Sentence 0 about" in prompt.text and "Sentence 199" not in prompt.text
    assert not build_prompt(EXTRACTIVE, chat_tokenizer, settings).shortened


def test_prompt_too_long_without_context_is_a_clear_error(chat_tokenizer):
    record = ExtractiveRecord(id="q", context="tiny", question=" ".join(["word"] * 200), answers=["x"])
    with pytest.raises(LorabenchError, match="record q: .*max_prompt_tokens=40"):
        build_prompt(record, chat_tokenizer, PromptSettings(max_prompt_tokens=40))


def test_unanswerable_hint_is_a_setting_not_a_gold_leak(chat_tokenizer):
    answerable = build_prompt(EXTRACTIVE, chat_tokenizer, PromptSettings(unanswerable_hint=True))
    assert NO_ANSWER in answerable.text
    assert NO_ANSWER not in build_prompt(EXTRACTIVE, chat_tokenizer, PromptSettings()).text


def test_fit_to_model_reserves_room_for_the_answer():
    from types import SimpleNamespace

    from lorabench.prompts.build import fit_to_model

    causal = SimpleNamespace(config=SimpleNamespace(max_position_embeddings=512, is_encoder_decoder=False))
    assert fit_to_model(PromptSettings(), causal, 32).max_prompt_tokens == 480
    assert fit_to_model(PromptSettings(max_prompt_tokens=100), causal, 32).max_prompt_tokens == 100
    seq2seq = SimpleNamespace(config=SimpleNamespace(n_positions=512, is_encoder_decoder=True))
    assert fit_to_model(PromptSettings(), seq2seq, 32).max_prompt_tokens == 1024
    with pytest.raises(LorabenchError, match="leaves no room"):
        fit_to_model(PromptSettings(), causal, 500)


CHAT = OpenRecord(
    id="h1", instruction="And how long is it?", response="About 40 km.",
    history=[{"role": "system", "content": "You are terse."}, {"role": "user", "content": "Name a river."},
             {"role": "assistant", "content": "The Oslet."}],
)
FINAL_TURN = "Follow the instruction.\n\nInstruction: And how long is it?"


def test_chat_history_goes_through_the_chat_template_before_the_final_turn(chat_tokenizer):
    prompt = build_prompt(CHAT, chat_tokenizer, PromptSettings(system="Ignored: the record has its own."))
    assert prompt.text == (
        "<|im_start|>system\nYou are terse.<|im_end|>\n<|im_start|>user\nName a river.<|im_end|>\n"
        "<|im_start|>assistant\nThe Oslet.<|im_end|>\n"
        f"<|im_start|>user\n{FINAL_TURN}<|im_end|>\n<|im_start|>assistant\n"
    )
    assert prompt.target == "About 40 km."
    without_system = CHAT.model_copy(update={"history": CHAT.history[1:]})
    text = build_prompt(without_system, chat_tokenizer, PromptSettings(system="Be kind.")).text
    assert text.startswith("<|im_start|>system\nBe kind.<|im_end|>\n<|im_start|>user\nName a river.")


def test_chat_history_without_a_template_is_labelled_paragraphs(chat_tokenizer, plain_tokenizer):
    expected = f"System: You are terse.\n\nUser: Name a river.\n\nAssistant: The Oslet.\n\n{FINAL_TURN}\nResponse:"
    assert build_prompt(CHAT, plain_tokenizer, PromptSettings()).text == expected
    assert build_prompt(CHAT, chat_tokenizer, PromptSettings(chat_template="off")).text == expected
    plain = OpenRecord(id="p", instruction="And how long is it?", response="About 40 km.")
    assert build_prompt(plain, plain_tokenizer, PromptSettings()).text == f"{FINAL_TURN}\nResponse:"


def test_default_settings_dump_and_render_as_before_the_opt_in_keys(chat_tokenizer):
    # Saved configs and adapter fingerprints of configs without templates must not change.
    assert list(PromptSettings().model_dump(mode="json")) == [
        "chat_template", "system", "instruction", "unanswerable_hint", "max_prompt_tokens",
    ]
    prompt = build_prompt(EXTRACTIVE, chat_tokenizer, PromptSettings())
    assert not prompt.prefixed and prompt.bare_answer and prompt.frame.lead == prompt.frame.tail == ""


def test_answer_prefix_replaces_the_plain_cue_and_opens_the_chat_answer(chat_tokenizer, plain_tokenizer):
    settings = PromptSettings(answer_prefix="The answer is")
    plain = build_prompt(EXTRACTIVE, plain_tokenizer, settings)
    assert plain.text.endswith("Question: When was Velmora founded?\nThe answer is") and "Answer:" not in plain.text
    chat = build_prompt(EXTRACTIVE, chat_tokenizer, settings)
    assert chat.text.endswith("<|im_start|>assistant\nThe answer is")
    assert chat.prefixed and not chat.bare_answer  # the answer follows the prefix after a space
    full = chat.text + chat_tokenizer.decode(encode_target(chat.target, chat_tokenizer, chat.bare_answer))
    assert full.endswith("The answer is 1842")
    # The prefix is in the prompt, so the model's answer is scored without it.
    assert answer_from_generation(get_task(TaskKind.extractive), " 1842\n", chat.frame) == "1842"


def test_a_template_without_prefix_is_the_whole_plain_prompt(plain_tokenizer):
    prompt = build_prompt(MATH, plain_tokenizer, PromptSettings(template="Problem: {{ question }}"))
    assert prompt.text == "Problem: 3 + 4?"


def test_answer_prefix_must_not_end_in_a_space():
    with pytest.raises(ValueError, match="ends in whitespace"):
        PromptSettings(answer_prefix="Answer: ")


def test_templates_and_few_shot_refuse_the_multi_question_strategies():
    for opt_in in ({"template": "{{ question }}"}, {"answer_prefix": "A:"}, {"few_shot": {"k": 1}}):
        with pytest.raises(ValueError, match=r"only with prompt.strategy 'single', not 'batch'"):
            PromptSettings(strategy="batch", **opt_in)


def test_a_target_template_needs_generated_choices():
    from lorabench.prompts.build import choice_scoring_conflict

    settings = PromptSettings(target_template="The answer is {{ answer }}")
    assert "use choice_mode: generate" in choice_scoring_conflict(TaskKind.choice, settings, "logprob")
    assert choice_scoring_conflict(TaskKind.choice, settings, "generate") is None
    assert choice_scoring_conflict(TaskKind.extractive, settings, "logprob") is None
    assert choice_scoring_conflict(TaskKind.choice, PromptSettings(answer_prefix="Answer:"), "letter") is None


def test_prompt_sha256_follows_the_rendered_prompt_and_nothing_else(chat_tokenizer):
    from lorabench.prompts.build import prompt_sha256

    base = prompt_sha256(get_task(TaskKind.extractive), chat_tokenizer, PromptSettings())
    assert len(base) == 64 and base == prompt_sha256(get_task(TaskKind.extractive), chat_tokenizer, PromptSettings())
    changed = [PromptSettings(answer_prefix="So:"), PromptSettings(system="Be brief."),
               PromptSettings(template="{{ question }}"), PromptSettings(target_template="A: {{ answer }}"),
               PromptSettings(max_prompt_tokens=512)]
    assert base not in {prompt_sha256(get_task(TaskKind.extractive), chat_tokenizer, s) for s in changed}
    # A template over a data column hashes with that column's value from the data.
    over_column = PromptSettings(template="{{ level }}: {{ question }}")
    assert prompt_sha256(get_task(TaskKind.extractive), chat_tokenizer, over_column, {"level": "a"}) != prompt_sha256(
        get_task(TaskKind.extractive), chat_tokenizer, over_column, {"level": "b"})


def test_few_shot_turns_come_after_a_chat_records_system_message_and_before_its_history(chat_tokenizer):
    from lorabench.prompts.few_shot import FewShotSettings, draw_examples

    shots = [OpenRecord(id=f"s{i}", instruction=f"Name town {i}.", response=f"Town {i}.") for i in range(2)]
    settings = PromptSettings(few_shot=draw_examples(shots, FewShotSettings(k=1), get_task("open")), answer_prefix="Reply:")
    text = build_prompt(CHAT, chat_tokenizer, settings).text
    order = ["<|im_start|>system\nYou are terse.", "<|im_start|>user\nFollow the instruction.\n\nInstruction: Name town",
             "<|im_start|>assistant\nReply: Town", "<|im_start|>user\nName a river.", "<|im_start|>assistant\nThe Oslet.",
             "<|im_start|>user\nFollow the instruction.\n\nInstruction: And how long is it?"]
    positions = [text.index(part) for part in order]
    assert positions == sorted(positions) and text.endswith("<|im_start|>assistant\nReply:")


def test_token_counts_of_prompts_and_of_learned_lengths():
    prompts = [Prompt("a", "text", "target", False, 7, True), Prompt("b", "text", "target", False, 3, False)]
    assert TokenCounts.of_prompts(prompts) == TokenCounts(items=2, mean=5.0, max=7, total=10, shortened=1)
    assert TokenCounts.of([4, 2, 6]) == TokenCounts(3, 4.0, 6, 12, 0)
    assert TokenCounts.of([]) == TokenCounts(0, 0.0, 0, 0, 0)
