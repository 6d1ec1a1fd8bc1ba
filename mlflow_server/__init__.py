"""Starting and configuring the MLflow tracking server / UI on the project's store."""
