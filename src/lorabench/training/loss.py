"""The answer-only loss: LM-head logits only where a label is learned (prompt tokens cost no vocabulary projection)."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from lorabench.training.examples import IGNORE_INDEX

# ---- answer-only logits ---------------------------------------------------------------------------


class AnswerOnlyHead:
    """Applies a causal LM's output head only at positions whose next label is learned.

    A forward pre-hook narrows the head's input from (batch, length, hidden) to the gathered
    (1, n_learned, hidden) states, inside the model's own forward: whatever the model does after its
    head (Gemma's final_logit_softcapping, logit scaling) then applies to those rows unchanged, and
    the call still goes through the DDP and peft wrappers, so gradient sync keeps working. The loss
    equals the full-logits loss; the (batch, length, vocab) logits tensor is never built.
    """

    def __init__(self, head: torch.nn.Module) -> None:
        self._keep: torch.Tensor | None = None
        self._did_narrow = False
        self._handle = head.register_forward_pre_hook(self._narrow)

    @classmethod
    def attach(cls, model: Any) -> "AnswerOnlyHead | None":
        """Hook `model`'s head; None for models it cannot serve (encoder-decoders, no output head)."""
        base = model.get_base_model() if hasattr(model, "get_base_model") else model
        if getattr(base.config, "is_encoder_decoder", False):
            return None
        head = base.get_output_embeddings() if hasattr(base, "get_output_embeddings") else None
        return cls(head) if isinstance(head, torch.nn.Module) else None

    def close(self) -> None:
        self._handle.remove()

    def _narrow(self, module: torch.nn.Module, args: tuple[Any, ...]) -> tuple[Any, ...] | None:
        if self._keep is None or not args:
            return None  # generation and other forwards see the ordinary head
        hidden = args[0]
        if not torch.is_tensor(hidden) or hidden.dim() != 3 or hidden.shape[:2] != self._keep.shape:
            return None  # a model that feeds its head something else: leave it whole (see `loss`)
        self._did_narrow = True
        return (hidden[self._keep].unsqueeze(0), *args[1:])

    def loss(
        self, model: Any, inputs: dict[str, torch.Tensor], num_items_in_batch: torch.Tensor | int | None = None
    ) -> tuple[torch.Tensor, Any]:
        """Cross-entropy over learned tokens: summed and divided by `num_items_in_batch` when given
        (the whole accumulated batch, as transformers' own loss does), else averaged."""
        labels = inputs["labels"]
        targets = labels[:, 1:]
        learned = targets != IGNORE_INDEX
        keep = torch.zeros_like(labels, dtype=torch.bool)
        keep[:, :-1] = learned  # hidden state t predicts label t + 1
        self._keep, self._did_narrow = keep, False
        try:
            outputs = model(**{k: v for k, v in inputs.items() if k != "labels"}, use_cache=False)
        finally:
            self._keep = None
        logits = outputs.logits
        # Normally (1, n_learned, vocab); full (batch, length, vocab) logits if the hook had to step aside.
        logits = logits.reshape(-1, logits.shape[-1]) if self._did_narrow else logits[:, :-1][learned]
        total = F.cross_entropy(logits.float(), targets[learned], reduction="sum")
        if num_items_in_batch is None:
            return total / learned.sum().clamp(min=1), outputs
        return total / num_items_in_batch, outputs
