"""The prepared cache's on-disk format: names, version, label encoding.

Shared by the writer (:mod:`auzoo.data.prepare`) and the reader
(:mod:`auzoo.data.cache`), so that reading a cache never imports the code
that writes one. The layout::

    CACHE/settings.json                   what the cache is being written with (checked on a rerun)
    CACHE/meta.json                       written last: its presence marks a finished cache
    CACHE/index.csv                       one row per frame, every subject
    CACHE/subjects/<S>/frames.npy         (n, S, S, 3) uint8 RGB loose face crops (not aligned)
    CACHE/subjects/<S>/landmarks.npy      (n, 66, 2) float32 landmarks in the crop, NaN if missing
    CACHE/subjects/<S>/frame_box.npy      (n, 4) float32 the source frame's edges in the crop
                                          (x0, y0, x1, y1): beyond them a recipe puts its border
    CACHE/subjects/<S>/landmarks_source.npy, matrices.npy (source -> crop), index.csv, done.json

A model's recipe (its ``test_pipeline``/``train_pipeline``) aligns each face
from the loose crop when it is loaded, so one cache serves every model.

Row k of a subject's arrays is that subject's k-th row of ``index.csv``.
"""
from __future__ import annotations

CACHE_FORMAT = "auzoo-cache"
# 3: loose crops, aligned by each model's pipeline at load time. 1 and 2 held
# faces aligned TRA-Net's way, which other recipes cannot be made from exactly.
CACHE_VERSION = 3

SUBJECTS_DIR = "subjects"
DONE = "done.json"
META = "meta.json"
INDEX = "index.csv"
SETTINGS = "settings.json"

FRAMES_FILE = "frames.npy"
LANDMARKS_FILE = "landmarks.npy"
SOURCE_LANDMARKS_FILE = "landmarks_source.npy"
MATRICES_FILE = "matrices.npy"
FRAME_BOX_FILE = "frame_box.npy"

# Label columns are ``au{N}`` holding uint8 values (0/1 occurrence or 0-5
# intensity, as the dataset codes them); NOT_CODED marks a frame whose AU was
# not coded (BP4D's 9, an own CSV's empty cell): it is neither positive nor
# negative anywhere.
NOT_CODED = 255
FLAG_COLUMNS = ("landmarks_missing", "aligned", "bad_landmarks")
# A dataset that codes intensity apart from occurrence (BP4D: 0/1 occurrence
# CSVs and 0-5 intensity files for 5 AUs) keeps it in ``au{N}_intensity``
# columns, uint8 0-5 with NOT_CODED; DISFA's ``au{N}`` columns are intensities.
INTENSITY_SUFFIX = "_intensity"
N_LANDMARKS = 66


def label_column(au: int) -> str:
    return f"au{int(au)}"


def column_au(name: str) -> int:
    return int(name[2:])


def is_label_column(name: str) -> bool:
    return name.startswith("au") and name[2:].isdigit()


def intensity_column(au: int) -> str:
    return f"au{int(au)}{INTENSITY_SUFFIX}"


def is_intensity_column(name: str) -> bool:
    return name.endswith(INTENSITY_SUFFIX) and is_label_column(name[:-len(INTENSITY_SUFFIX)])
