"""lorabench: LoRA fine-tuning of small language models on QA data, with honest before/after numbers."""

__version__ = "0.1.0"
