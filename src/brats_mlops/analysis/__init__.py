"""Analyses of learned representations (bottleneck PCA and its collapse statistics)."""
