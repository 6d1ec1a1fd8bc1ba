"""Command line (`brats-mlops`): argument parsing only; the work is done by library functions."""
