"""Evaluation: batched greedy generation over prompts, then scoring against the records' golds."""
