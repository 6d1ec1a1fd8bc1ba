"""MLflow model registry: log, register and alias models (uses tracking's store)."""
