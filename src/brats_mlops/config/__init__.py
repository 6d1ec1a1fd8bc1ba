"""Typed params: ``params.yaml`` is read and validated here, nowhere else."""

from brats_mlops.config.schema import (
    DataParams,
    Params,
    ParamsError,
    PathsParams,
    PreprocessParams,
    SplitParams,
    SyntheticParams,
    TrackingParams,
    ValidateParams,
    find_project_root,
    load_params,
)

__all__ = [
    "DataParams",
    "Params",
    "ParamsError",
    "PathsParams",
    "PreprocessParams",
    "SplitParams",
    "SyntheticParams",
    "TrackingParams",
    "ValidateParams",
    "find_project_root",
    "load_params",
]
