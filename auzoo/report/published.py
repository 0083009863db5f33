"""Published results as registered data.

A published row is one method's per-AU F1 (and accuracy where printed) on one
dataset, with where it was printed and under what protocol. Rows are data that
whoever ships a model registers beside it (auzoo's own rows in
:mod:`auzoo.report.published_rows`, a plugin's in its package), so that a
report sets each model beside the numbers published *for that model* and no
other: a row names the auzoo models it belongs to.

A config can also name its row explicitly: ``published = 'TRA-Net'`` (a
method name), or per dataset ``published = dict(disfa='JAA-Net', bp4d='JAA-Net')``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

from auzoo import registry
from auzoo.catalogue import Catalogue, Provider, caller_location, enrol


@dataclass(frozen=True)
class PublishedResult:
    """One method's published per-AU scores on one dataset (percentages)."""

    method: str                   # as the paper names it: 'TRA-Net', 'ME-GraphAU (ResNet-50)'
    dataset: str                  # registered dataset name: 'disfa', 'bp4d'
    aus: Tuple[int, ...]
    f1: Tuple[float, ...]
    citation: str                 # who printed it, where
    source: str = ""              # 'Table 1'
    f1_avg: Optional[float] = None  # the average as printed (may differ from the mean of f1)
    acc: Optional[Tuple[float, ...]] = None
    acc_avg: Optional[float] = None
    models: Tuple[str, ...] = ()  # the auzoo models this row belongs to
    notes: str = ""               # protocol: frame set, bad frames, epoch chosen on test …

    def __post_init__(self):
        if len(self.f1) != len(self.aus):
            raise ValueError(f"published row {self.method!r} ({self.dataset}): {len(self.f1)} F1 "
                             f"values for {len(self.aus)} AUs")
        if self.acc is not None and len(self.acc) != len(self.aus):
            raise ValueError(f"published row {self.method!r} ({self.dataset}): {len(self.acc)} "
                             f"accuracies for {len(self.aus)} AUs")

    @property
    def average(self) -> float:
        """The printed average, else the mean of the printed AUs."""
        return self.f1_avg if self.f1_avg is not None else sum(self.f1) / len(self.f1)

    def f1_of(self, au: int) -> Optional[float]:
        return dict(zip(self.aus, self.f1)).get(au)


PUBLISHED_CATALOGUE = enrol("published", Catalogue(
    "published row", label=lambda key: f"published row {key[0]!r} on {key[1]}"))
# Views of the catalogue: (method, dataset) -> row, and who registered it.
PUBLISHED: Dict[Tuple[str, str], PublishedResult] = PUBLISHED_CATALOGUE.entries
PUBLISHED_PROVIDERS: Dict[Tuple[str, str], Provider] = PUBLISHED_CATALOGUE.providers


def register_published(row: PublishedResult, force: bool = False) -> PublishedResult:
    """Register ``row`` under (method, dataset), under the one clash rule of
    :mod:`auzoo.catalogue`: the same row again changes nothing, another row
    under a taken key is a :class:`~auzoo.catalogue.RegistryConflictError`
    naming both providers (while plugins load: refused once all have loaded)."""
    PUBLISHED_CATALOGUE.register([(row.method, row.dataset)], row, caller_location(), force=force)
    return row


def unregister_published(key: Tuple[str, str]) -> None:
    PUBLISHED_CATALOGUE.remove(key)


def published_rows(dataset: Optional[str] = None) -> List[PublishedResult]:
    registry.ensure_loaded()
    return [r for (m, d), r in sorted(PUBLISHED.items()) if dataset in (None, d)]


def published_for(model: str, dataset: str, cfg: Optional[Mapping] = None) -> Optional[PublishedResult]:
    """The row published for ``model`` on ``dataset``: the config's ``published``
    entry if it has one, else the row that lists the model; None if none."""
    registry.ensure_loaded()
    named = cfg.get("published", None) if cfg is not None else None
    if isinstance(named, Mapping):
        named = named.get(dataset)
    if named is not None:
        row = PUBLISHED_CATALOGUE.get((str(named), dataset))
        if row is None:
            known = sorted(m for m, d in PUBLISHED if d == dataset)
            raise KeyError(f"config of '{model}' names published row {named!r} on {dataset}; "
                           f"rows on {dataset}: {', '.join(known) or '(none)'}")
        return row
    for (_, d), row in sorted(PUBLISHED.items()):
        if d == dataset and model in row.models:
            return row
    return None


def methods_table(rows: Sequence[PublishedResult]) -> List[Dict]:
    """Plain dicts for ``auzoo list published``."""
    def provider(r):
        return PUBLISHED_PROVIDERS.get((r.method, r.dataset))

    return [dict(method=r.method, dataset=r.dataset, models=", ".join(r.models) or "-",
                 avg=round(r.average, 1), aus=len(r.aus), source=f"{r.citation} {r.source}".strip(),
                 provider=str(provider(r) or "?"), table=r.source or "-", citation=r.citation,
                 provided_by=getattr(provider(r), "name", "?"))
            for r in rows]
