"""Finished runs and studies sent to experiment trackers (MLflow, W&B, Trackio, TensorBoard), each
through its own client library (an optional extra). Reads folders only; never runs a stage."""
