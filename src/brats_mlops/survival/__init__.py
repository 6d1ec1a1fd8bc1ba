"""Survival branch building blocks: feature sets, the paper's classifier grids, honest uncertainty.

The `train_autoencoder`, `extract_latents` and `survival` stages that use them are not built yet (issue 4).
"""
