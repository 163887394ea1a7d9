import pytest

from lorabench.core.kinds import get_task
from lorabench.data.records import TaskKind
from lorabench.prompts.answers import answer_from_generation


@pytest.mark.parametrize(
    "task, generated, answer",
    [
        (TaskKind.extractive, " 1842\nQuestion: next", "1842"),
        (TaskKind.extractive, "\n1842\nmore", "1842"),
        (TaskKind.extractive, "Unanswerable.", ""),
        (TaskKind.math, "3 + 4 = 7\n#### 7\n\nQuestion: 5 + 5?", "3 + 4 = 7\n#### 7"),
        (TaskKind.open, "A river town.\n\nInstruction: next", "A river town."),
    ],
)
def test_answer_from_generation(task, generated, answer):
    assert answer_from_generation(get_task(task), generated) == answer
