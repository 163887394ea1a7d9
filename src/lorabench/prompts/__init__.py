"""Prompts: the only place that turns records into prompt and target text (single questions, few-shot, templates, batch and sequential strategies)."""
