import hashlib

import nibabel as nib
import numpy as np
import pandas as pd

from brats_mlops.config.schema import SyntheticParams
from brats_mlops.data.synthetic import TRAIN_DIR, VAL_DIR, generate_dataset, synthesize_case
from tests.builders import TINY


def _digest(root):
    h = hashlib.md5()
    for f in sorted(p for p in root.rglob("*") if p.is_file()):
        h.update(f.relative_to(root).as_posix().encode())
        h.update(np.asarray(nib.load(str(f)).dataobj).tobytes() if f.name.endswith(".nii.gz") else f.read_bytes())
    return h.hexdigest()


def test_layout_and_determinism(tmp_path):
    cfg = SyntheticParams(n_train=3, n_validation=1, **TINY)
    generate_dataset(tmp_path / "a", cfg, num_workers=1)
    generate_dataset(tmp_path / "b", cfg, num_workers=2)
    assert _digest(tmp_path / "a") == _digest(tmp_path / "b")
    tr = tmp_path / "a" / TRAIN_DIR
    assert sorted(p.name for p in (tr / "BraTS20_Training_001").iterdir()) == [
        f"BraTS20_Training_001_{m}.nii.gz" for m in ("flair", "seg", "t1", "t1ce", "t2")
    ]
    assert pd.read_csv(tr / "survival_info.csv").columns.tolist() == ["Brats20ID", "Age", "Survival_days", "Extent_of_Resection"]
    assert (tr / "name_mapping.csv").is_file()
    val = tmp_path / "a" / VAL_DIR
    assert not list(val.rglob("*_seg.nii.gz")) and (val / "survival_evaluation.csv").is_file()
    generate_dataset(tmp_path / "c", SyntheticParams(n_train=3, n_validation=1, seed=99, **TINY))
    assert _digest(tmp_path / "a") != _digest(tmp_path / "c")


def test_tumour_appearance_per_modality():
    """Enhancing rim bright on T1ce, edema bright on FLAIR, core dark on T1 (relative to white matter)."""
    cfg = SyntheticParams(shape=(64, 64, 48), spacing=(3.5, 3.5, 3.5), template="mni152", noise_std=0.0)
    found = 0
    for s in range(4):
        imgs, seg, truth = synthesize_case("x", "train", np.random.SeedSequence(s), cfg, True)
        assert set(np.unique(seg)) <= {0, 1, 2, 4}
        brain = imgs["t1"] > 0
        healthy = brain & (seg == 0)

        def mean(mod, lab):
            return imgs[mod][seg == lab].mean() / np.median(imgs[mod][healthy])

        assert mean("t1ce", 4) > 1.2 * mean("t1ce", 2)
        assert mean("flair", 2) > 1.3
        if (seg == 1).sum() > 10:
            found += 1
            assert mean("t1", 1) < 0.6
        assert truth.wt_cm3 > 0 and 0 < truth.enhancing_fraction < 1
    assert found >= 2


def test_survival_depends_on_tumour_volume(tmp_path):
    cfg = SyntheticParams(n_train=40, n_validation=0, **TINY)
    truths = generate_dataset(tmp_path, cfg)
    df = pd.DataFrame([t.__dict__ for t in truths])
    assert np.corrcoef(np.log(df.wt_cm3), np.log(df.survival_days))[0, 1] < -0.2
    assert np.corrcoef(df.age, np.log(df.survival_days))[0, 1] < 0


def _components(mask):
    import cc3d

    cc, n = cc3d.connected_components(mask.astype(np.uint8), connectivity=26, return_N=True)
    return sorted(np.bincount(cc.ravel())[1:].tolist(), reverse=True)


def test_multifocal_satellites_and_irregular_shapes():
    """The knobs that make lesion-wise metrics and dust removal matter: separate lesions, small foci, lobulated edges."""
    base = dict(shape=(72, 72, 56), spacing=(3.0, 3.0, 3.0), template="mni152")
    single, multi, sats = [], [], []
    for s in range(4):
        seq = np.random.SeedSequence(s)
        _, seg, t = synthesize_case("x", "train", seq, SyntheticParams(**base, multifocal_fraction=0, satellite_fraction=0), True)
        assert (t.n_lesions, t.n_satellites) == (1, 0)
        single.append(len(_components(seg > 0)))
        _, seg, t = synthesize_case("x", "train", seq, SyntheticParams(**base, multifocal_fraction=1, satellite_fraction=0), True)
        multi.append((t.n_lesions, len(_components(seg > 0))))
        _, seg, t = synthesize_case("x", "train", seq, SyntheticParams(**base, multifocal_fraction=0, satellite_fraction=1), True)
        sats.append((t.n_satellites, _components(seg > 0)))
    assert single == [1, 1, 1, 1]  # one connected lesion
    assert all(n >= 2 and comps == n for n, comps in multi)  # 2-3 separate lesions, each one component
    for n, comps in sats:
        assert n >= 1 and len(comps) == n + 1 and all(c <= 60 for c in comps[1:])  # small foci of a few voxels

    def surface_to_volume(irregularity):
        _, seg, _ = synthesize_case("x", "train", np.random.SeedSequence(7),
                                    SyntheticParams(**base, irregularity=irregularity, multifocal_fraction=0, satellite_fraction=0), True)
        from scipy import ndimage

        wt = seg > 0
        return (wt & ~ndimage.binary_erosion(wt)).sum() / wt.sum() ** (2 / 3)

    assert surface_to_volume(1.0) > 1.1 * surface_to_volume(0.0)  # lobulated edges: more surface for the volume
