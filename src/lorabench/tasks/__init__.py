"""Task kinds: one module per kind owns everything about it; `registry` maps names to them.

Adding a kind is one new module here (a `TASK = Task(...)`) plus its line in `registry.KINDS`.
"""

from lorabench.core.kinds import KINDS, ByKind, Task, TaskKind, get_task

__all__ = ["KINDS", "ByKind", "Task", "TaskKind", "get_task"]
