"""Few-shot examples: k solved training items shown before every item, in training and evaluation.

They are drawn once, with a seed, from the training split (never from test or validation), saved
with the prompt settings (so the adapter's lorabench.json holds them) and shown before each item:
as earlier user/assistant turns under a chat template, or as inline blocks written like the item.
One item more than k is drawn: a training item that is itself a shot gets this stand-in in its
place, so no prompt shows the very item it asks about.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from pydantic import ValidationError

from lorabench.config.prompt import FewShotSettings, PromptSettings  # noqa: F401 (the settings models, importable from here too)
from lorabench.data.records import Record, task_row
from lorabench.core.errors import LorabenchError
from lorabench.core.kinds import Task
from lorabench.core.messages import Hint, Message


def draw_examples(train: Sequence[Record], settings: FewShotSettings, task: Task) -> FewShotSettings:
    """`settings` with k + 1 examples drawn from `train` (k shots and the stand-in), saved as rows
    of `task`, the records' Task."""
    return _with_examples(settings, _draw(train, settings), task)


def draw_shots(prompt: PromptSettings, train: Sequence[Record], task: Task) -> tuple[PromptSettings, list[Record]]:
    """The prompt settings with their few-shot examples drawn from the training split, records of
    `task` (as they are when drawn already), and those examples as records, which a run checks
    against its test items (none without few_shot). A run draws before data.train_size trims the
    split, so that runs of every training size show the same examples."""
    few_shot = prompt.few_shot
    if few_shot is None:
        return prompt, []
    if few_shot.drawn:
        return prompt, example_records(few_shot, task.record_type)
    shots = _draw(train, few_shot)
    return prompt.model_copy(update={"few_shot": _with_examples(few_shot, shots, task)}), shots


def _draw(train: Sequence[Record], settings: FewShotSettings) -> list[Record]:
    wanted = settings.k + 1
    if len(train) < wanted:
        raise LorabenchError(
            f"prompt.few_shot.k: {settings.k} shots need at least {wanted} training items (the shots and one to "
            f"stand in for a shot in its own prompt); the training split has {len(train)}"
        )
    return [train[i] for i in random.Random(settings.seed).sample(range(len(train)), wanted)]


def _with_examples(settings: FewShotSettings, shots: list[Record], task: Task) -> FewShotSettings:
    return settings.model_copy(update={"examples": [task_row(task, shot, extra=True) for shot in shots]})


def example_records(settings: FewShotSettings, model: type[Record]) -> list[Record]:
    """The drawn examples as records of `model`, the kind's record class (its Task's record_type)."""
    records = []
    for number, row in enumerate(settings.examples):
        try:
            records.append(model.model_validate(row))
        except ValidationError as error:
            first = error.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise LorabenchError(
                f"prompt.few_shot.examples.{number}: not a {model.task.value} record ({where}: {first['msg']})"
            ) from None
    return records


def drawn_records(settings: FewShotSettings, model: type[Record]) -> list[Record]:
    """The drawn examples (the k shots and the stand-in) as records of `model`; refused before the draw."""
    if not settings.drawn:
        raise LorabenchError(Message(
            "prompt.few_shot: no examples drawn yet; `run` and `train` draw them from the training split, "
            "`eval` takes them from ", Hint("few_shot_from", "FILE"), " or from the adapter",
        ))
    return example_records(settings, model)


def pick_shots(record: Record, examples: Sequence[Record], k: int) -> list[int]:
    """Which of the drawn `examples` (their positions) `record`'s prompt shows: the first k, with the
    stand-in replacing `record` itself when it is one of them."""
    return [i for i, shot in enumerate(examples) if shot != record][:k]


def shots_for(record: Record, settings: FewShotSettings) -> list[Record]:
    """The k examples `record`'s prompt shows (see pick_shots)."""
    examples = drawn_records(settings, type(record))
    return [examples[i] for i in pick_shots(record, examples, settings.k)]


def shot_ids(settings: FewShotSettings) -> list[str]:
    return [str(row.get("id")) for row in settings.examples]
