"""Comparing evaluations: paired statistics, per-item differences, guards against fine-tuning mistakes, lm-eval output files."""
