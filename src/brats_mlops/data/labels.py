"""Internal label schemes: which labels a model is trained on and which regions it learns, per edition.

A :class:`LabelScheme` is what training, inference and nnU-Net see of an edition's labels (the edition's raw labels
map onto it; ``data/editions.py``). Three exist:

- ``glioma`` (BraTS 2020-2023, MSD, PED 2024): 0 background, 1 necrotic/non-enhancing core (NCR/NETC), 2 edema
  (ED/SNFH), 3 enhancing tumour (ET); regions WT = {1, 2, 3}, TC = {1, 3}, ET = {3}.
- ``glioma+rc`` (BraTS 2024 GLI post-treatment, 2025 GLI/MET): glioma plus 4 resection cavity (RC), trained as its
  own label (seed 002 segments it) and, in region mode, as a fourth region RC = {4} beside the nested tumour regions.
- ``gtv`` (BraTS 2024 MEN-RT): 0 background, 1 gross tumour volume; one region GTV = {1}.

Preprocessing may add the healthy-brain label (the paper's "label 5") as the next free value, ``healthy_label``.

Region mode predicts one sigmoid per region (in :attr:`LabelScheme.regions` order) and turns them back into labels by
painting the regions largest first (:meth:`LabelScheme.paint_order`): each region paints the one label it holds that
no region painted after it holds (WT paints edema, TC the core, ET enhancing; RC is painted before ET, so a voxel
both call ET stays tumour). nnU-Net's region-based setting numbers its labels in the same paint order.
"""

from __future__ import annotations

from dataclasses import dataclass

REGION_TITLES = {"wt": "whole tumor", "tc": "tumor core", "et": "enhancing tumor", "rc": "resection cavity",
                 "gtv": "gross tumour volume"}


@dataclass(frozen=True)
class LabelScheme:
    name: str
    labels: dict[int, str]                   # internal label -> name (contiguous from 0 = background)
    regions: dict[str, tuple[int, ...]]      # region -> internal labels, in output-channel order (region mode)

    @property
    def num_labels(self) -> int:
        return len(self.labels)

    @property
    def healthy_label(self) -> int:
        """The value preprocessing gives healthy brain when ``preprocess.healthy_label`` is on."""
        return len(self.labels)

    def label_names(self, healthy: bool = False) -> dict[int, str]:
        names = dict(self.labels)
        if healthy:
            names[self.healthy_label] = "healthy brain"
        return names

    def paint_order(self) -> list[tuple[int, int]]:
        """(region channel, the internal label it paints), in painting order (largest region first; among equal
        sizes the later region first)."""
        names = list(self.regions)
        order = sorted(range(len(names)), key=lambda i: (-len(self.regions[names[i]]), -i))
        out = []
        for k, i in enumerate(order):
            later = set().union(*(self.regions[names[j]] for j in order[k + 1:]))
            own = set(self.regions[names[i]]) - later
            if len(own) != 1:
                raise ValueError(f"label scheme {self.name}: region {names[i]} does not paint exactly one label ({sorted(own)})")
            out.append((i, own.pop()))
        return out

    def nnunet_labels(self) -> tuple[dict[str, object], list[int], list[int]]:
        """nnU-Net's region-based ``labels`` (regions in paint order), ``regions_class_order``, and the internal →
        nnU-Net label table (its Dataset137_BraTS21 numbering for ``glioma``: 1 edema, 2 core, 3 enhancing)."""
        order = self.paint_order()
        to_nn = [0] * self.num_labels
        for k, (_, lab) in enumerate(order, start=1):
            to_nn[lab] = k
        names = list(self.regions)
        labels: dict[str, object] = {"background": 0}
        for i, _ in order:
            labels[REGION_TITLES.get(names[i], names[i])] = sorted(to_nn[v] for v in self.regions[names[i]])
        return labels, list(range(1, len(order) + 1)), to_nn

    def from_nnunet(self) -> list[int]:
        """nnU-Net label -> internal label (the inverse of :meth:`nnunet_labels`' table)."""
        to_nn = self.nnunet_labels()[2]
        back = [0] * len(to_nn)
        for internal, nn in enumerate(to_nn):
            back[nn] = internal
        return back


GLIOMA_REGIONS = {"wt": (1, 2, 3), "tc": (1, 3), "et": (3,)}
GLIOMA_LABELS = {0: "background", 1: "necrotic/non-enhancing core", 2: "edema", 3: "enhancing tumour"}

SCHEMES: dict[str, LabelScheme] = {s.name: s for s in (
    LabelScheme("glioma", GLIOMA_LABELS, GLIOMA_REGIONS),
    LabelScheme("glioma+rc", {**GLIOMA_LABELS, 4: "resection cavity"}, {**GLIOMA_REGIONS, "rc": (4,)}),
    LabelScheme("gtv", {0: "background", 1: "gross tumour volume"}, {"gtv": (1,)}),
)}


def get_scheme(name: str | None) -> LabelScheme:
    """A scheme by name; ``None`` (checkpoints and plans written before schemes existed) is ``glioma``."""
    return SCHEMES[name or "glioma"]
