"""BP4D: its protocol (:mod:`.protocol`), the reader of a copy on disk in
either layout (:mod:`.reader`, intensity codes :mod:`.intensity`),
``auzoo prepare bp4d`` (:mod:`.prepare`) and ``auzoo synth bp4d``
(:mod:`.synth`). Importing the package registers the protocol only."""
from auzoo.data.datasets.bp4d.protocol import (BP4D, BP4D_AUS, BP4D_SUBJECTS, BP4D_TASKS,
                                               CSV_NOT_CODED, FERA2015_INTENSITY_AUS, MAX_CODED_AU,
                                               PARTS, PUBLISHED_CLASS_WEIGHTS, Bp4dDataset)

__all__ = ["BP4D", "BP4D_AUS", "BP4D_SUBJECTS", "BP4D_TASKS", "CSV_NOT_CODED",
           "FERA2015_INTENSITY_AUS", "MAX_CODED_AU", "PARTS", "PUBLISHED_CLASS_WEIGHTS",
           "Bp4dDataset"]
