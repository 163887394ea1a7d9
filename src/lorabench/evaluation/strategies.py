"""Evaluation under the `batch` and `sequential` strategies: generations in, one row per question out.

Rows carry the fields of lorabench.evaluation.runner's single-question rows. `prompt`, `raw`,
`prompt_tokens`, `generated_tokens`, `latency_s`, `stop_reason` describe the generation the answer
came from (the context's for batch, the question's turn for sequential); the `*_per_question`
fields and `api_prompt_tokens` hold this question's share of the context's cost (accounting.py).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from lorabench.inference.base import Backend, Generation, GenerationRequest
from lorabench.data.records import Record
from lorabench.config.decoding import DecodingSettings
from lorabench.core.kinds import get_task
from lorabench.metrics.scoring import TASK_METRICS, ScoreInput, ScoreSettings, score_item
from lorabench.evaluation.rows import generated_row
from lorabench.runs.predictions import PredictionRow
from lorabench.config.prompt import PromptSettings
from lorabench.prompts.answers import STOP_STRINGS, answer_from_generation, cut_at_stops
from lorabench.prompts.build import Prompt, PromptBuilder
from lorabench.evaluation.accounting import ContextCost, batch_cost, sequential_cost
from lorabench.prompts.batch import BATCH_STOP_STRINGS, build_batch_prompt, cut_batch_output, parse_numbered_answers
from lorabench.prompts.sequential import start_conversation, turn_prompt

def _request(backend: Backend, prompt: Prompt, wanted: int, stop_strings: tuple[str, ...]) -> GenerationRequest:
    """`wanted` new tokens, fewer if a causal model's window would overflow: a batch's budget grows
    with its question count, and a conversation's prompt with every turn."""
    window = backend.context_window
    budget = wanted if window is None else max(1, min(wanted, window - prompt.n_tokens))
    return GenerationRequest(prompt, budget, stop_strings)


def _row(
    record: Record, prompt: Prompt, gen: Generation, prediction: str, error: str | None, hit: bool,
    cost: ContextCost, strategy: str, questions: int, settings: ScoreSettings,
) -> PredictionRow:
    # A question without a usable answer is wrong on every metric; scoring its empty prediction
    # would count it right whenever the gold is "unanswerable".
    scores = (
        {name: 0.0 for name in TASK_METRICS[record.task]}
        if error
        else score_item(record.task, ScoreInput(list(record.golds), prediction), settings)
    )
    cost_fields = cost.row_fields(strategy, questions)  # type: ignore[arg-type]
    return generated_row(record.id, prompt, list(record.golds), prediction, scores, gen, hit, cost_fields, error)


def batch_rows(
    backend: Backend, groups: Sequence[Sequence[Record]], settings: PromptSettings,
    decoding: DecodingSettings, score_settings: ScoreSettings,
) -> Iterator[PredictionRow]:
    """One prompt per context, answered with up to max_new_tokens x its question count; rows come out
    context by context, as each generation batch finishes."""
    per_question = decoding.max_new_tokens_for(groups[0][0].task) if groups else 0
    builder = PromptBuilder(backend.tokenizer, settings)
    prompts = {group[0].id: (build_batch_prompt(group, builder), group) for group in groups}
    requests = [
        _request(backend, prompt, per_question * len(group), BATCH_STOP_STRINGS) for prompt, group in prompts.values()
    ]
    for gen in backend.generate(requests, decoding.batch_size):
        prompt, group = prompts[gen.record_id]
        parsed = parse_numbered_answers(cut_batch_output(gen.text), len(group))
        cost = batch_cost(gen, len(group))
        for index, record in enumerate(group):
            answer, error = parsed.answers[index], parsed.errors[index]
            # Cut means: generation hit its budget before this answer's line was finished (or begun).
            hit = gen.hit_max_new_tokens and not parsed.complete[index]
            prediction = "" if answer is None else get_task(record.task).clean_answer(answer)
            row = _row(record, prompt, gen, prediction, error, hit, cost, "batch", len(group), score_settings)
            row["parse_extra_lines"] = parsed.extra_lines
            yield row


def sequential_rows(
    backend: Backend, groups: Sequence[Sequence[Record]], settings: PromptSettings,
    decoding: DecodingSettings, score_settings: ScoreSettings,
) -> Iterator[PredictionRow]:
    """Turn k of every context in one `generate` call, the model's own answers as history; a
    context's rows come out once its last turn is answered (the accounting needs every turn)."""
    if not groups:
        return  # nothing to ask (every context done)
    task = groups[0][0].task  # a strategy's records are all of one kind
    per_question = decoding.max_new_tokens_for(task)
    builder = PromptBuilder(backend.tokenizer, settings)
    conversations = [start_conversation(group, builder) for group in groups]
    said: list[list[str]] = [[] for _ in groups]
    turns: list[list[tuple[Prompt, Generation]]] = [[] for _ in groups]
    for k in range(max((len(group) for group in groups), default=0)):
        active = [i for i, group in enumerate(groups) if len(group) > k]
        asked = {}
        for i in active:
            prompt = turn_prompt(conversations[i], said[i])
            asked[prompt.record_id] = (i, prompt)
        requests = [_request(backend, prompt, per_question, STOP_STRINGS[task]) for _, prompt in asked.values()]
        for gen in backend.generate(requests, decoding.batch_size):
            i, prompt = asked[gen.record_id]
            # The history shows what the model said ('unanswerable' included), as the gold history does.
            said[i].append(cut_at_stops(task, gen.text))
            turns[i].append((prompt, gen))
        for i in active:
            if len(groups[i]) == k + 1:
                yield from _conversation_rows(groups[i], turns[i], score_settings)


def _conversation_rows(
    group: Sequence[Record], turns: list[tuple[Prompt, Generation]], score_settings: ScoreSettings
) -> Iterator[PredictionRow]:
    cost = sequential_cost([gen for _, gen in turns])
    for record, (prompt, gen) in zip(group, turns):
        prediction = answer_from_generation(record.task, gen.text)
        hit = gen.hit_max_new_tokens
        yield _row(record, prompt, gen, prediction, None, hit, cost, "sequential", len(group), score_settings)
