"""Optuna studies over loss weights and classifier grids, each trial a nested MLflow run (see ``study``)."""
