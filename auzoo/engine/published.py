"""Published DISFA results that auzoo's tables are set beside.

All rows come from one paper, with its own numbering of the methods it
compares against (those numbers are as that paper reports them, under the same
3-fold subject-exclusive protocol):

    Yao Xia, "Upper, Middle and Lower Region Learning for Facial Action Unit
    Detection" (TRA-Net). Table 1: F1-frame and accuracy for 8 AUs on DISFA.
    Table 2: F1-frame of TRA-Net's ablations.

Values are percentages, AUs (1, 2, 4, 6, 9, 12, 25, 26). The averages are the
paper's as printed; for DRML, EAC-Net and "w/o ST" they differ from the mean
of the printed AU values (the first two carry over inconsistencies of the
original papers), so tables show both. A model is matched to
a row by its name (:data:`MODEL_ROWS`), or by a ``published = 'ROW'`` entry in
its config (how a plugin model names the method it reproduces).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Optional, Tuple

AUS: Tuple[int, ...] = (1, 2, 4, 6, 9, 12, 25, 26)

CITATION = ('Y. Xia, "Upper, Middle and Lower Region Learning for Facial Action Unit '
            'Detection" (TRA-Net)')


@dataclass(frozen=True)
class PublishedRow:
    key: str       # short name used in configs: 'TRA-Net', 'JAA', 'SENet-50 + HM' ...
    method: str    # how the paper names the method
    source: str    # 'Table 1' / 'Table 2' of the TRA-Net paper
    f1: Tuple[float, ...]
    f1_avg: float
    acc: Optional[Tuple[float, ...]] = None
    acc_avg: Optional[float] = None

    @property
    def f1_mean_of_aus(self) -> float:
        return sum(self.f1) / len(self.f1)

    @property
    def citation(self) -> str:
        return f"{CITATION}, {self.source}"


def _row(key, method, source, f1, acc=None):
    *f1_aus, f1_avg = f1
    acc_aus, acc_avg = (tuple(acc[:-1]), acc[-1]) if acc else (None, None)
    return PublishedRow(key, method, source, tuple(f1_aus), f1_avg, acc_aus, acc_avg)


# Table 1 (F1-frame; accuracy where the paper gives it). Last value: the paper's "Avg".
_TABLE1 = [
    _row("CMS", "CMS", "Table 1", (40.2, 44.3, 53.2, 57.1, 50.3, 73.5, 81.1, 59.7, 57.4),
         (91.6, 94.7, 79.9, 82.6, 95.2, 87.8, 86.3, 80.7, 87.3)),
    _row("LP", "LP-Net", "Table 1", (29.9, 24.7, 72.7, 46.8, 49.6, 72.9, 93.8, 65.0, 56.9)),
    _row("DRML", "DRML", "Table 1", (17.3, 17.7, 37.4, 29.0, 10.7, 37.7, 38.5, 20.1, 26.7)),
    _row("EAC", "EAC-Net", "Table 1", (41.5, 26.4, 66.4, 50.7, 80.5, 89.3, 88.9, 15.6, 48.5),
         (85.6, 84.9, 79.1, 69.1, 88.1, 90.0, 80.5, 64.8, 80.6)),
    _row("DSIN", "DSIN", "Table 1", (42.4, 39.0, 68.4, 28.6, 46.8, 70.8, 90.4, 42.2, 53.6)),
    _row("JAA", "JAA-Net", "Table 1", (43.7, 46.2, 56.0, 41.4, 44.7, 69.6, 88.3, 58.4, 56.0),
         (93.4, 96.1, 86.9, 91.4, 95.8, 91.2, 93.4, 93.2, 92.7)),
    _row("SRERL", "SRERL", "Table 1", (45.7, 47.8, 59.6, 47.1, 45.6, 73.5, 84.3, 43.6, 55.9)),
    _row("ARL", "ARL", "Table 1", (43.9, 42.1, 63.6, 41.8, 40.0, 76.2, 95.2, 66.8, 58.7),
         (92.1, 92.7, 88.5, 91.6, 95.9, 93.9, 97.3, 94.3, 93.3)),
    _row("STRAL", "STRAL", "Table 1", (52.2, 47.4, 68.9, 47.8, 56.7, 72.5, 91.3, 67.6, 63.0),
         (94.9, 93.5, 89.5, 90.4, 96.8, 92.4, 94.9, 94.0, 93.3)),
    _row("TRA-Net", "TRA-Net", "Table 1", (56.9, 61.5, 72.6, 45.2, 46.0, 67.5, 89.5, 33.1, 59.0),
         (97.3, 97.9, 93.5, 96.2, 97.6, 94.2, 95.9, 94.3, 95.9)),
]

# Table 2: ablations (F1-frame).
_TABLE2 = [
    _row("SENet-50", "SENet-50", "Table 2", (27.4, 25.8, 70.3, 29.3, 36.6, 64.1, 88.7, 34.0, 47.0)),
    _row("SENet-50 + CBAM", "SENet-50 + CBAM", "Table 2",
         (35.4, 39.4, 66.9, 31.2, 39.4, 67.4, 89.9, 30.0, 49.9)),
    _row("SENet-50 + HM", "SENet-50 + HM", "Table 2",
         (33.0, 37.0, 58.1, 46.7, 50.0, 68.7, 90.2, 31.5, 51.9)),
    _row("SENet-50 + HM + CBAM w/o AT", "SENet-50 + HM + CBAM w/o AT (no channel attention)",
         "Table 2", (45.2, 47.8, 66.5, 41.1, 41.3, 72.3, 87.1, 41.0, 55.3)),
    _row("SENet-50 + HM + CBAM w/o ST", "SENet-50 + HM + CBAM w/o ST (no spatial attention)",
         "Table 2", (45.2, 45.8, 65.8, 47.3, 55.1, 70.5, 89.4, 33.3, 56.2)),
    _row("TRA-Net residual", "TRA-Net with residual structure", "Table 2",
         (48.9, 49.4, 63.1, 46.8, 47.3, 70.2, 89.8, 34.8, 56.3)),
]

ROWS: Dict[str, PublishedRow] = {row.key: row for row in _TABLE1 + _TABLE2}

# auzoo model name -> published row.
MODEL_ROWS: Dict[str, str] = {
    "tranet": "TRA-Net",
    "senet50": "SENet-50",
    "senet50_cbam": "SENet-50 + CBAM",
    "senet50_hm": "SENet-50 + HM",
    "tranet_no_channel": "SENet-50 + HM + CBAM w/o AT",
    "tranet_no_spatial": "SENet-50 + HM + CBAM w/o ST",
    "tranet_residual": "TRA-Net residual",
    "cms": "CMS",
    "lp_net": "LP",
    "drml": "DRML",
    "eac_net": "EAC",
    "dsin": "DSIN",
    "jaa": "JAA",
    "jaa_net": "JAA",
    "jaa_lite": "JAA",
    "srerl": "SRERL",
    "arl": "ARL",
    "stral": "STRAL",
}


def published_row(model_name: str, cfg=None) -> Optional[PublishedRow]:
    """The published row for a model: its config's ``published`` entry if it
    has one, else :data:`MODEL_ROWS` by name; None when the paper has none."""
    key = None
    if cfg is not None:
        key = cfg.get("published", None)
        if key is not None and key not in ROWS:
            raise KeyError(f"config of '{model_name}' names published row {key!r}; "
                           f"known rows: {', '.join(ROWS)}")
    if key is None:
        key = MODEL_ROWS.get(model_name)
    return ROWS.get(key) if key else None
