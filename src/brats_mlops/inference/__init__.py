"""Inference on whole cases in their original geometry."""
