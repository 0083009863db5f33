"""How the AU-weighted sampler shifts each AU's positive rate: ``python -m auzoo.data.sampler_rates``.

For each AU: its positive rate in the training fold, in the test fold, and in
the sampler's batches (the exact expectation, :func:`expected_batch_rates`)
for each choice of ``negatives``. A batch rate far above the test rate pushes
a model's predictions at the fixed 0.5 threshold towards "present". Two
label sets: a synthetic DISFA (``auzoo synth disfa``'s labels, fold 1), and
real DISFA reconstructed from its published counts (frames >= 2 per AU over
130,814 frames); the published counts give each AU's rate but not how AUs
co-occur, so that set draws the AUs independently (which gives fewer
all-negative frames than real DISFA's about one half).
"""
from __future__ import annotations

from typing import Sequence, Tuple

import numpy as np
import pandas as pd

from auzoo.data.datasets.disfa.protocol import (DISFA, DISFA_LABELLED_AUS, DISFA_SUBJECTS,
                                                PUBLISHED_FRAMES, PUBLISHED_POSITIVES)
from auzoo.data.sampler import expected_batch_rates, positive_rates

OPTIONS = ("class", 0.5, 0.0, "natural")


def rate_table(train: np.ndarray, test: np.ndarray, aus: Sequence[int],
               options=OPTIONS, train_mask=None) -> pd.DataFrame:
    """Per AU (rows): train and test positive rates and the batch rate per option, in %."""
    table = pd.DataFrame({"train %": positive_rates(train, train_mask) * 100,
                          "test %": positive_rates(test) * 100}, index=[f"AU{a}" for a in aus])
    for opt in options:
        table[f"batches, negatives={opt!r} %"] = expected_batch_rates(train, train_mask, opt) * 100
    none = lambda x: (~(x > 0).any(1)).mean() * 100  # noqa: E731
    table.loc["no AU"] = [none(train), none(test)] + [np.nan] * len(options)
    return table.round(1)


def synthetic_disfa(frames: int = 300, seed: int = 0, fold: int = 1) -> Tuple[np.ndarray, np.ndarray]:
    """(train, test) 0/1 labels of fold ``fold`` of ``auzoo synth disfa``'s default data."""
    from auzoo.data.datasets.disfa.synth import subject_truth

    cols = [DISFA_LABELLED_AUS.index(a) for a in DISFA.aus]
    per = {s: (subject_truth(s, frames, seed, 256, 192)["labels"][:frames, cols] >= DISFA.threshold)
           for s in DISFA_SUBJECTS}
    train, test = DISFA.fold_subjects(fold)
    return (np.concatenate([per[s] for s in train]).astype(np.uint8),
            np.concatenate([per[s] for s in test]).astype(np.uint8))


def published_disfa(seed: int = 0) -> np.ndarray:
    """130,814 frames with each AU positive at its published rate, AUs independent."""
    rates = np.array([PUBLISHED_POSITIVES[f"au{a}"] for a in DISFA.aus]) / PUBLISHED_FRAMES
    rng = np.random.default_rng(seed)
    return (rng.random((PUBLISHED_FRAMES, len(rates))) < rates).astype(np.uint8)


def markdown(table: pd.DataFrame) -> str:
    """A markdown table (without pandas' optional tabulate)."""
    head = ["AU", *table.columns]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, row in table.iterrows():
        cells = ["" if pd.isna(v) else f"{v:.1f}" for v in row]
        lines.append("| " + " | ".join([str(name), *cells]) + " |")
    return "\n".join(lines)


def main() -> None:
    train, test = synthetic_disfa()
    print("Synthetic DISFA (27 subjects x 300 frames, seed 0), fold 1\n")
    print(markdown(rate_table(train, test, DISFA.aus)))
    real = published_disfa()
    print("\nReal DISFA from the published counts (AUs drawn independently; test = train)\n")
    print(markdown(rate_table(real, real, DISFA.aus)))


if __name__ == "__main__":
    main()
