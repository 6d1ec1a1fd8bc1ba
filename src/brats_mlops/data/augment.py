"""The paper's augmentation with TorchIO (§3.1.2).

Left-right flip (p = 0.5); affine (p = 1/3: scale 0.6–1.4, rotation ±15°, translation ±5 voxels); gamma with
log γ uniform in ±0.3; then z-score over the brain (non-zero) voxels. Gamma needs non-negative intensities,
so each channel is rescaled to [0, 1] over the brain first (the z-score afterwards undoes the scale).
Bias field and elastic deformation are opt-in (slow on CPU). The brain mask travels with the subject as a
label map so it is transformed with the image; voxels outside it are set back to 0.

The bias field is TorchIO's, computed per axis (:class:`SeparableBiasField`): the same coefficients from the same
random draws and the same float64 operations in the same order, so the same field bit for bit
(tests/data/test_bias_field.py) — without the full-volume powers and the transposed sums of TorchIO's loop.
"""

from __future__ import annotations

import numpy as np
import torch
import torchio as tio

from brats_mlops.config.schema import AugmentationParams


class MaskOutside(tio.transforms.Transform):
    """Zero every image voxel outside the subject's ``brain`` label map."""

    def apply_transform(self, subject: tio.Subject) -> tio.Subject:
        brain = subject["brain"].data > 0
        for image in subject.get_images(intensity_only=True):
            image.set_data(torch.where(brain, image.data, torch.zeros_like(image.data)))
        return subject


class SeparableBiasField(tio.BiasField):
    """TorchIO's :class:`~torchio.BiasField` (a polynomial of ``order`` in the voxel coordinates, exponentiated).

    TorchIO builds every monomial ``c · x^a · y^b · z^c`` from three full-volume coordinate grids (powers, products,
    then a transposed sum): about six passes over the volume per monomial, 20 monomials at order 3. The coordinates
    are per-axis vectors, so ``c · x^a`` and ``(c · x^a) · y^b`` are computed once per row and plane and only the last
    product and the sum touch the volume: the same float64 operations, in the same order, on the same values."""

    @staticmethod
    def generate_bias_field(data, order: int, coefficients) -> np.ndarray:
        axes = []
        for n in np.array(data.shape[1:]) / 2:   # TorchIO's coordinates: voxel centres, scaled to a maximum of 1
            r = np.arange(-n, n) + 0.5
            axes.append(r / r.max() if r.max() > 0 else r)
        x, y, z = axes
        field = np.zeros((len(x), len(y), len(z)))
        term = np.empty_like(field)
        i = 0
        for a in range(order + 1):
            for b in range(order + 1 - a):
                for c in range(order + 1 - (a + b)):
                    row = coefficients[i] * x ** a   # TorchIO: ((coefficient * x**a) * y**b) * z**c, voxel by voxel
                    plane = row[:, None] * (y ** b)[None, :]
                    np.multiply(plane[:, :, None], (z ** c)[None, None, :], out=term)
                    field += term
                    i += 1
        return np.exp(field).astype(np.float32)


class RandomSeparableBiasField(tio.RandomBiasField):
    """TorchIO's :class:`~torchio.RandomBiasField` (same parameters, same random draws) applying
    :class:`SeparableBiasField`."""

    def apply_transform(self, subject: tio.Subject) -> tio.Subject:
        images = self.get_images_dict(subject)
        if not images:
            return subject
        coefficients = {name: self.get_params(self.order, self.coefficients_range) for name in images}
        return SeparableBiasField(coefficients=coefficients, order={name: self.order for name in images},
                                  **self._get_base_args())(subject)


def subject_from_arrays(image: torch.Tensor, label: torch.Tensor | None) -> tio.Subject:
    """(C, H, W, D) image and (1, H, W, D) label → a TorchIO subject: one scalar image per channel
    (``ch0``, ``ch1``, ...: intensity transforms act per modality), the ``brain`` mask and the ``label``."""
    d = {f"ch{i}": tio.ScalarImage(tensor=image[i:i + 1]) for i in range(image.shape[0])}
    d["brain"] = tio.LabelMap(tensor=(image != 0).any(0, keepdim=True).to(torch.uint8))
    if label is not None:
        d["label"] = tio.LabelMap(tensor=label)
    return tio.Subject(d)


def arrays_from_subject(subject: tio.Subject) -> tuple[torch.Tensor, torch.Tensor | None]:
    n = sum(1 for k in subject.keys() if k.startswith("ch"))
    image = torch.cat([subject[f"ch{i}"].data.float() for i in range(n)], 0)
    label = subject["label"].data.long() if "label" in subject else None
    return image, label


def build_augmentation(cfg: AugmentationParams) -> tio.Compose:
    """The training transform; with ``enabled: false`` only the masked z-score."""
    brain = "brain"
    steps: list[tio.Transform] = []
    if cfg.enabled:
        steps.append(tio.RandomFlip(axes=(0,), flip_probability=cfg.flip_p))
        if cfg.affine_p > 0:
            steps.append(tio.RandomAffine(scales=cfg.scales, degrees=cfg.degrees, translation=cfg.translation,
                                          isotropic=cfg.isotropic, default_pad_value=0, p=cfg.affine_p))
        if cfg.elastic:
            steps.append(tio.RandomElasticDeformation(p=0.3))
        steps.append(MaskOutside())
        steps.append(tio.RescaleIntensity(out_min_max=(0, 1), masking_method=brain))
        steps.append(MaskOutside())
        if cfg.bias_field:
            steps.append(RandomSeparableBiasField(p=cfg.bias_field_p))
        if cfg.log_gamma > 0:
            steps.append(tio.RandomGamma(log_gamma=(-cfg.log_gamma, cfg.log_gamma)))
    steps.append(tio.ZNormalization(masking_method=brain))
    steps.append(MaskOutside())
    return tio.Compose(steps)
