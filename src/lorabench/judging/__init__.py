"""Judging open answers with a judge model: correctness against the gold and base-vs-tuned preference,
paired, position-swapped, cached, and checked before it is believed.

answers.py is the entry point (`judge_answers`); the package itself imports nothing, so a report
reading judge.json never imports torch.
"""
