"""Figures and tables for reports and MLflow artifacts."""
