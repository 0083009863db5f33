"""Published AU intensity results as registered data, each with its source.

An intensity row is one method's published ICC(3,1), PCC or MAE on one
dataset: per AU where the source gives them, else only the mean, always with
the protocol it was measured under (intensity papers share no split, so a
row is a reference point, not a comparison). Only numbers whose source could
be read are registered; rows of papers whose tables could not be checked
are left out rather than guessed. A plugin registers its own rows with
:func:`register_published_intensity`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

from auzoo import registry
from auzoo.catalogue import Catalogue, caller_location, enrol

METRIC_NAMES = {"icc": "ICC(3,1)", "pcc": "PCC", "mae": "MAE"}


@dataclass(frozen=True)
class PublishedIntensityResult:
    method: str
    dataset: str                          # registered dataset name: 'disfa', 'bp4d'
    metric: str                           # 'icc', 'pcc' or 'mae'
    aus: Tuple[int, ...]
    citation: str                         # who printed it
    source: str                           # where exactly: a table, a sheet and row, an abstract
    protocol: str                         # subjects / folds / frames it was measured on
    values: Optional[Tuple[float, ...]] = None   # per AU, in ``aus`` order, where given
    mean: Optional[float] = None          # the mean as printed, where printed
    notes: str = ""
    models: Tuple[str, ...] = ()          # the auzoo models it was published for (none yet)

    def __post_init__(self):
        if self.metric not in METRIC_NAMES:
            raise ValueError(f"published intensity row {self.method!r}: metric {self.metric!r} is "
                             f"not one of {', '.join(METRIC_NAMES)}")
        if self.values is not None and len(self.values) != len(self.aus):
            raise ValueError(f"published intensity row {self.method!r} ({self.dataset}): "
                             f"{len(self.values)} values for {len(self.aus)} AUs")
        if self.values is None and self.mean is None:
            raise ValueError(f"published intensity row {self.method!r}: neither values nor mean")

    @property
    def average(self) -> float:
        """The mean as printed, else the mean of the per-AU values."""
        return self.mean if self.mean is not None else sum(self.values) / len(self.values)

    def value_of(self, au: int) -> Optional[float]:
        return dict(zip(self.aus, self.values)).get(au) if self.values is not None else None


PUBLISHED_INTENSITY_CATALOGUE = enrol("published_intensity", Catalogue(
    "published intensity row", label=lambda key: (f"published intensity row {key[0]!r} "
                                                  f"({key[1]}, {key[2]})")))
# A view of the catalogue: (method, dataset, metric) -> row.
PUBLISHED_INTENSITY: Dict[Tuple[str, str, str], PublishedIntensityResult] = \
    PUBLISHED_INTENSITY_CATALOGUE.entries


def register_published_intensity(row: PublishedIntensityResult,
                                 force: bool = False) -> PublishedIntensityResult:
    """Register ``row`` under (method, dataset, metric), under the clash rule of
    :mod:`auzoo.catalogue` (as :func:`auzoo.report.published.register_published`)."""
    PUBLISHED_INTENSITY_CATALOGUE.register([(row.method, row.dataset, row.metric)], row,
                                           caller_location(), force=force)
    return row


def unregister_published_intensity(key: Tuple[str, str, str]) -> None:
    PUBLISHED_INTENSITY_CATALOGUE.remove(key)


def published_intensity_rows(dataset: Optional[str] = None) -> List[PublishedIntensityResult]:
    registry.ensure_loaded()
    return [r for k, r in sorted(PUBLISHED_INTENSITY.items()) if dataset in (None, r.dataset)]


_FERA_CITATION = ("T. Baltrušaitis's FERA 2015 code and results (HOG + geometry, linear SVR; "
                  "the lineage of OpenFace's AU models), github.com/TadasBaltrusaitis/FERA-2015")
_FERA_SOURCE = "results_v2.xlsx, sheet BP4D_intensity, row '{row}' (column Corr per AU)"
_FERA_PROTOCOL = ("FERA 2015 split: trained on the 21 training subjects, scored on the 20 "
                  "development subjects, per AU over frames coded 0-5 (9 left out); "
                  "not auzoo's 3 folds")
_FERA_NOTES = ("the sheet's 'Averages' column (.655, .675) leaves out AU6; the mean here is of "
               "the five AUs")

register_published_intensity(PublishedIntensityResult(
    method="Baltrušaitis FERA 2015 SVR (submitted)", dataset="bp4d", metric="pcc",
    aus=(6, 10, 12, 14, 17), values=(0.761, 0.765, 0.813, 0.539, 0.503),
    citation=_FERA_CITATION, source=_FERA_SOURCE.format(row="Submitted"),
    protocol=_FERA_PROTOCOL, notes=_FERA_NOTES))
register_published_intensity(PublishedIntensityResult(
    method="Baltrušaitis FERA 2015 SVR (submitted v3)", dataset="bp4d", metric="pcc",
    aus=(6, 10, 12, 14, 17), values=(0.757, 0.768, 0.865, 0.542, 0.526),
    citation=_FERA_CITATION, source=_FERA_SOURCE.format(row="Submitted v3"),
    protocol=_FERA_PROTOCOL, notes=_FERA_NOTES))
register_published_intensity(PublishedIntensityResult(
    method="LibreFace", dataset="disfa", metric="pcc",
    aus=(1, 2, 4, 5, 6, 9, 12, 15, 17, 20, 25, 26), mean=0.63,
    citation="LibreFace (ihp-lab/LibreFace; arXiv 2308.10713)",
    source="abstract (mean PCC over the 12 AUs)",
    protocol=("DISFA, 5-fold cross-validation (its split files are not released); a student "
              "network distilled from a larger pre-trained encoder; not auzoo's 3 folds"),
    notes="per-AU values not read"))

__all__ = ["METRIC_NAMES", "PUBLISHED_INTENSITY", "PUBLISHED_INTENSITY_CATALOGUE", "PublishedIntensityResult",
           "published_intensity_rows", "register_published_intensity",
           "unregister_published_intensity"]
