"""The generation guards: one consistent reading of cut answers, and silence where nothing was generated."""

from __future__ import annotations

from lorabench.cli.common import FLAGS, as_flags
from lorabench.comparison.guards import CUT_WARN_SHARE, Finding, answers_cut, applicable, eos_learned, generation_guards
from lorabench.results import GuardResult
from lorabench.runs.predictions import generated


def _rows(n: int, cut: int, stop_reason: str = "eos") -> list[dict]:
    return [{"id": str(i), "hit_max_new_tokens": i < cut, "stop_reason": "max_new_tokens" if i < cut else stop_reason}
            for i in range(n)]


def test_many_cut_answers_in_both_models_warn_in_both_guards():
    # 43% of base and 50% of tuned answers cut: answers_cut warns, so eos_learned must not say "ok".
    base, tuned = _rows(100, 43), _rows(100, 50)
    cut, eos = answers_cut(base, tuned, 32), eos_learned(base, tuned)
    assert not cut.ok and "base 43%, tuned 50%" in cut.message
    assert not eos.ok, eos.message
    assert eos.message.startswith("not judged:") and "50%" in eos.message and "43%" in eos.message
    assert "as often as base" not in eos.message and eos.details["judged"] is False


def test_eos_learned_judges_only_when_the_tuned_answers_are_rarely_cut():
    base, tuned = _rows(100, 0), _rows(100, 40)
    assert not eos_learned(base, tuned).ok and "did not learn to stop" in eos_learned(base, tuned).message
    ok = eos_learned(_rows(100, 2), _rows(100, 3))
    assert ok.ok and ok.message == "the tuned model stops on its own as often as base (3% vs 2% cut)"
    better = eos_learned(_rows(100, 43), _rows(100, 1))
    assert better.ok and "more often than base (1% vs 43% cut)" in better.message
    # the threshold is answers_cut's: at it both pass, above it both warn
    at = round(100 * CUT_WARN_SHARE)
    assert answers_cut(_rows(100, at), _rows(100, at), 8).ok and eos_learned(_rows(100, at), _rows(100, at)).ok
    assert not answers_cut(_rows(100, at), _rows(100, at + 1), 8).ok
    assert not eos_learned(_rows(100, at), _rows(100, at + 1)).ok


def test_scored_choices_get_no_generation_guards():
    for mode in ("logprob", "letter"):
        scored = _rows(10, 0, stop_reason=mode)
        assert not generated(scored)
        assert generation_guards(scored, scored, 8) == []
    generating = _rows(10, 1)  # choice_mode generate, or any generating task
    assert generated(generating)
    assert [f.name for f in generation_guards(generating, generating, 8)] == ["answers_cut", "eos_learned"]


def test_applicable_hides_generation_guards_stored_by_older_runs():
    stored = [{"name": n, "ok": True, "message": "m", "details": {}}
              for n in ("format_mismatch", "adapter_applied", "answers_cut", "eos_learned")]
    assert [g["name"] for g in applicable(stored, generated_text=False)] == ["format_mismatch", "adapter_applied"]
    assert applicable(stored, generated_text=True) == stored
    findings = [Finding("answers_cut", True, "m"), Finding("format_mismatch", True, "m")]
    assert [f.name for f in applicable(findings, generated_text=False)] == ["format_mismatch"]


def test_the_format_guard_names_the_first_differing_line_and_an_allowed_change():
    from lorabench.data.synth import synthesize
    from lorabench.comparison.guards import format_mismatch
    from lorabench.comparison.prompt_change import prompt_difference
    from lorabench.prompts.build import PromptSettings
    from tests.tiny_models import build_seq2seq_tokenizer

    tokenizer, records = build_seq2seq_tokenizer(), synthesize("math", 3, seed=0)
    trained, now = PromptSettings(), PromptSettings(answer_prefix="The answer is")
    difference = prompt_difference(records, tokenizer, trained, now)
    assert (difference.record_id, difference.part, difference.line) == (records[0].id, "prompt", 4)
    assert (difference.trained, difference.now) == ("Answer:", "The answer is")
    assert difference.describe().startswith('first differing line: trained "Answer:" vs now "The answer is"')
    target = prompt_difference(records, tokenizer, trained, PromptSettings(target_template="{{ answer }}\nDone."))
    assert target.part == "target" and target.now == "Done." and target.trained.startswith("(no such line")
    assert prompt_difference(records, tokenizer, trained, PromptSettings()) is None
    finding = format_mismatch(records, tokenizer, trained, now, allowed=True)
    assert not finding.ok and 'trained "Answer:" vs now "The answer is"' in finding.message
    # `lorabench run` words the setting as its option; the library names the setting itself
    assert as_flags(finding.message, FLAGS).endswith("evaluated anyway, as --allow-prompt-change asked")
    assert finding.details["allowed"]
    assert finding.message.endswith("evaluated anyway, as allow_prompt_change=True asked")
    # the API's result keeps the setting, so the command's console still names its option
    kept = GuardResult.model_validate(finding.to_dict()).message
    assert as_flags(kept, FLAGS).endswith("as --allow-prompt-change asked")


def test_a_runs_format_guard_is_worded_from_the_difference_found_at_its_start(tmp_path):
    import torch
    from safetensors.torch import save_file

    from lorabench.comparison.guards import format_mismatch, run_guards
    from lorabench.comparison.prompt_change import PromptDifference
    from lorabench.data.synth import synthesize
    from lorabench.prompts.build import PromptSettings

    save_file({"base.lora_B.weight": torch.ones(2, 2)}, str(tmp_path / "adapter_model.safetensors"))
    base = [{**row, "prediction": "base"} for row in _rows(4, 0)]
    rows = [{**row, "prediction": "tuned"} for row in _rows(4, 0)]
    same = run_guards(None, 4, tmp_path, base, rows, 8)
    assert [f.name for f in same] == ["format_mismatch", "adapter_applied", "answers_cut", "eos_learned"]
    assert all(f.ok for f in same) and same[0].message == "evaluation prompts equal training prompts on all 4 items"
    changed = PromptDifference("q1", "prompt", 2, "Answer:", "Reply:")
    (kept, *_) = run_guards(changed, 4, tmp_path, base, rows, 8)
    assert not kept.ok and changed.describe() in kept.message and kept.details["allowed"]
    assert kept.message.endswith("evaluated anyway, as allow_prompt_change=True asked")
    # a strategy change reads as format_mismatch words it from the settings themselves
    records = synthesize("extractive", 2, seed=0)
    drift = PromptDifference(records[0].id, "prompt.strategy", 1, "batch", "single")
    (strategy, *_) = run_guards(drift, 2, tmp_path, base, rows, 8)
    expected = format_mismatch(records, None, PromptSettings(strategy="batch"), PromptSettings(), allowed=True)
    assert strategy.to_dict() == expected.to_dict()
