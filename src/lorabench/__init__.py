"""lorabench: LoRA fine-tuning of small language models on QA data, with honest before/after numbers."""

from lorabench.core.version import __version__

__all__ = ["__version__"]
