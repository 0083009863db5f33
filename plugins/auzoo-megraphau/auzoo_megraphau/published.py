"""ME-GraphAU's published results, registered for the auzoo models that reproduce them.

F1-frame (%) per AU, the mean over the 3 subject-exclusive folds, as printed in
the paper and repeated in the official repository's README ("Main Results");
the averages are as printed. Each row belongs to the stage-2 config of its
backbone: the paper reports the full (MEFL) model.
"""
from auzoo.report.published import PublishedResult, register_published

from auzoo_megraphau.model import BP4D_AUS, DISFA_AUS

CITATION = ('Luo, Song, Xie, Shen, Gunes, "Learning Multi-dimensional Edge Feature-based AU '
            'Relation Graph for Facial Action Unit Recognition", IJCAI-ECAI 2022')
SOURCE = "main results (paper tables; official README)"
_SELECTION = ("no validation split: the test fold is scored every epoch and the epoch is chosen on it "
              "(maintainers: early stop picked on one test fold, issues #4, #7), so read the numbers "
              "as optimistic; ImageNet initialisation; F1 at p >= 0.5 over all frames of a test fold, "
              "averaged over the 3 folds")
NOTES = {
    "disfa": ("DISFA left camera, 8 AUs, positive = intensity >= 2, every frame kept (130,814; no "
              "bad-frame filtering), 3 subject-exclusive folds (JAA-Net's parts); " + _SELECTION),
    "bp4d": ("BP4D, 12 AUs, 3 subject-exclusive folds, all 146,847 coded frames; " + _SELECTION),
}

# method, dataset, per-AU F1 in the dataset's AU order, printed average, auzoo model
ROWS = (
    ("ME-GraphAU (ResNet-50)", "disfa",
     (54.6, 47.1, 72.9, 54.0, 55.7, 76.7, 91.1, 53.0), 63.1, "megraphau_r50"),
    ("ME-GraphAU (Swin-B)", "disfa",
     (52.5, 45.7, 76.1, 51.8, 46.5, 76.1, 92.9, 57.6), 62.4, "megraphau_swinb"),
    ("ME-GraphAU (ResNet-50)", "bp4d",
     (53.7, 46.9, 59.0, 78.5, 80.0, 84.4, 87.8, 67.3, 52.5, 63.2, 50.6, 52.4), 64.7, "megraphau_r50"),
    ("ME-GraphAU (Swin-B)", "bp4d",
     (52.7, 44.3, 60.9, 79.9, 80.1, 85.3, 89.2, 69.4, 55.4, 64.4, 49.8, 55.1), 65.5, "megraphau_swinb"),
)
AUS = {"disfa": DISFA_AUS, "bp4d": BP4D_AUS}


def register_rows() -> None:
    for method, dataset, f1, avg, model in ROWS:
        register_published(PublishedResult(
            method=method, dataset=dataset, aus=AUS[dataset], f1=f1, f1_avg=avg,
            citation=CITATION, source=SOURCE, models=(model,), notes=NOTES[dataset]))


__all__ = ["CITATION", "NOTES", "ROWS", "register_rows"]
