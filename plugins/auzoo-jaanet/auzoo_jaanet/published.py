"""JAA-Net's published results (ECCV 2018), registered for the ``jaanet`` model only.

Frame-level F1 (%) per AU, the mean of JAA-Net's three subject-exclusive folds.
The per-AU values are the ones later work reprints from the paper; their
averages (60.0 on BP4D, 56.0 on DISFA) match the paper's. The paper also gives
per-AU accuracy, not registered here because the values could not be checked.
"""
from auzoo.report.published import PublishedResult, register_published

CITATION = ('Z. Shao, Z. Liu, J. Cai, L. Ma, "Deep Adaptive Attention for Joint Facial Action '
            'Unit Detection and Face Alignment", ECCV 2018')
SOURCE = "F1-frame results (per-AU values as reprinted by later work)"
COMMON_NOTES = ("3-fold subject-exclusive cross-validation on JAA-Net's own frame lists, F1 at "
                "P(present) >= 0.5, reported number = mean over the 3 test folds; the authors' "
                "code scores every epoch on the test fold, and which epoch the paper's table used "
                "is not stated; 176 px crops of faces aligned at 200 px; model trained from "
                "scratch (no ImageNet weights)")

BP4D = register_published(PublishedResult(
    method="JAA-Net", dataset="bp4d",
    aus=(1, 2, 4, 6, 7, 10, 12, 14, 15, 17, 23, 24),
    f1=(47.2, 44.0, 54.9, 77.5, 74.6, 84.0, 86.9, 61.9, 43.6, 60.3, 42.7, 41.9),
    f1_avg=60.0, citation=CITATION, source=SOURCE, models=("jaanet",),
    notes=("BP4D: 41 subjects in parts of 14/14/13, 146,576 frames (frames without landmarks "
           "left out of the authors' lists), 12 AUs; " + COMMON_NOTES)))

DISFA = register_published(PublishedResult(
    method="JAA-Net", dataset="disfa",
    aus=(1, 2, 4, 6, 9, 12, 25, 26),
    f1=(43.7, 46.2, 56.0, 41.4, 44.7, 69.6, 88.3, 58.4),
    f1_avg=56.0, citation=CITATION, source=SOURCE, models=("jaanet",),
    notes=("DISFA: left camera, 27 subjects in parts of 9/9/9, 126,144 frames (the dataset's "
           "bad-landmark frames dropped), positive = intensity >= 2, 8 AUs; the authors' "
           "released DISFA recipe starts from a BP4D-trained JAA-Net (whether the paper did "
           "is not stated); " + COMMON_NOTES)))

__all__ = ["BP4D", "CITATION", "DISFA"]
