"""Task records, loaders, splits, leakage checks and synthetic data."""
