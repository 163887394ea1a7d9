"""preview_prompts: the first items of the split `run` would use, rendered without weights or writes."""

from __future__ import annotations

from lorabench.config.run import RunConfig
from lorabench.data.records import save_records
from lorabench.data.synth import synthesize
from lorabench.pipeline.preview import preview_prompts
from lorabench.pipeline.run import split_data


def test_the_preview_shows_the_first_items_of_the_split_run_uses(tiny_causal_path, tmp_path):
    data = save_records(synthesize("extractive", 12, seed=2, short_passages=True), tmp_path / "qa.jsonl")
    config = RunConfig.model_validate({
        "model": str(tiny_causal_path), "task": "extractive", "decoding": {"max_new_tokens": 6},
        "data": {"source": str(data), "split": {"test": 4, "validation": 0}}, "out": str(tmp_path / "never"),
    })
    splits = split_data(config, lambda message: None)
    preview = preview_prompts(config, "test", 2, lambda message: None)
    assert preview.split == "test" and preview.total == len(splits.test) > 2
    assert [view.record_id for view in preview.items] == [record.id for record in splits.test[:2]]
    assert preview.chat  # the tiny model has a chat template
    for view in preview.items:
        assert view.max_new_tokens == 6 and view.scored_options == () and not view.shortened
        assert view.learned_text.strip() and view.prompt_tokens > 0
    assert len(preview_prompts(config, "train", 100, lambda message: None).items) == len(splits.train)
    assert not (tmp_path / "never").exists()  # nothing written
