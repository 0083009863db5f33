"""RegionAUNet: backbone -> neck -> splitter -> one branch per face region.

Every model in auzoo's TRA-Net family is this assembler with different parts::

    images ─▶ backbone ─▶ neck (optional) ─▶ splitter ─┬▶ branch: attention × N ─┬▶ head ─▶ AU logits
                                                      ├▶ ...                    └▶ intensity head ─▶ 0-5
                                                      └▶ ...

Each branch predicts its own group of AUs; the outputs are put back into the
model's AU order. A model with an occurrence ``head`` predicts occurrence,
one with an ``intensity_head`` intensity, one with both both, from the same
attended map (the output layout: :mod:`auzoo.models.tasks`). Branches on hard-masked regions run on their band of rows
alone when every attention block in them is zero-preserving (exact, see
:mod:`auzoo.models.bands`); ``band_only=False`` forces the full-map path.
"""
from __future__ import annotations

from typing import Dict, List, Optional, Sequence, Tuple

import torch
from torch import Tensor, nn

from auzoo.models.au_regions import aus_in_region, resolve_aus
from auzoo.models.bands import Band
from auzoo.models.tasks import join_output
from auzoo.registry import ATTENTION, BACKBONES, HEADS, MODELS, NECKS, SPLITTERS, build_part


class RegionBranch(nn.Module):
    """Attention blocks in a row, then a head (occurrence), an intensity head,
    or both, for one region's AUs."""

    def __init__(self, region: str, aus: Sequence[int], attention: nn.ModuleList,
                 head: Optional[nn.Module], intensity_head: Optional[nn.Module] = None):
        super().__init__()
        self.region = region
        self.aus = tuple(aus)
        self.attention = attention
        self.head = head
        self.intensity_head = intensity_head

    @property
    def zero_preserving(self) -> bool:
        return all(getattr(block, "zero_preserving", False) for block in self.attention)

    def forward(self, x: Tensor, band: Optional[Band] = None) -> Tuple[Optional[Tensor], Optional[Tensor]]:
        """``(logits, raw intensity outputs)``, None for a head the branch lacks;
        ``x`` is the masked region map, or with ``band`` only the band's rows."""
        for block in self.attention:
            x = block(x) if band is None else block(x, band=band)
        if band is not None:
            x = band.pad_to_full(x)  # the head pools over the whole map's grid
        return (self.head(x) if self.head is not None else None,
                self.intensity_head(x) if self.intensity_head is not None else None)

    def extra_repr(self) -> str:
        return f"region={self.region!r}, aus={self.aus}"


@MODELS.register_module()
class RegionAUNet(nn.Module):
    """Region-based AU detector assembled from registered parts.

    Args:
        aus: the AUs the model predicts, in output order; None: DISFA's eight
            (:data:`auzoo.models.au_regions.DEFAULT_AUS`; the engine fills in
            the dataset's AUs before building when a config leaves them None).
        backbone, neck, splitter: part configs ``dict(type=NAME, ...)``; no
            neck means the branches see the backbone's last map.
        branches: one dict per region the model uses: ``region`` (the
            splitter's region name; may be left out to match by order),
            ``aus`` (optional: the branch's AUs; default the model's AUs that
            :data:`~auzoo.models.au_regions.AU_REGIONS` puts in that region,
            or every AU for a single branch), and optionally its own
            ``attention`` / ``head``. A branch left with no AU is left out.
        attention: every branch's attention blocks, in order (list of part
            configs; default none), unless the branch names its own.
        head: every branch's occurrence head (part config), unless the branch
            names its own. Channels and class counts are filled in. None: the
            model predicts no occurrence.
        intensity_head: every branch's intensity head (part config of
            :mod:`auzoo.models.intensity_heads`), unless the branch names its
            own; None: no intensity. Every branch reads intensity the same way.
        band_only: run zero-preserving branches on their band of rows only.
    """

    requires_landmarks = False
    # The keys of each ``branches`` entry (the config check and the build read them).
    config_sections = {"branches": ("aus", "region", "attention", "head", "intensity_head")}

    def __init__(self, aus: Optional[Sequence[int]], backbone: Dict, splitter: Dict,
                 branches: Sequence[Dict], neck: Optional[Dict] = None, attention: Sequence[Dict] = (),
                 head: Optional[Dict] = None, intensity_head: Optional[Dict] = None,
                 band_only: bool = True):
        super().__init__()
        self.aus: Tuple[int, ...] = resolve_aus(aus)
        self.backbone = build_part(BACKBONES, backbone)
        self.neck = None
        channels = self.backbone.out_channels[-1]
        if neck:
            self.neck = build_part(NECKS, neck, in_channels=list(self.backbone.out_channels))
            channels = self.neck.out_channels
        self.splitter = build_part(SPLITTERS, splitter)
        self.band_only = band_only

        self.branches = nn.ModuleList()
        self.branch_regions: List[int] = []  # the splitter output each branch reads
        for region_index, cfg in self._match_regions(list(branches)):
            region = self.splitter.names[region_index]
            branch_aus = self._branch_aus(region, cfg, single=len(branches) == 1)
            if not branch_aus:
                continue  # no AU of this model occurs in this region
            blocks = nn.ModuleList(build_part(ATTENTION, block, channels=channels)
                                   for block in cfg.get("attention", attention) or ())
            head_cfg, intensity_cfg = cfg.get("head", head), cfg.get("intensity_head", intensity_head)
            if not head_cfg and not intensity_cfg:
                raise ValueError(f"branch '{region}' has no head: give the model or the branch a "
                                 "head (occurrence) and/or an intensity_head")
            branch_head, branch_intensity = (
                build_part(HEADS, c, in_channels=channels, num_classes=len(branch_aus)) if c else None
                for c in (head_cfg, intensity_cfg))
            self.branches.append(RegionBranch(region, branch_aus, blocks, branch_head,
                                              branch_intensity))
            self.branch_regions.append(region_index)

        self.task = self._task()
        predicted = [au for branch in self.branches for au in branch.aus]
        self._check_coverage(predicted)
        self.loss_groups: List[Tuple[int, ...]] = [
            tuple(self.aus.index(au) for au in branch.aus) for branch in self.branches]
        # Concatenated branch logits -> model.aus order.
        self.register_buffer("_order", torch.tensor([predicted.index(au) for au in self.aus]),
                             persistent=False)

    def _task(self) -> str:
        """'occurrence', 'intensity' or 'both': what every branch predicts."""
        kinds = {(b.head is not None, b.intensity_head is not None) for b in self.branches}
        if len(kinds) > 1:
            raise ValueError("every branch must have the same heads (occurrence, intensity or both)")
        reads = {getattr(b.intensity_head, "kind", None) for b in self.branches
                 if b.intensity_head is not None}
        if len(reads) > 1:
            raise ValueError(f"the branches' intensity heads read intensity in different ways "
                             f"({', '.join(sorted(reads))}); one loss reads them all: use one kind")
        occurrence, intensity = kinds.pop() if kinds else (True, False)
        return "both" if occurrence and intensity else "intensity" if intensity else "occurrence"

    def _branch_aus(self, region: str, cfg: Dict, single: bool) -> Tuple[int, ...]:
        unknown = set(cfg) - set(self.config_sections["branches"])
        if unknown:
            raise ValueError(f"branch '{region}': unknown keys {sorted(unknown)}")
        if cfg.get("aus") is not None:
            return tuple(int(au) for au in cfg["aus"])
        if single:
            return self.aus
        return aus_in_region(self.aus, region)

    def _check_coverage(self, predicted: List[int]) -> None:
        twice = sorted({au for au in predicted if predicted.count(au) > 1})
        missing = [au for au in self.aus if au not in predicted]
        extra = sorted(set(predicted) - set(self.aus))
        if twice or missing or extra:
            raise ValueError(
                "every AU must be predicted by exactly one branch: "
                + "; ".join(msg for msg in (
                    f"predicted twice: {twice}" if twice else "",
                    f"predicted by no branch: {missing}" if missing else "",
                    f"not in the model's aus {self.aus}: {extra}" if extra else "") if msg))

    def _match_regions(self, branches: List[Dict]) -> List[Tuple[int, Dict]]:
        """``(splitter output index, branch config)`` per branch, in the splitter's order."""
        names = list(self.splitter.names)
        named = [b.get("region") for b in branches]
        if not any(named):
            if len(branches) != len(names):
                raise ValueError(f"{type(self.splitter).__name__} makes {len(names)} regions "
                                 f"{tuple(names)} but the config has {len(branches)} branches "
                                 "(name each branch's region to use only some)")
            return list(enumerate(branches))
        if not all(named) or len(set(named)) != len(named) or not set(named) <= set(names):
            raise ValueError(f"branch regions {named} must be distinct names among the splitter's "
                             f"regions {tuple(names)}")
        by_name = {b["region"]: b for b in branches}
        return [(i, by_name[name]) for i, name in enumerate(names) if name in by_name]

    def branch_path(self, branch: RegionBranch) -> str:
        """Which input ``branch`` runs on, and why: its band of rows alone, or
        the masked full map (``auzoo show`` prints it)."""
        if not self.band_only:
            return "masked full map (band_only=False)"
        if not hasattr(self.splitter, "bands"):
            return f"masked full map ({type(self.splitter).__name__} has no bands)"
        blocks = [type(b).__name__ for b in branch.attention if not getattr(b, "zero_preserving", False)]
        if blocks:
            return (f"masked full map ({', '.join(dict.fromkeys(blocks))} not zero_preserving)")
        return "band of rows"

    def features(self, images: Tensor) -> Tensor:
        """The map the splitter divides: the neck's output, or the backbone's last map."""
        features = self.backbone(images)
        return self.neck(features) if self.neck is not None else features[-1]

    def forward_train(self, images: Tensor, landmarks: Optional[Tensor] = None) -> Dict[str, Tensor]:
        """What the losses read, in ``aus`` order: ``logits`` (N, A) with an
        occurrence head; ``intensity_raw`` (N, A, raw), its ``intensity_kind``
        and ``intensity`` (N, A, 0-5) with an intensity head."""
        if images.dim() != 4 or images.shape[1] != 3 or not images.is_floating_point():
            raise ValueError(f"expected RGB float images (N, 3, H, W) in [0, 1], got a "
                             f"{images.dtype} tensor of shape {tuple(images.shape)}")
        x = self.features(images)
        height = x.shape[-2]
        band_rows = self.splitter.bands(height) if hasattr(self.splitter, "bands") else None
        regions = None
        outputs = []
        for index, branch in zip(self.branch_regions, self.branches):
            if self.band_only and band_rows is not None and branch.zero_preserving:
                band = Band(*band_rows[index], height)
                if not band.is_full:
                    outputs.append(branch(x[:, :, band.start:band.stop], band=band))
                    continue
            if regions is None:
                regions = self.splitter(x)
            outputs.append(branch(regions[index]))
        out: Dict[str, Tensor] = {}
        if outputs[0][0] is not None:
            out["logits"] = torch.cat([o[0] for o in outputs], dim=1)[:, self._order]
        if outputs[0][1] is not None:
            raw = torch.cat([o[1] for o in outputs], dim=1)[:, self._order]
            reader = self.branches[0].intensity_head
            out.update(intensity_raw=raw, intensity_kind=reader.kind, intensity=reader.intensity(raw))
        return out

    def forward(self, images: Tensor, landmarks: Optional[Tensor] = None) -> Tensor:
        """Logits (N, A), intensities (N, A) or both (N, 2A), by ``self.task``."""
        out = self.forward_train(images, landmarks)
        return join_output(out.get("logits"), out.get("intensity"), self.task)


__all__ = ["RegionAUNet", "RegionBranch"]
