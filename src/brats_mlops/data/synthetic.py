"""Synthetic BraTS-format data: brains with tumours, written in the exact BraTS 2020 layout.

Anatomy
    Tissue maps come from the MNI152 2009a grey/white-matter templates that ship inside the nilearn
    wheel (read from its package data, no download); ``template="procedural"`` (or nilearn missing)
    uses nested ellipsoids instead. Each case gets a random affine (scale ±8 %, rotation ±6°, shift ±4 mm).

Tumour
    A main lesion at a random white-matter position: necrotic core (raw label 1) inside an enhancing rim (4)
    inside edema (2), each a rotated ellipsoid whose boundary is deformed by its own smooth random fields
    (lobulated, irregular; ``irregularity`` scales them), edema spreading further into white matter; 10 % of
    main lesions have no necrotic core. ``multifocal_fraction`` of cases get 1-2 further, separate and smaller
    lesions (half of them with a core); ``satellite_fraction`` of cases get 1-3 small enhancing foci (3.5-6.5 mm
    radius) a few mm outside the tumour — lesions that lesion-wise metrics count and dust removal may delete.
    Per modality (relative to white matter = 1): core dark on T1, rim bright on T1ce, edema bright on
    T2 and FLAIR — see ``CONTRAST``, each tumour contrast scaled per case (``CONTRAST_JITTER``: ±15 % on T2,
    so edema and CSF overlap there, ±8 % elsewhere). Then a multiplicative bias field and Gaussian noise in the brain.

Survival (hazard model, documented for the survival branch's known answer)
    Weibull proportional hazards, shape ``k = 2``::

        lp = 0.035 (age - 60) + 1.2 ln(V_WT / 70 cm³) + 3.0 (f_ET - 0.25) + 1.0 (0.4 - d)
        T  = 370 / ln(2)^(1/k) · (-ln U)^(1/k) · exp(-lp / k),   U ~ Uniform(0, 1)

    with V_WT the whole-tumour volume (all lesions), f_ET the enhancing share of the whole tumour and d the distance of
    the main lesion's centre from the brain centre as a fraction of the brain half-width (deep tumours are worse).
    The median survival at lp = 0 is 370 days (the paper's split). A fraction of rows becomes
    ``ALIVE (C days later)`` with C < T (censored), a fraction has an empty Age.
"""

from __future__ import annotations

import csv
import importlib.util
import math
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path

import cc3d
import nibabel as nib
import numpy as np
from scipy import ndimage

from brats_mlops.config.schema import SyntheticParams
from brats_mlops.names import MODALITIES
from brats_mlops.utils.progress import progress

TRAIN_DIR = "MICCAI_BraTS2020_TrainingData"
VAL_DIR = "MICCAI_BraTS2020_ValidationData"

# Mean intensity per tissue and modality, relative units (then scaled by MODALITY_SCALE).
CONTRAST = {
    #          csf   gm    wm    necrosis(1) edema(2) enhancing(4)
    "t1":    (0.30, 0.65, 1.00, 0.22, 0.55, 0.70),
    "t1ce":  (0.30, 0.65, 1.00, 0.25, 0.60, 1.60),
    "t2":    (1.60, 0.90, 0.60, 1.40, 1.35, 0.95),
    "flair": (0.35, 0.95, 0.75, 0.60, 1.70, 1.10),
}
# Edema radius of the main lesion (mm). The lower bound was 16 mm with one spherical tumour per case; with
# irregular, multifocal tumours the smallest main lesions (< ~25 cm3, a few hundred 3 mm voxels) were where the
# 6-epoch CPU default failed (held-out WT Dice 0.35-0.49 on such cases), so the default keeps main lesions >= 20 mm.
MAIN_RADIUS_MM = (20.0, 36.0)
CONTRAST_JITTER = {"t1": 0.08, "t1ce": 0.08, "t2": 0.15, "flair": 0.08}  # per-case tumour contrast: x U(1 - j, 1 + j)
MODALITY_SCALE = {"t1": 800.0, "t1ce": 1000.0, "t2": 1200.0, "flair": 700.0}
HAZARD = {"age": 0.035, "log_volume": 1.2, "enhancing_fraction": 3.0, "depth": 1.0, "shape_k": 2.0, "median_days": 370.0}


@dataclass
class CaseTruth:
    """What the generator knows about a case (written to ``synthetic_ground_truth.csv``)."""

    case_id: str
    split: str
    age: float
    wt_cm3: float
    tc_cm3: float
    et_cm3: float
    enhancing_fraction: float
    depth: float
    linear_predictor: float
    survival_days: float
    n_lesions: int = 1  # separate lesions (multifocal cases: 2-3)
    n_satellites: int = 0  # small enhancing foci beside the main lesion


# --------------------------------------------------------------------------- template
def _nilearn_data_dir() -> Path | None:
    spec = importlib.util.find_spec("nilearn")
    if spec is None or not spec.submodule_search_locations:
        return None
    d = Path(list(spec.submodule_search_locations)[0]) / "datasets" / "data"
    return d if (d / "mni_icbm152_gm_tal_nlin_sym_09a_converted.nii.gz").is_file() else None


@lru_cache(maxsize=2)
def load_template(kind: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Tissue probability maps ``(csf, gm, wm)`` on a 1 mm grid, plus the grid spacing (mm)."""
    d = _nilearn_data_dir() if kind == "mni152" else None
    if d is not None:
        gm = nib.load(d / "mni_icbm152_gm_tal_nlin_sym_09a_converted.nii.gz").get_fdata(dtype=np.float64)
        wm = nib.load(d / "mni_icbm152_wm_tal_nlin_sym_09a_converted.nii.gz").get_fdata(dtype=np.float64)
        t1 = nib.load(d / "mni_icbm152_t1_tal_nlin_sym_09a_converted.nii.gz").get_fdata(dtype=np.float64)
        brain = ndimage.binary_fill_holes((gm + wm) > 0.2)
        brain = ndimage.binary_closing(brain, iterations=2) | ((t1 > 0.05 * t1.max()) & ndimage.binary_dilation(brain, iterations=3))
        csf = np.clip(brain.astype(np.float64) - gm - wm, 0.0, 1.0)
        return csf, np.clip(gm, 0, 1), np.clip(wm, 0, 1), 1.0
    # procedural fallback: ellipsoidal brain, cortex shell, ventricles
    shape = (140, 172, 140)
    g = np.stack(np.meshgrid(*[np.linspace(-1, 1, s, dtype=np.float64) for s in shape], indexing="ij"))
    r = np.sqrt((g**2).sum(0))
    brain = (r < 0.92).astype(np.float64)
    vent = ((g[0] / 0.12) ** 2 + (g[1] / 0.35) ** 2 + (g[2] / 0.18) ** 2 < 1).astype(np.float64)
    gm = ((r > 0.78) & (r < 0.92)).astype(np.float64)
    csf = np.clip(vent + (r > 0.88) * brain, 0, 1)
    wm = np.clip(brain - gm - csf, 0, 1)
    return ndimage.gaussian_filter(csf, 1), ndimage.gaussian_filter(gm, 1), ndimage.gaussian_filter(wm, 1), 1.0


def _rotation(rng: np.random.Generator, max_deg: float) -> np.ndarray:
    a, b, c = np.deg2rad(rng.uniform(-max_deg, max_deg, 3))
    rx = np.array([[1, 0, 0], [0, math.cos(a), -math.sin(a)], [0, math.sin(a), math.cos(a)]])
    ry = np.array([[math.cos(b), 0, math.sin(b)], [0, 1, 0], [-math.sin(b), 0, math.cos(b)]])
    rz = np.array([[math.cos(c), -math.sin(c), 0], [math.sin(c), math.cos(c), 0], [0, 0, 1]])
    return rx @ ry @ rz


def _smooth_field(rng: np.random.Generator, shape: tuple[int, ...], coarse: int = 6) -> np.ndarray:
    """A smooth random field in [-1, 1]: random weights on a ``coarse``³ grid of Gaussian bumps.

    Separable (tensor-product) evaluation, so it costs a few matrix products instead of a 3-D spline zoom.
    """
    c = rng.standard_normal((coarse,) * len(shape)).astype(np.float64)
    f = c
    for axis, n in enumerate(shape):
        x = np.linspace(0.0, 1.0, n, dtype=np.float64)[:, None]
        centres = np.linspace(0.0, 1.0, coarse, dtype=np.float64)[None, :]
        basis = np.exp(-0.5 * ((x - centres) * (coarse - 1) / 0.8) ** 2)  # (n, coarse)
        f = np.moveaxis(np.tensordot(f, basis, axes=([axis], [1])), -1, axis)
    return f / (np.abs(f).max() + 1e-6)


def brats_affine(shape: tuple[int, int, int], spacing: tuple[float, float, float]) -> np.ndarray:
    """An affine like BraTS 2020's (LPS-flipped x and y)."""
    aff = np.diag([-spacing[0], -spacing[1], spacing[2], 1.0])
    aff[1, 3] = (shape[1] - 1) * spacing[1]
    return aff


# --------------------------------------------------------------------------- one case
def _add_lesion(seg: np.ndarray, rng: np.random.Generator, spacing: np.ndarray, centre: np.ndarray,
                r_edema: float, brain: np.ndarray, wm: np.ndarray, irregularity: float, core_p: float) -> None:
    """Paint one lesion into ``seg`` (0 = free): edema (2) around an enhancing rim (4) around a necrotic core (1).

    Each sub-region boundary is the rotated ellipsoid's radius deformed by its own smooth random fields drawn on
    the lesion's own box (a lobulation of ~4 bumps and a finer ruffle of ~7 across the lesion, amplitudes scaled
    by ``irregularity``); edema reaches further into white matter (finger-like spread along the tracts).
    ``core_p``: probability that the lesion has a necrotic core. Only the largest connected blob is kept."""
    axes = r_edema * rng.uniform(0.75, 1.25, 3)
    rot_t = _rotation(rng, 90.0).astype(np.float64)
    a = irregularity
    half = np.ceil(axes.max() * 2.0 / spacing).astype(int) + 1  # the deformed lesion (factor >= 0.5) fits in this box
    lo = np.maximum(np.round(centre).astype(int) - half, 0)
    hi = np.minimum(np.round(centre).astype(int) + half + 1, np.array(seg.shape))
    box = tuple(slice(int(a0), int(b0)) for a0, b0 in zip(lo, hi))
    bshape = tuple(int(b0 - a0) for a0, b0 in zip(lo, hi))
    grid = np.stack(np.meshgrid(*[np.arange(a0, b0, dtype=np.float64) for a0, b0 in zip(lo, hi)], indexing="ij"))
    d_mm = (grid - centre[:, None, None, None]) * spacing[:, None, None, None].astype(np.float64)
    d_rot = np.einsum("ij,j...->i...", rot_t, d_mm)
    rho = np.sqrt(((d_rot / axes[:, None, None, None].astype(np.float64)) ** 2).sum(0))

    def deformed(amp_coarse: float, amp_fine: float) -> np.ndarray:
        f = 1.0 + a * amp_coarse * _smooth_field(rng, bshape, coarse=9) + a * amp_fine * _smooth_field(rng, bshape, coarse=15)
        return rho * np.maximum(f, 0.6)

    rho_ed = deformed(0.45, 0.20) * np.maximum(1.0 + a * 0.25 * (0.5 - wm[box]), 0.85)  # wm ~ 1: edema spreads further
    rho_rim = deformed(0.35, 0.15)
    rho_core = deformed(0.35, 0.12)
    f_rim = rng.uniform(0.55, 0.85)  # enhancing rim outer radius / edema radius
    f_core = f_rim * rng.uniform(0.50, 0.85) if rng.random() < core_p else 0.0
    free = brain[box] & (seg[box] == 0)
    lesion = np.zeros(bshape, np.uint8)
    lesion[(rho_ed < 1.0) & free] = 2
    lesion[(rho_rim < f_rim) & free] = 4
    lesion[(rho_core < f_core) & free] = 1
    if lesion.any():  # one connected blob: fragments cut off by the deformation or the brain mask are dropped
        cc = cc3d.connected_components(lesion > 0, connectivity=26)
        lesion[cc != np.argmax(np.bincount(cc.ravel())[1:]) + 1] = 0
    seg[box][lesion > 0] = lesion[lesion > 0]


def synthesize_case(
    case_id: str, split: str, seed_seq: np.random.SeedSequence, cfg: SyntheticParams, labelled: bool
) -> tuple[dict[str, np.ndarray], np.ndarray, CaseTruth]:
    """Images (int16 per modality), raw BraTS 2020 seg (uint8: 0, 1, 2, 4) and the case's truth."""
    rng = np.random.default_rng(seed_seq)
    csf_t, gm_t, wm_t, tsp = load_template(cfg.template)
    shape = np.array(cfg.shape)
    spacing = np.array(cfg.spacing, dtype=np.float64)

    # target voxel -> template voxel, through a random similarity transform about the centres
    rot = _rotation(rng, 6.0)
    scale = rng.uniform(0.92, 1.08, 3)
    shift_mm = rng.uniform(-4, 4, 3)
    m = (rot * (1.0 / scale)) @ np.diag(spacing / tsp)
    centre_t = (np.array(csf_t.shape) - 1) / 2.0
    centre_o = (shape - 1) / 2.0
    offset = centre_t - m @ centre_o - shift_mm / tsp
    maps = [
        np.clip(ndimage.affine_transform(t, m, offset=offset, output_shape=tuple(shape), order=1, cval=0.0), 0, 1)
        for t in (csf_t, gm_t, wm_t)
    ]
    csf, gm, wm = maps
    brain = (csf + gm + wm) > 0.35
    brain = ndimage.binary_fill_holes(brain)

    # tumour: a main lesion at a white-matter position, sometimes further separate lesions and small satellites
    grid = np.stack(np.meshgrid(*[np.arange(s, dtype=np.float64) for s in shape], indexing="ij"))
    r3 = rng.uniform(MAIN_RADIUS_MM[0], MAIN_RADIUS_MM[1])  # edema radius of the main lesion, mm
    dist_in = ndimage.distance_transform_edt(brain, sampling=spacing)
    cand = np.argwhere((wm > 0.5) & (dist_in > 0.6 * r3))
    if len(cand) == 0:
        cand = np.argwhere(dist_in >= dist_in.max() * 0.7)
    centre = cand[rng.integers(len(cand))].astype(np.float64)
    seg = np.zeros(tuple(shape), np.uint8)
    _add_lesion(seg, rng, spacing, centre, r3, brain, wm, cfg.irregularity, core_p=0.90)
    n_lesions, n_satellites = 1, 0
    if rng.random() < cfg.multifocal_fraction:  # 2 or 3 separate lesions (multifocal glioma)
        for _ in range(int(rng.integers(1, 3))):
            r = r3 * rng.uniform(0.35, 0.6)
            away = ndimage.distance_transform_edt(seg == 0, sampling=spacing)
            c = np.argwhere((wm > 0.4) & (dist_in > 0.6 * r) & (away > 1.4 * r + 2.5 * spacing.max()))
            if len(c):
                _add_lesion(seg, rng, spacing, c[rng.integers(len(c))].astype(np.float64), r, brain, wm,
                            cfg.irregularity, core_p=0.5)
                n_lesions += 1
    if rng.random() < cfg.satellite_fraction:  # small enhancing foci near the main lesion (a few voxels each)
        for _ in range(int(rng.integers(1, 4))):
            r = rng.uniform(3.5, 6.5)
            gap = r + 2.5 * spacing.max()  # a separate component (26-connectivity), a few mm from the tumour
            away = ndimage.distance_transform_edt(seg == 0, sampling=spacing)
            c = np.argwhere(brain & (dist_in > 6.0) & (away > gap) & (away < gap + 15.0))
            if len(c):
                d = np.sqrt((((grid - c[rng.integers(len(c))][:, None, None, None]) * spacing[:, None, None, None]) ** 2).sum(0))
                seg[(d < r) & brain & (seg == 0)] = 4
                n_satellites += 1

    # intensities
    vox_cm3 = float(np.prod(spacing)) / 1000.0
    tissue = np.stack([csf, gm, wm])
    tissue = tissue / np.maximum(tissue.sum(0, keepdims=True), 1.0)
    lesion = {lab: ndimage.gaussian_filter((seg == lab).astype(np.float64), 0.6) for lab in (1, 2, 4)}
    lesion_total = np.clip(sum(lesion.values()), 0, 1)
    texture = _smooth_field(rng, tuple(shape), coarse=12)
    images = {}
    # per-case tumour contrast (necrosis, edema, ET): wide on T2 (edema overlaps CSF there), narrower elsewhere
    jitter = {mod: rng.uniform(1.0 - CONTRAST_JITTER[mod], 1.0 + CONTRAST_JITTER[mod], 3) for mod in MODALITIES}
    for mod in MODALITIES:
        c = CONTRAST[mod][:3] + tuple(np.array(CONTRAST[mod][3:]) * jitter[mod])
        healthy = c[0] * tissue[0] + c[1] * tissue[1] + c[2] * tissue[2]
        tumour = c[3] * lesion[1] + c[4] * lesion[2] + c[5] * lesion[4]
        img = healthy * (1 - lesion_total) + tumour
        img *= 1.0 + 0.04 * texture
        img *= np.exp(cfg.bias_field_strength * _smooth_field(rng, tuple(shape), coarse=3))
        img += cfg.noise_std * rng.standard_normal(img.shape).astype(np.float64)
        img = np.where(brain, np.clip(img, 0.01, None), 0.0)
        images[mod] = np.round(img * MODALITY_SCALE[mod]).astype(np.int16)

    # survival truth
    wt = float((seg > 0).sum()) * vox_cm3
    tc = float(np.isin(seg, (1, 4)).sum()) * vox_cm3
    et = float((seg == 4).sum()) * vox_cm3
    f_et = et / wt if wt > 0 else 0.0
    bc = np.argwhere(brain).mean(0)
    half = (np.argwhere(brain).max(0) - np.argwhere(brain).min(0)) / 2.0
    depth = float(np.clip(np.sqrt((((centre - bc) / half) ** 2).mean()), 0.0, 1.0))
    age = float(np.clip(rng.normal(61.0, 12.0), 20.0, 88.0))
    h = HAZARD
    lp = (
        h["age"] * (age - 60.0)
        + h["log_volume"] * math.log(max(wt, 1e-3) / 70.0)
        + h["enhancing_fraction"] * (f_et - 0.25)
        + h["depth"] * (0.4 - depth)
    )
    k = h["shape_k"]
    lam = h["median_days"] / math.log(2.0) ** (1.0 / k)
    days = lam * (-math.log(rng.uniform(1e-9, 1.0))) ** (1.0 / k) * math.exp(-lp / k)
    truth = CaseTruth(case_id, split, round(age, 3), wt, tc, et, f_et, depth, lp, max(5.0, round(days)), n_lesions, n_satellites)
    if not labelled:
        seg = None
    return images, seg, truth


def _write_case(args: tuple) -> CaseTruth:
    case_id, split, seed_seq, cfg, labelled, folder = args
    images, seg, truth = synthesize_case(case_id, split, seed_seq, cfg, labelled)
    folder.mkdir(parents=True, exist_ok=True)
    aff = brats_affine(cfg.shape, cfg.spacing)
    for mod, arr in images.items():
        img = nib.Nifti1Image(arr, aff)
        img.header.set_zooms(cfg.spacing)
        nib.save(img, folder / f"{case_id}_{mod}.nii.gz")
    if seg is not None:
        img = nib.Nifti1Image(seg, aff)
        img.header.set_zooms(cfg.spacing)
        nib.save(img, folder / f"{case_id}_seg.nii.gz")
    return truth


def generate_dataset(out: str | Path, cfg: SyntheticParams, num_workers: int = 1) -> list[CaseTruth]:
    """Write ``cfg.n_train`` labelled and ``cfg.n_validation`` unlabelled cases under ``out``.

    Deterministic by ``cfg.seed``, whatever ``num_workers`` is (each case has its own seed stream).
    """
    out = Path(out)
    seeds = np.random.SeedSequence(cfg.seed).spawn(cfg.n_train + cfg.n_validation + 1)
    jobs = []
    for i in range(cfg.n_train):
        cid = f"BraTS20_Training_{i + 1:03d}"
        jobs.append((cid, "train", seeds[i], cfg, True, out / TRAIN_DIR / cid))
    for j in range(cfg.n_validation):
        cid = f"BraTS20_Validation_{j + 1:03d}"
        jobs.append((cid, "validation", seeds[cfg.n_train + j], cfg, False, out / VAL_DIR / cid))
    if num_workers > 1:
        with ProcessPoolExecutor(num_workers) as pool:
            truths = list(progress(pool.map(_write_case, jobs), total=len(jobs), desc="synthesize"))
    else:
        truths = [_write_case(j) for j in progress(jobs, desc="synthesize")]
    _write_tables(out, truths, cfg, np.random.default_rng(seeds[-1]))
    return truths


def _write_tables(out: Path, truths: list[CaseTruth], cfg: SyntheticParams, rng: np.random.Generator) -> None:
    train = [t for t in truths if t.split == "train"]
    val = [t for t in truths if t.split == "validation"]
    n_surv = max(2, round(cfg.survival_fraction * len(train)))
    with_surv = set(rng.choice(len(train), size=min(n_surv, len(train)), replace=False).tolist())
    rows = []
    for i, t in enumerate(train):
        if i not in with_surv:
            continue
        age = "" if rng.random() < cfg.missing_age_fraction else f"{t.age:.3f}"
        surv = f"{int(t.survival_days)}"
        if rng.random() < cfg.alive_fraction:
            surv = f"ALIVE ({int(t.survival_days * rng.uniform(0.3, 0.95))} days later)"
        res = rng.choice(["GTR", "STR", "NA", ""], p=[0.7, 0.1, 0.1, 0.1])
        rows.append({"Brats20ID": t.case_id, "Age": age, "Survival_days": surv, "Extent_of_Resection": res})
    _csv(out / TRAIN_DIR / "survival_info.csv", ["Brats20ID", "Age", "Survival_days", "Extent_of_Resection"], rows)
    mapping = [
        {
            "Grade": "HGG" if i in with_surv else rng.choice(["HGG", "LGG"]),
            "BraTS_2017_subject_ID": "NA",
            "BraTS_2018_subject_ID": "NA",
            "TCGA_TCIA_subject_ID": "NA",
            "BraTS_2019_subject_ID": "NA",
            "BraTS_2020_subject_ID": t.case_id,
        }
        for i, t in enumerate(train)
    ]
    _csv(out / TRAIN_DIR / "name_mapping.csv", list(mapping[0].keys()) if mapping else ["Grade"], mapping)
    if val:
        vrows = [{"BraTS20ID": t.case_id, "Age": f"{t.age:.3f}", "ResectionStatus": "GTR"} for t in val]
        _csv(out / VAL_DIR / "survival_evaluation.csv", ["BraTS20ID", "Age", "ResectionStatus"], vrows)
    _csv(out / "synthetic_ground_truth.csv", list(asdict(truths[0]).keys()), [asdict(t) for t in truths])


def _csv(path: Path, fields: list[str], rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=fields)
        w.writeheader()
        w.writerows(rows)
