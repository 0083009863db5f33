"""The published DISFA rows of the TRA-Net paper, registered for auzoo's own models.

    Yao Xia, "Upper, Middle and Lower Region Learning for Facial Action Unit
    Detection" (TRA-Net). Table 1: F1-frame and accuracy for 8 AUs on DISFA.
    Table 2: F1-frame of TRA-Net's ablations.

Values are percentages on AUs (1, 2, 4, 6, 9, 12, 25, 26) under the 3-fold
subject-exclusive protocol. The averages are the paper's as printed; for DRML,
EAC-Net and "w/o ST" they differ from the mean of the printed AU values (the
first two carry over inconsistencies of the original papers), so tables show
both. Rows of other methods that the paper reprints (CMS, LP-Net, DRML …)
belong to no auzoo model here: a plugin that reproduces one of them names it
in its config (``published = 'DRML'``) or registers its own row.
"""
from auzoo.report.published import PublishedResult, register_published

AUS = (1, 2, 4, 6, 9, 12, 25, 26)
CITATION = ('Y. Xia, "Upper, Middle and Lower Region Learning for Facial Action Unit '
            'Detection" (TRA-Net)')
NOTES = ("DISFA, 3 subject-exclusive folds (JAA-Net's), positive = intensity >= 2; "
         "epoch chosen on the test fold")


def _row(method, source, f1, acc=None, models=()):
    *f1_aus, f1_avg = f1
    acc_aus, acc_avg = (tuple(acc[:-1]), acc[-1]) if acc else (None, None)
    register_published(PublishedResult(
        method=method, dataset="disfa", aus=AUS, f1=tuple(f1_aus), f1_avg=f1_avg,
        acc=acc_aus, acc_avg=acc_avg, citation=CITATION, source=source,
        models=tuple(models), notes=NOTES))


# Table 1 (F1-frame; accuracy where the paper gives it). Last value: the paper's "Avg".
_row("CMS", "Table 1", (40.2, 44.3, 53.2, 57.1, 50.3, 73.5, 81.1, 59.7, 57.4),
     (91.6, 94.7, 79.9, 82.6, 95.2, 87.8, 86.3, 80.7, 87.3))
_row("LP-Net", "Table 1", (29.9, 24.7, 72.7, 46.8, 49.6, 72.9, 93.8, 65.0, 56.9))
_row("DRML", "Table 1", (17.3, 17.7, 37.4, 29.0, 10.7, 37.7, 38.5, 20.1, 26.7))
_row("EAC-Net", "Table 1", (41.5, 26.4, 66.4, 50.7, 80.5, 89.3, 88.9, 15.6, 48.5),
     (85.6, 84.9, 79.1, 69.1, 88.1, 90.0, 80.5, 64.8, 80.6))
_row("DSIN", "Table 1", (42.4, 39.0, 68.4, 28.6, 46.8, 70.8, 90.4, 42.2, 53.6))
_row("SRERL", "Table 1", (45.7, 47.8, 59.6, 47.1, 45.6, 73.5, 84.3, 43.6, 55.9))
_row("ARL", "Table 1", (43.9, 42.1, 63.6, 41.8, 40.0, 76.2, 95.2, 66.8, 58.7),
     (92.1, 92.7, 88.5, 91.6, 95.9, 93.9, 97.3, 94.3, 93.3))
_row("STRAL", "Table 1", (52.2, 47.4, 68.9, 47.8, 56.7, 72.5, 91.3, 67.6, 63.0),
     (94.9, 93.5, 89.5, 90.4, 96.8, 92.4, 94.9, 94.0, 93.3))
_row("TRA-Net", "Table 1", (56.9, 61.5, 72.6, 45.2, 46.0, 67.5, 89.5, 33.1, 59.0),
     (97.3, 97.9, 93.5, 96.2, 97.6, 94.2, 95.9, 94.3, 95.9), models=("tranet",))

# Table 2: ablations (F1-frame).
_row("SENet-50", "Table 2", (27.4, 25.8, 70.3, 29.3, 36.6, 64.1, 88.7, 34.0, 47.0),
     models=("senet50",))
_row("SENet-50 + CBAM", "Table 2", (35.4, 39.4, 66.9, 31.2, 39.4, 67.4, 89.9, 30.0, 49.9),
     models=("senet50_cbam",))
_row("SENet-50 + HM", "Table 2", (33.0, 37.0, 58.1, 46.7, 50.0, 68.7, 90.2, 31.5, 51.9),
     models=("senet50_hm",))
_row("SENet-50 + HM + CBAM w/o AT", "Table 2",
     (45.2, 47.8, 66.5, 41.1, 41.3, 72.3, 87.1, 41.0, 55.3), models=("tranet_no_channel",))
_row("SENet-50 + HM + CBAM w/o ST", "Table 2",
     (45.2, 45.8, 65.8, 47.3, 55.1, 70.5, 89.4, 33.3, 56.2), models=("tranet_no_spatial",))
_row("TRA-Net residual", "Table 2", (48.9, 49.4, 63.1, 46.8, 47.3, 70.2, 89.8, 34.8, 56.3),
     models=("tranet_residual",))
