"""The paper's augmentation with TorchIO (§3.1.2).

Left-right flip (p = 0.5); affine (p = 1/3: scale 0.6–1.4, rotation ±15°, translation ±5 voxels); gamma with
log γ uniform in ±0.3; then z-score over the brain (non-zero) voxels. Gamma needs non-negative intensities,
so each channel is rescaled to [0, 1] over the brain first (the z-score afterwards undoes the scale).
Bias field and elastic deformation are opt-in (slow on CPU). The brain mask travels with the subject as a
label map so it is transformed with the image; voxels outside it are set back to 0.
"""

from __future__ import annotations

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
            steps.append(tio.RandomBiasField(p=cfg.bias_field_p))
        if cfg.log_gamma > 0:
            steps.append(tio.RandomGamma(log_gamma=(-cfg.log_gamma, cfg.log_gamma)))
    steps.append(tio.ZNormalization(masking_method=brain))
    steps.append(MaskOutside())
    return tio.Compose(steps)
