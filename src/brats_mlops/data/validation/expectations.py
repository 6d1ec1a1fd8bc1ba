"""The checks as Great Expectations suites: one expectation per check, run on the profile table."""

from __future__ import annotations

import numpy as np
import pandas as pd

# check name -> (column, kind, description). Order is the report's order.
IMAGING_CHECKS: dict[str, tuple[str, str, str]] = {
    "modalities_present": ("n_missing", "zero", "every configured modality (and, if labelled, the seg) has a file"),
    "files_readable": ("n_unreadable", "zero", "every file opens and decodes"),
    "shapes_agree": ("shapes_agree", "true", "all modalities and the seg have one shape"),
    "affines_agree": ("affines_agree", "true", "all modalities and the seg have one affine"),
    "finite_voxels": ("n_nonfinite", "zero", "no NaN or Inf voxel"),
    "images_not_empty": ("min_nonzero_fraction", "min", "every modality has enough non-zero voxels"),
    "labels_in_scheme": ("n_unexpected_labels", "zero", "seg values are in the source's label scheme"),
    "seg_not_empty": ("seg_empty", "false", "a labelled case's seg contains tumour"),
    "case_id_unique": ("case_id", "unique", "case ids are unique"),
}
CLINICAL_CHECKS: dict[str, tuple[str, str, str]] = {
    "row_id_unique": ("case_id", "unique", "one row per id"),
    "row_has_case_folder": ("has_case_folder", "true", "every row has a case folder"),
    "age_present": ("age", "not_null", "age is given"),
    "age_in_range": ("age", "range", "age within validate.age_range"),
    "survival_parsed": ("survival_parse_ok", "true", "Survival_days is a number or 'ALIVE (N days later)'"),
    "resection_known": ("resection", "set", "Extent_of_Resection in validate.resection_values"),
}


def gx_run(df: pd.DataFrame, checks: dict[str, tuple[str, str, str]], suite_name: str, bounds: dict) -> tuple[dict[str, list[str]], dict]:
    """Run one expectation per check on ``df``; returns ``(failing ids per check, GX result json)``."""
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    ctx = gx.get_context(mode="ephemeral")
    ctx.variables.progress_bars = ProgressBarsConfig(globally=False)
    asset = ctx.data_sources.add_pandas(f"{suite_name}_source").add_dataframe_asset(suite_name)
    batch = asset.add_batch_definition_whole_dataframe("all_rows")
    suite = ctx.suites.add(gx.ExpectationSuite(name=suite_name))
    E = gx.expectations
    for check, (col, kind, desc) in checks.items():
        meta = {"check": check, "description": desc}
        if kind == "zero":
            exp = E.ExpectColumnValuesToBeBetween(column=col, min_value=0, max_value=0, meta=meta)
        elif kind == "true":
            exp = E.ExpectColumnValuesToBeInSet(column=col, value_set=[True], meta=meta)
        elif kind == "false":
            exp = E.ExpectColumnValuesToBeInSet(column=col, value_set=[False], meta=meta)
        elif kind == "min":
            exp = E.ExpectColumnValuesToBeBetween(column=col, min_value=bounds[check], max_value=1.0, meta=meta)
        elif kind == "range":
            lo, hi = bounds[check]
            exp = E.ExpectColumnValuesToBeBetween(column=col, min_value=lo, max_value=hi, meta=meta)
        elif kind == "set":
            exp = E.ExpectColumnValuesToBeInSet(column=col, value_set=list(bounds[check]), meta=meta)
        elif kind == "not_null":
            exp = E.ExpectColumnValuesToNotBeNull(column=col, meta=meta)
        elif kind == "unique":
            exp = E.ExpectColumnValuesToBeUnique(column=col, meta=meta)
        else:  # pragma: no cover - programming error
            raise ValueError(kind)
        suite.add_expectation(exp)
    vd = ctx.validation_definitions.add(gx.ValidationDefinition(name=f"{suite_name}_validation", data=batch, suite=suite))
    data = df.reset_index(drop=True).copy()
    data["_row"] = np.arange(len(data))
    res = vd.run(
        batch_parameters={"dataframe": data},
        result_format={"result_format": "COMPLETE", "unexpected_index_column_names": ["_row"]},
    )
    failing: dict[str, list[int]] = {}
    for r in res.results:
        check = r.expectation_config.meta["check"]
        rows = [int(u["_row"]) for u in (r.result.get("unexpected_index_list") or [])]
        if r.exception_info and r.exception_info.get("raised_exception"):
            raise RuntimeError(f"Great Expectations failed on check {check}: {r.exception_info.get('exception_message')}")
        failing[check] = sorted(set(rows))
    return failing, res.to_json_dict()
