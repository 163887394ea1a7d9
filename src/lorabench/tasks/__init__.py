"""Task kinds: one module per kind owns everything about it (its record class and its `Task`).

Adding a kind is one new module, here or in a package of your own, plus its entry point in the
`lorabench.tasks` group (pyproject.toml); `core.kinds` finds it there.
"""

from lorabench.core.kinds import KINDS, ByKind, Task, TaskKind, get_task

__all__ = ["KINDS", "ByKind", "Task", "TaskKind", "get_task"]
