"""The Streamlit viewer (``brats-mlops viewer``): a registered segmentation model (3-D or 2-D, any version or alias),
optionally a second one beside it, on a dataset case or uploaded NIfTI files — the four modalities with the
prediction overlaid, slice sliders and label toggles, volumes, the ground truth with an error map and the case's
metrics, the survival class with an age, and the prediction as NIfTI in the input's convention.

Runs as ``streamlit run``; the project (params, tracking store, data) is the working directory's.
"""

from __future__ import annotations

import hashlib

import numpy as np
import streamlit as st

from brats_mlops.errors import UserError
from brats_mlops.families import families
from brats_mlops.names import MODALITIES, MODEL_SURVIVAL
from brats_mlops.viewer import logic

SEG_MODELS = tuple(f.registered_name for f in families())  # every segmentation family's registered model
LABELS = {1: "necrotic core (NCR)", 2: "edema (ED)", 3: "enhancing (ET)"}


@st.cache_resource
def _store() -> str:
    from brats_mlops.tracking import use_store

    return use_store()


@st.cache_data(ttl=30, show_spinner=False)
def _versions() -> list[dict]:
    from brats_mlops.registry.promotion import models_overview

    return models_overview([*SEG_MODELS, MODEL_SURVIVAL])


@st.cache_resource(show_spinner="loading the model…")
def _model(uri: str):
    from brats_mlops.registry.common import load_registered

    return load_registered(uri).unwrap_python_model()


@st.cache_data(show_spinner=False)
def _dataset_cases() -> dict[str, str]:
    from brats_mlops.config import load_params
    from brats_mlops.data.readers import discover
    from brats_mlops.tracking import real_project_root

    p = load_params()
    idx = discover(p.data.source, real_project_root() / p.data.root, p.data.modalities)
    return {c.case_id: str(c.folder) for c in idx.cases if not c.problems}


@st.cache_data(show_spinner=False)
def _read_folder(folder: str) -> logic.ViewerCase:
    from pathlib import Path

    return logic.read_case(Path(folder))


@st.cache_data(show_spinner="segmenting…", hash_funcs={logic.ViewerCase: lambda c: (c.case_id, c.images.shape, float(c.images.sum()))})
def _predict(uri: str, case: logic.ViewerCase) -> np.ndarray:
    return _model(uri).labels(case.images, case.spacing)  # every family's pyfunc: (images, spacing) → internal labels


def _refs(rows: list[dict], name: str) -> list[str]:
    aliases = [f"@{a}" for r in rows if r["name"] == name for a in r["aliases"]]
    order = {"@champion": 0, "@challenger": 1, "@previous": 2}
    return sorted(aliases, key=lambda a: order.get(a, 3)) + [f"v{r['version']}" for r in reversed(rows) if r["name"] == name]


def _uri(name: str, ref: str) -> str:
    return f"models:/{name}@{ref[1:]}" if ref.startswith("@") else f"models:/{name}/{ref[1:]}"


def _version(rows: list[dict], name: str, ref: str) -> str:
    return ref[1:] if ref.startswith("v") else next(r["version"] for r in rows if r["name"] == name and ref[1:] in r["aliases"])


def _pick_model(rows: list[dict], names: list[str], key: str, other: str | None = None) -> str:
    """A model and version; with ``other`` (the first pick's URI) the default is another version than that one."""
    name = st.selectbox("model", names, key=f"{key}_name")
    refs = _refs(rows, name)
    index = 0
    if other and other.startswith(f"models:/{name}"):
        ref = other.removeprefix(f"models:/{name}")  # "@alias" or "/version"
        taken = _version(rows, name, ref if ref.startswith("@") else "v" + ref[1:])
        index = next((i for i, r in enumerate(refs) if _version(rows, name, r) != taken), 0)
    ref = st.selectbox("version or alias", refs, index=index, key=f"{key}_ref")
    return _uri(name, ref)


def main() -> None:
    st.set_page_config(page_title="brats_mlops viewer", layout="wide")
    st.title("brats_mlops viewer")
    try:
        _store()
        rows = _versions()
    except UserError as err:
        st.error(str(err))
        st.stop()
    names = [n for n in SEG_MODELS if any(r["name"] == n for r in rows)]
    if not names:
        st.error("no registered segmentation model yet: run `make run` (it registers brats-segmentation @challenger)")
        st.stop()
    with st.sidebar:
        st.header("model")
        uri = _pick_model(rows, names, "a")
        uri2 = None
        if st.checkbox("compare with a second version", value="compare" in st.query_params, key="compare"):  # ?compare=1
            uri2 = _pick_model(rows, names, "b", other=uri)
        st.header("case")
        source = st.radio("from", ["dataset", "upload"], horizontal=True)
        age = st.number_input("age (years): also predict survival", min_value=0.0, max_value=120.0, value=None)
    survival_ok = age is not None and any(r["name"] == MODEL_SURVIVAL for r in rows)
    surv = None
    try:
        if source == "dataset":
            cases = _dataset_cases()
            if not cases:
                st.error("the dataset of params.yaml (data.root) has no readable case")
                st.stop()
            cid = st.sidebar.selectbox("case", sorted(cases))
            case = _read_folder(cases[cid])
            if survival_ok:
                surv = _model(_uri(MODEL_SURVIVAL, _refs(rows, MODEL_SURVIVAL)[0]))  # @champion first when there is one
                surv = surv.predict(None, {"case_dir": cases[cid], "age": float(age)})
        else:
            files = st.sidebar.file_uploader("the NIfTI files of one case (4 modalities, optional seg)", accept_multiple_files=True)
            if not files:
                st.info("upload a case's files (BraTS 2020 `<id>_t1ce.nii.gz` or 2023 `<id>-t1c.nii.gz` naming); they are deleted "
                        "as soon as they are read")
                st.stop()
            data = {f.name: f.getvalue() for f in files}
            key = hashlib.sha1(b"".join(sorted(data.values()))).hexdigest()
            if st.session_state.get("upload_key") != key:
                surv_uri = _uri(MODEL_SURVIVAL, _refs(rows, MODEL_SURVIVAL)[0]) if survival_ok else None
                case, surv = logic.read_uploaded(data, (lambda d: _model(surv_uri).predict(None, {"case_dir": str(d), "age": float(age)}))
                                                 if surv_uri else None)
                st.session_state.update(upload_key=key, upload_case=case, upload_surv=surv)
            case, surv = st.session_state["upload_case"], st.session_state["upload_surv"]
        preds = {u: _predict(u, case) for u in ([uri, uri2] if uri2 else [uri])}
    except (UserError, LookupError, ValueError) as err:
        st.error(str(err))
        st.stop()
    _show(case, preds, surv)


def _show(case: logic.ViewerCase, preds: dict[str, np.ndarray], surv) -> None:
    first = next(iter(preds.values()))
    c1, c2, c3 = st.columns([2, 2, 3])
    view = c1.radio("view", logic.VIEWS, horizontal=True)
    modality = c2.selectbox("modality", MODALITIES, index=MODALITIES.index("flair"))
    n = logic.n_slices(first.shape, view)
    lab = case.gt if case.gt is not None and case.gt.any() else first
    centre = int(np.argwhere(lab > 0).mean(0)[{"axial": 2, "coronal": 1, "sagittal": 0}[view]]) if lab.any() else n // 2
    idx = c3.slider("slice", 0, n - 1, centre)
    show = {k for k, name in LABELS.items() if st.sidebar.checkbox(name, value=True, key=f"show{k}")}
    image = case.images[MODALITIES.index(modality)]
    st.subheader(f"{case.case_id} — {view} slice {idx}")
    st.image([logic.overlay(logic.slice_of(case.images[i], view, idx), logic.slice_of(first, view, idx), show) for i in range(4)],
             caption=[f"{m} + {next(iter(preds))}" for m in MODALITIES], width=220)
    cols = st.columns(len(preds) + (2 if case.gt is not None else 0))
    for col, (u, p) in zip(cols, preds.items()):
        col.image(logic.overlay(logic.slice_of(image, view, idx), logic.slice_of(p, view, idx), show), caption=f"prediction: {u}",
                  width="stretch")
    if case.gt is not None:
        cols[len(preds)].image(logic.overlay(logic.slice_of(image, view, idx), logic.slice_of(case.gt, view, idx), show),
                               caption="ground truth", width="stretch")
        cols[len(preds) + 1].image(logic.error_map(logic.slice_of(image, view, idx), logic.slice_of(first, view, idx),
                                                   logic.slice_of(case.gt, view, idx)),
                                   caption="error map (whole tumour): white TP, red FP, blue FN", width="stretch")
    rows = []
    for u, p in preds.items():
        row = {"model": u, **{f"{k} cm³": round(v, 2) for k, v in logic.volumes_cm3(p, case.spacing, case.source).items()}}
        if case.gt is not None:
            row.update({k: round(v, 4) for k, v in logic.case_scores(p, case.gt, case.spacing, case.source).items()})
        rows.append(row)
    st.subheader("metrics" if case.gt is not None else "volumes")
    import pandas as pd

    st.table(pd.DataFrame(rows).set_index("model"))
    if surv is not None:
        r = surv.iloc[0]
        st.success(f"survival: {r['class_name']} (p = {float(r['probability']):.2f})")
    for u, p in preds.items():
        st.download_button(f"download the prediction of {u} (NIfTI, {case.source} labels)", logic.nifti_bytes(p, case),
                           file_name=f"{case.case_id}_seg.nii.gz", key=f"dl{u}")


main()
