"""Data validation: a per-case profile and the clinical table, judged by Great Expectations suites.

Python measures (``profile_case``); Great Expectations decides (one expectation per check, run on the
profile table). A case failing any imaging expectation is *quarantined*: kept on disk, listed with its
reasons, excluded downstream. Clinical problems never quarantine a case: it keeps its imaging role and
leaves the survival cohort, with the reason in the report. Every input case appears in the outputs.
"""

from brats_mlops.data.validation.expectations import CLINICAL_CHECKS, IMAGING_CHECKS
from brats_mlops.data.validation.profile import profile_case
from brats_mlops.data.validation.report import render_report, write_outputs
from brats_mlops.data.validation.verdicts import DataValidationError, ValidationResult, stop_message, validate_dataset

__all__ = ["CLINICAL_CHECKS", "IMAGING_CHECKS", "DataValidationError", "ValidationResult", "profile_case", "render_report", "stop_message",
           "validate_dataset", "write_outputs"]
