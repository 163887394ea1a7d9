"""The run folder on disk: what is written where, the prediction rows, resuming."""
