"""What both evaluation cases do: lorabench's prompts, then lm-eval's request loop and lorabench's
evaluation loop on them, each warmed up and then timed on its own."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from lm_eval.api.instance import Instance
from lm_eval.models.huggingface import HFLM

from bench.peers.model import DEVICE, model_folder, timed
from bench.peers.result import CaseResult, Outputs, Target
from lorabench.data.records import Record
from lorabench.evaluation.runner import EvalOutcome, evaluate_records
from lorabench.config.decoding import DecodingSettings
from lorabench.metrics.scoring import ScoreSettings
from lorabench.models.load import LoadedModel
from lorabench.prompts.build import Prompt, PromptSettings, build_prompt, fit_to_model


def lorabench_prompts(loaded: LoadedModel, records: Sequence[Record], decoding: DecodingSettings) -> list[Prompt]:
    """The prompts `evaluate_records` builds (default settings, fitted to the model's window)."""
    fitted = fit_to_model(PromptSettings(), loaded.model, decoding.max_new_tokens_for(records[0].task))
    return [build_prompt(record, loaded.tokenizer, fitted) for record in records]


@dataclass
class BothRuns:
    peer: HFLM
    method: str
    peer_output: list[Any]
    peer_seconds: float
    outcome: EvalOutcome
    lorabench_seconds: float
    dtype: str = "float32"

    def result(
        self, case: str, items: str, agreement: str, required_flops: float, target: Target, identical: float,
        notes: list[str], outputs: Outputs,
    ) -> CaseResult:
        peer = f"lm-eval HFLM.{self.method}, batch {self.peer.batch_size}"
        return CaseResult(
            case, items, peer, self.peer_seconds, self.lorabench_seconds, agreement, required_flops, target,
            identical, notes, dtype=self.dtype, outputs=outputs,
        )


def run_both(
    loaded: LoadedModel,
    records: Sequence[Record],
    decoding: DecodingSettings,
    instances: list[Instance],
    method: Literal["loglikelihood", "generate_until"],
    warm_up: tuple[int, int],
) -> BothRuns:
    """lm-eval's `method` on `instances` (an HFLM on the same weights in the dtype `loaded` has, batch
    `decoding.batch_size`), then `evaluate_records` on `records`; `warm_up` is (instances, records) run
    untimed first."""
    dtype = str(loaded.dtype).removeprefix("torch.")
    peer = HFLM(pretrained=str(model_folder()), device=DEVICE, dtype=dtype, batch_size=decoding.batch_size)
    call = getattr(peer, method)
    call(instances[: warm_up[0]], disable_tqdm=True)
    evaluate_records(loaded, records[: warm_up[1]], PromptSettings(), decoding, ScoreSettings())
    output, peer_seconds = timed(lambda: call(instances, disable_tqdm=True))
    outcome, seconds = timed(lambda: evaluate_records(loaded, records, PromptSettings(), decoding, ScoreSettings()))
    return BothRuns(peer, method, output, peer_seconds, outcome, seconds, dtype)
