"""Few-shot examples: drawn from train only, seeded, never the item itself, the same for training and
evaluation, as chat turns or inline, counted in prompt tokens, and known to the leakage check."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from lorabench.config.run import RunConfig
from lorabench.data.records import save_records
from lorabench.data.spec import DataSpec
from lorabench.data.synth import synthesize
from lorabench.core.errors import LeakageError, LorabenchError
from lorabench.core.kinds import get_task
from lorabench.evaluation.runner import EvalConfig, with_few_shot_examples
from lorabench.prompts.few_shot import FewShotSettings, draw_examples, draw_shots, shot_ids, shots_for
from lorabench.models.load import ModelSpec
from lorabench.pipeline.run import split_data
from lorabench.prompts import build as prompt_build
from lorabench.prompts.build import PromptBuilder, PromptSettings, build_prompt
from tests.tiny_models import build_causal_tokenizer, build_seq2seq_tokenizer


SHORT = get_task("short")


@pytest.fixture(scope="module")
def records():
    return synthesize("short", 12, seed=3)


@pytest.fixture(scope="module")
def chat_tokenizer():
    return build_causal_tokenizer()


def _with_shots(records, k=2, seed=0, style="auto") -> PromptSettings:
    return PromptSettings(few_shot=draw_examples(records, FewShotSettings(k=k, seed=seed, style=style), get_task(records[0].task)))


def test_the_draw_is_seeded_and_takes_one_stand_in_more_than_k(records):
    first = draw_examples(records, FewShotSettings(k=3, seed=1), SHORT)
    assert len(first.examples) == 4 and first == draw_examples(records, FewShotSettings(k=3, seed=1), SHORT)
    assert shot_ids(first) != shot_ids(draw_examples(records, FewShotSettings(k=3, seed=2), SHORT))
    assert set(shot_ids(first)) <= {r.id for r in records}
    with pytest.raises(LorabenchError, match=r"prompt.few_shot.k: 12 shots need at least 13 training items"):
        draw_examples(records, FewShotSettings(k=12), SHORT)


def test_an_item_never_sees_itself_and_every_other_item_sees_the_same_shots(records):
    few_shot = _with_shots(records[:6]).few_shot
    shots, stand_in = shot_ids(few_shot)[:2], shot_ids(few_shot)[2]
    others = [r for r in records if r.id not in shot_ids(few_shot)]
    assert all([s.id for s in shots_for(r, few_shot)] == shots for r in others)
    itself = next(r for r in records if r.id == shots[0])
    assert [s.id for s in shots_for(itself, few_shot)] == [shots[1], stand_in]


def test_chat_turns_or_inline_blocks_counted_in_the_prompt_tokens(records, chat_tokenizer):
    item = records[-1]
    alone = build_prompt(item, chat_tokenizer, PromptSettings())
    chat = build_prompt(item, chat_tokenizer, _with_shots(records[:6]))
    assert chat.text.count("<|im_start|>user") == 3 and chat.text.count("<|im_start|>assistant") == 3
    shot = next(r for r in records if r.id == shot_ids(_with_shots(records[:6]).few_shot)[0])
    assert f"<|im_start|>assistant\n{shot.answers[0]}<|im_end|>" in chat.text
    assert chat.n_tokens > alone.n_tokens and chat.target == alone.target
    inline = build_prompt(item, chat_tokenizer, _with_shots(records[:6], style="inline"))
    assert inline.text.count("<|im_start|>user") == 1
    assert f"\nAnswer: {shot.answers[0]}\n\nAnswer the question" in inline.text
    plain = build_prompt(item, build_seq2seq_tokenizer(), _with_shots(records[:6]))
    assert plain.text.startswith("Answer the question") and plain.text.count("\nAnswer:") == 3
    assert plain.text.endswith(alone_plain := build_prompt(item, build_seq2seq_tokenizer(), PromptSettings()).text)
    assert plain.n_tokens > len(alone_plain) // 8
    with pytest.raises(LorabenchError, match="style 'chat' needs a chat template"):
        build_prompt(item, build_seq2seq_tokenizer(), _with_shots(records[:6], style="chat"))


def test_one_builder_gives_each_record_its_own_prompt_and_reads_and_renders_the_shots_once(records, chat_tokenizer, monkeypatch):
    settings = _with_shots(records[:6])
    alone = [build_prompt(r, chat_tokenizer, settings) for r in records]  # a builder per record, as before
    reads, rendered = [], []
    read, of = prompt_build.drawn_records, prompt_build.RecordText.of
    monkeypatch.setattr(prompt_build, "drawn_records", lambda *a: reads.append(1) or read(*a))
    monkeypatch.setattr(prompt_build.RecordText, "of", lambda record, *a: rendered.append(record.id) or of(record, *a))
    builder = PromptBuilder(chat_tokenizer, settings)
    assert [builder.prompt(r) for r in records] == alone  # the shots' own records get the stand-in, as alone
    assert len(reads) == 1
    drawn = set(shot_ids(settings.few_shot))
    # every item once, and a drawn example once more as a shot, however many prompts show it
    assert Counter(rendered) == Counter({r.id: 1 + (r.id in drawn) for r in records})


def test_a_builder_refuses_undrawn_examples_at_its_first_prompt_not_before(records, chat_tokenizer):
    builder = PromptBuilder(chat_tokenizer, PromptSettings(few_shot=FewShotSettings(k=2)))
    with pytest.raises(LorabenchError, match="no examples drawn yet"):
        builder.prompt(records[0])


def test_draw_shots_draws_once_and_keeps_examples_drawn_already(records):
    settings = PromptSettings(few_shot=FewShotSettings(k=2, seed=1))
    drawn, shots = draw_shots(settings, records, SHORT)
    assert drawn.few_shot == draw_examples(records, FewShotSettings(k=2, seed=1), SHORT)
    assert draw_shots(drawn, records[:3], SHORT)[0] is drawn and draw_shots(PromptSettings(), records, SHORT)[0] == PromptSettings()
    # the examples come back as records too: those drawn, or those the settings hold already
    assert [shot.id for shot in shots] == shot_ids(drawn.few_shot) and shots == draw_shots(drawn, records[:3], SHORT)[1]
    assert draw_shots(PromptSettings(), records, SHORT)[1] == []


def test_shots_never_shorten_only_the_items_context_is(chat_tokenizer):
    passages = synthesize("extractive", 12, seed=4, short_passages=True)
    settings = _with_shots(passages[:6], k=1)
    full = build_prompt(passages[-1], chat_tokenizer, settings)
    tight = build_prompt(passages[-1], chat_tokenizer, settings.model_copy(update={"max_prompt_tokens": full.n_tokens - 20}))
    shot = settings.few_shot.examples[0]
    assert tight.shortened and shot["context"] in tight.text and passages[-1].context not in tight.text


def _config(tmp_path, train, test, **prompt) -> RunConfig:
    return RunConfig.model_validate({
        "model": "unused", "task": "short", "out": str(tmp_path / "run"), "prompt": prompt,
        "data": {"train": str(train), "test": str(test), "split": {"validation": 2}, "train_size": 5},
    })


def test_run_draws_from_the_training_split_only_and_checks_shots_against_test(tmp_path):
    train = save_records(synthesize("short", 20, seed=5), tmp_path / "train.jsonl")
    test_records = synthesize("short", 6, seed=6)
    test = save_records(test_records, tmp_path / "test.jsonl")
    splits = split_data(_config(tmp_path, train, test, few_shot={"k": 3}), lambda m: None)
    ids = shot_ids(splits.prompt.few_shot)
    # from the training split before data.train_size trims it, so every training size sees the same shots
    assert len(ids) == 4 and not set(ids) & {r.id for r in splits.validation + splits.test}
    assert set(ids) <= {json.loads(line)["id"] for line in train.read_text().splitlines()}
    assert splits.leakage["few_shot_vs_test"]["has_leakage"] is False
    # a test item equal to a shot is leakage
    shot = next(r for r in synthesize("short", 20, seed=5) if r.id == ids[0])
    leaky = save_records([*test_records, shot.model_copy(update={"id": "copy"})], tmp_path / "leaky.jsonl")
    with pytest.raises(LeakageError, match="few-shot examples vs test"):
        split_data(_config(tmp_path, train, leaky, few_shot={"k": 3}), lambda m: None)


def _eval_config(data, adapter=None, **few_shot) -> EvalConfig:
    return EvalConfig(model=ModelSpec(name="unused"), adapter=adapter, data=DataSpec(path=str(data), task="short"),
                      prompt=PromptSettings(few_shot=few_shot))


def test_eval_takes_shots_from_a_file_or_the_adapter_never_from_its_items(tmp_path, records):
    items, pool = records[:4], records[4:]
    data = save_records(items, tmp_path / "items.jsonl")
    shots_file = save_records(pool, tmp_path / "pool.jsonl")
    drawn = with_few_shot_examples(_eval_config(data, k=2), items, shots_file)
    assert drawn.prompt.few_shot.examples == draw_examples(pool, FewShotSettings(k=2), SHORT).examples

    adapter = tmp_path / "adapter"
    adapter.mkdir()
    (adapter / "lorabench.json").write_text(json.dumps({"prompt": drawn.prompt.model_dump(mode="json")}))
    reused = with_few_shot_examples(_eval_config(data, adapter=str(adapter), k=2), items, None)
    assert reused.prompt.few_shot.examples == drawn.prompt.few_shot.examples

    with pytest.raises(LorabenchError, match="few_shot_from=FILE"):
        with_few_shot_examples(_eval_config(data, k=2), items, None)
    assert items[0].id in shot_ids(draw_examples(records, FewShotSettings(k=2), SHORT))  # drawing from all takes an item
    with pytest.raises(LeakageError, match="few-shot examples vs evaluation items"):
        with_few_shot_examples(_eval_config(data, k=2), items, save_records(records, tmp_path / "all.jsonl"))
