"""Pure metric functions: per-item scores in, aggregates with 95% intervals out."""
