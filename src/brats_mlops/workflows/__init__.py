"""Stage workflows: what a DVC stage does, as one library function its ``pipelines/*.py`` module calls."""
