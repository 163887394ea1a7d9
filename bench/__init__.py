"""Benchmarks: lorabench against naive loops (eval_speed, train_speed) and against its peers (peers)."""
