from lorabench.data.loaders import load_records
from lorabench.config.demo import DEMO_MODEL, demo_config


def test_demo_config_is_valid_and_its_data_is_generated(tmp_path):
    config = demo_config(tmp_path)
    assert config.model.name == DEMO_MODEL
    assert config.task.value == "extractive"
    records = load_records(config.data.source).records
    assert len(records) == 125
    assert config.data.split.test == 50
    # the same call makes the same data: the demo is reproducible
    again = demo_config(tmp_path / "again")
    assert (tmp_path / "synth_extractive.jsonl").read_bytes() == (tmp_path / "again" / "synth_extractive.jsonl").read_bytes()
    assert again.training.seed == config.training.seed
