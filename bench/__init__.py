"""Benchmarks (never timed tests): ratios against a baseline measured in the same process."""
