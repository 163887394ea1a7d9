"""The run configuration: every settings model, loading YAML, `--set` overrides, other tools' key names, trainer arguments."""
