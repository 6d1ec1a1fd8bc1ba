"""Data: readers of the supported layouts, the synthetic generator, validation, preprocessing, splits."""
