"""How an evaluation asks its questions, one strategy each (prompt.strategy): `single` (a prompt per
question), `batch` (one prompt per context) and `sequential` (a conversation per context).
Questions in, one scored row per question out (rows.py), in the order answers arrive.
`answer_records` is the reusable core over them (the evaluation runner's, and training's validation):
each record's row, asked under the prompt's strategy, resumed from and appended to a run folder.

Rows of generated answers carry the same fields under every strategy. `prompt`, `raw`,
`prompt_tokens`, `generated_tokens`, `latency_s`, `stop_reason` describe the generation the answer
came from (the question's for single, the context's for batch, the question's turn for sequential);
the `*_per_question` fields and `api_prompt_tokens` hold this question's share of the context's cost
(rows.py). A kind whose engine scores options instead of generating (its scoring strategy
under decoding.choice_mode) gets one row per question with the options' log-probabilities.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from lorabench.core.kinds import ScoringStrategy, Task
from lorabench.inference.base import (
    Backend,
    Generation,
    GenerationRequest,
    LetterRequest,
    OptionRequest,
    Progress,
    continuations,
    engines_used,
)
from lorabench.data.records import Record, option_labels
from lorabench.config.decoding import DecodingSettings
from lorabench.metrics.scoring import ScoreSettings
from lorabench.evaluation.rows import batch_cost, generated_row, option_row, sequential_cost, single_cost
from lorabench.runs.predictions import PredictionRow
from lorabench.config.prompt import PromptSettings
from lorabench.prompts.answers import answer_from_generation, cut_at_stops
from lorabench.prompts.build import Prompt, PromptBuilder
from lorabench.prompts.batch import BATCH_STOP_STRINGS, build_batch_prompt, cut_batch_output, parse_numbered_answers
from lorabench.prompts.grouping import context_groups, shared_context_groups
from lorabench.runs.folder import RunFolder
from lorabench.prompts.sequential import start_conversation, turn_prompt


def single_rows(
    backend: Backend, task: Task, records: Sequence[Record], done: Mapping[str, PredictionRow],
    settings: PromptSettings, decoding: DecodingSettings, score_settings: ScoreSettings,
) -> Iterator[PredictionRow]:
    """One prompt per record not yet `done`: generated, or its options scored."""
    todo = [r for r in records if r.id not in done]
    if not todo:
        return
    builder = PromptBuilder(backend.tokenizer, settings)
    prompts = {r.id: builder.prompt(r) for r in todo}
    strategy = task.scoring_strategy(decoding.choice_mode)
    if strategy != "generate":
        yield from _option_rows(backend, task, todo, prompts, strategy, decoding, score_settings)
        return
    # A question's share of the cost counts every question of its context, done ones included.
    questions = {r.id: len(group) for group in context_groups(records) for r in group}
    by_id = {r.id: r for r in todo}
    max_new_tokens = decoding.max_new_tokens_for(task.kind)
    requests = [GenerationRequest(prompt, max_new_tokens, task.stop_strings) for prompt in prompts.values()]
    for gen in backend.generate(requests, decoding.batch_size):
        record, prompt = by_id[gen.record_id], prompts[gen.record_id]
        answer = answer_from_generation(task, gen.text, prompt.frame)
        cost = single_cost(gen).row_fields("single", questions[record.id])
        yield generated_row(task, record, prompt, answer, gen, gen.hit_max_new_tokens, cost, score_settings)


def _option_rows(
    backend: Backend, task: Task, records: Sequence[Record], prompts: Mapping[str, Prompt], strategy: ScoringStrategy,
    decoding: DecodingSettings, score_settings: ScoreSettings,
) -> Iterator[PredictionRow]:
    """The best option's label is the answer. One record per call, so each row is written (and
    resumable) as soon as it is scored."""
    for record in records:
        start = time.perf_counter()
        prompt = prompts[record.id]
        options = task.options(record) or ()
        labels = tuple(option_labels(len(options)))
        if strategy == "letter":
            letters = backend.score_letters([LetterRequest(prompt, labels)])[0]
            row = option_row(task, record, prompt, letters.prediction(), strategy, time.perf_counter() - start, score_settings)
            row["letter_logprob"] = letters.logprobs
        else:
            scores = backend.score_options([OptionRequest(prompt, tuple(continuations(options)), labels)])[0]
            label = scores.prediction(decoding.choice_normalization)
            row = option_row(task, record, prompt, label, strategy, time.perf_counter() - start, score_settings)
            row["option_logprob"] = dict(zip(labels, scores.sum_logprob))
            row["option_tokens"] = scores.n_tokens
        yield row


def _request(backend: Backend, prompt: Prompt, wanted: int, stop_strings: tuple[str, ...]) -> GenerationRequest:
    """`wanted` new tokens, fewer if a causal model's window would overflow: a batch's budget grows
    with its question count, and a conversation's prompt with every turn."""
    window = backend.context_window
    budget = wanted if window is None else max(1, min(wanted, window - prompt.n_tokens))
    return GenerationRequest(prompt, budget, stop_strings)


def batch_rows(
    backend: Backend, task: Task, groups: Sequence[Sequence[Record]], settings: PromptSettings,
    decoding: DecodingSettings, score_settings: ScoreSettings,
) -> Iterator[PredictionRow]:
    """One prompt per context, answered with up to max_new_tokens x its question count; rows come out
    context by context, as each generation batch finishes."""
    per_question = decoding.max_new_tokens_for(task.kind)
    builder = PromptBuilder(backend.tokenizer, settings)
    prompts = {group[0].id: (build_batch_prompt(group, builder), group) for group in groups}
    requests = [
        _request(backend, prompt, per_question * len(group), BATCH_STOP_STRINGS) for prompt, group in prompts.values()
    ]
    for gen in backend.generate(requests, decoding.batch_size):
        prompt, group = prompts[gen.record_id]
        parsed = parse_numbered_answers(cut_batch_output(gen.text), len(group))
        cost = batch_cost(gen, len(group)).row_fields("batch", len(group))
        for index, record in enumerate(group):
            answer, error = parsed.answers[index], parsed.errors[index]
            # Cut means: generation hit its budget before this answer's line was finished (or begun).
            hit = gen.hit_max_new_tokens and not parsed.complete[index]
            prediction = "" if answer is None else task.clean_answer(answer)
            row = generated_row(task, record, prompt, prediction, gen, hit, cost, score_settings, error)
            row["parse_extra_lines"] = parsed.extra_lines
            yield row


def sequential_rows(
    backend: Backend, task: Task, groups: Sequence[Sequence[Record]], settings: PromptSettings,
    decoding: DecodingSettings, score_settings: ScoreSettings,
) -> Iterator[PredictionRow]:
    """Turn k of every context in one `generate` call, the model's own answers as history; a
    context's rows come out once its last turn is answered (the accounting needs every turn)."""
    if not groups:
        return  # nothing to ask (every context done)
    per_question = decoding.max_new_tokens_for(task.kind)
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
        requests = [_request(backend, prompt, per_question, task.stop_strings) for _, prompt in asked.values()]
        for gen in backend.generate(requests, decoding.batch_size):
            i, prompt = asked[gen.record_id]
            # The history shows what the model said ('unanswerable' included), as the gold history does.
            said[i].append(cut_at_stops(task, gen.text))
            turns[i].append((prompt, gen))
        for i in active:
            if len(groups[i]) == k + 1:
                yield from _conversation_rows(task, groups[i], turns[i], score_settings)


def _conversation_rows(
    task: Task, group: Sequence[Record], turns: list[tuple[Prompt, Generation]], score_settings: ScoreSettings
) -> Iterator[PredictionRow]:
    cost = sequential_cost([gen for _, gen in turns]).row_fields("sequential", len(group))
    for record, (prompt, gen) in zip(group, turns):
        prediction = answer_from_generation(task, gen.text)
        yield generated_row(task, record, prompt, prediction, gen, gen.hit_max_new_tokens, cost, score_settings)


class Answers(NamedTuple):
    """What `answer_records` gives: the rows, without the aggregates an outcome adds."""

    rows: list[PredictionRow]  # one per record, in record order
    resumed: int  # of them found already done in the folder
    engines: list[dict[str, Any]]  # this session's generation passes (inference.base.engines_used)


@dataclass(frozen=True)
class AnswerPlan:
    """How `answer_records` asks records and scores their answers: the records' kind's Task, the
    prompt settings fitted to the model already (`ResolvedPrompt.fitted`), the decoding and the
    scoring knobs. An evaluation and training's validation metric both hand one in, so a record is
    asked and scored alike in both."""

    task: Task
    prompt: PromptSettings
    decoding: DecodingSettings
    scoring: ScoreSettings


def answer_records(
    plan: AnswerPlan,
    backend: Backend,
    records: Sequence[Record],
    run: RunFolder | None = None,
    progress: Progress | None = None,
) -> Answers:
    """Every record's row, scored by `plan.task` (the records' kind): those `run` holds read back,
    the others asked as `plan.prompt.strategy` says (the functions above) and appended to `run` as
    they come. `backend` generates with `plan.decoding`'s engine (`get_backend` made it so).

    Every strategy writes one row per question. The batch and sequential strategies answer a context
    as a whole, so on resume a context is done only when all its questions are: a partly written one
    is redone, its new rows appended after the old ones (`RunFolder.completed` keeps the last row of an id).
    """
    passes_before = len(backend.engine_passes())
    done = run.completed() if run else {}
    strategy = plan.prompt.strategy
    if strategy == "single":
        answered = single_rows(backend, plan.task, records, done, plan.prompt, plan.decoding, plan.scoring)
    else:
        groups = shared_context_groups(records, strategy, plan.task)
        todo = [group for group in groups if not all(r.id in done for r in group)]
        rows_of = batch_rows if strategy == "batch" else sequential_rows
        answered = rows_of(backend, plan.task, todo, plan.prompt, plan.decoding, plan.scoring)
    fresh: dict[str, PredictionRow] = {}
    for row in answered:
        fresh[row["id"]] = row
        if run:
            run.append_predictions([row])
        if progress and row["id"] not in done:  # a redone row was already counted as done
            progress(1)
    rows = [fresh.get(r.id) or done[r.id] for r in records]
    return Answers(rows, sum(r.id not in fresh for r in records), engines_used(backend.engine_passes()[passes_before:]))
