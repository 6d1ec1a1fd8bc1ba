"""Training loops (segmentation; autoencoder in a later issue), resumable and deterministic on CPU."""
