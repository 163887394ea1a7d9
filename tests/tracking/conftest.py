"""The tracking tests send copies of one real finished run (tests/finished_run.py)."""

from tests.finished_run import finished_run, run_folder  # noqa: F401  (fixtures)
