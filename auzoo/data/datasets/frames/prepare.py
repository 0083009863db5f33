"""``auzoo prepare frames LABELS.csv --out CACHE``: a lab's own labelled frames.

Every row of the CSV (:mod:`auzoo.data.datasets.frames.reader`) is a frame: an image, or
a frame of a video. Faces are found by auzoo's dlib pipeline (tracked while
a video's labelled frames follow each other, found afresh otherwise),
aligned like DISFA's and written to the same cache as DISFA and BP4D. A row
whose file is missing (or whose video has no such frame) is counted, named
in the report and left out; a frame without a face stays in the index,
flagged, image black. The folds (the CSV's ``fold`` column, or ``--folds K``
balanced by frames) and the threshold are pinned in the cache.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import cv2
import numpy as np
import pandas as pd

from auzoo.data.align import LOOSE_SIZE
from auzoo.data.cache_format import NOT_CODED, label_column
from auzoo.data.datasets.frames.protocol import OwnFramesDataset, balanced_folds
from auzoo.data.datasets.frames.reader import LabelRow, LabelsCsv, LabelsCsvError
from auzoo.data.detected import DLIB_68, VideoLandmarks
from auzoo.data.prepare import report
from auzoo.data.prepare.frames_out import SubjectArrays, subject_digest
from auzoo.data.prepare.writer import Source, run_prepare

TOTAL_KEYS = ("rows", "frames", "missing_files", "no_face", "landmarks_unusable", "aligned_frames")


class VideoFrames:
    """Frames of one video by number (BGR), decoded forward with auzoo's one
    decoder (:mod:`auzoo.vision.video`), reopened to go back."""

    def __init__(self, path: Path):
        self.path, self.frames, self.next = path, None, 0

    def get(self, frame: int) -> Optional[np.ndarray]:
        from auzoo.vision.video import VideoError, iter_frames

        if self.frames is None or frame < self.next:
            self.close()
            self.frames, self.next = iter_frames(self.path, format="bgr24", threads=1), 0
        try:
            for index, _, bgr in self.frames:
                self.next = index + 1
                if index == frame:
                    return bgr
        except VideoError:  # unreadable: counted by the caller like a frame past the end
            self.close()
        return None

    def close(self) -> None:
        if self.frames is not None:
            self.frames.close()
            self.frames = None


@dataclass
class FramesJob:
    """One subject's rows, ready to write in a worker."""

    subject: str
    aus: Tuple[int, ...]
    rows: List[LabelRow]

    def __call__(self, folder: Path, size: int, progress) -> Tuple[pd.DataFrame, dict]:
        present = [r for r in self.rows if r.file.is_file()]
        missing = [f"line {r.line}: {r.path} (file not found)" for r in self.rows
                   if not r.file.is_file()]
        out = SubjectArrays(folder, len(present), size)
        detect, videos, previous = VideoLandmarks(), {}, None
        kept: List[LabelRow] = []
        for r in present:
            if r.frame is None:
                bgr = cv2.imread(str(r.file), cv2.IMREAD_COLOR)
            else:
                bgr = videos.setdefault(r.file, VideoFrames(r.file)).get(r.frame)
            if bgr is None:
                what = "not an image" if r.frame is None else f"video has no frame {r.frame}"
                missing.append(f"line {r.line}: {r.path} ({what})")
                continue
            if r.frame is None or previous != (r.file, r.frame - 1):
                detect.restart()        # not the next frame of the same video: find the face afresh
            previous = (r.file, r.frame)
            out.add(len(kept), bgr, detect(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)))
            kept.append(r)
            if len(kept) % 20 == 0:
                progress(20)
        for v in videos.values():
            v.close()
        progress(len(self.rows) - 20 * (len(kept) // 20))
        out.close(len(kept))
        labels = np.array([r.labels for r in kept], dtype=np.uint8).reshape(len(kept), len(self.aus))
        index = pd.DataFrame({"subject": self.subject, "sequence": [r.sequence for r in kept],
                              "frame": np.array([-1 if r.frame is None else r.frame for r in kept],
                                                dtype=np.int64),
                              "path": [r.path for r in kept], "line": [r.line for r in kept]})
        for c, au in enumerate(self.aus):
            index[label_column(au)] = labels[:, c]
        index["landmarks_missing"] = out.missing
        index["aligned"] = out.aligned
        index["bad_landmarks"] = ~out.aligned
        record = {"rows": len(self.rows), "frames": len(kept), "missing_files": len(missing),
                  "missing": missing, "no_face": int(out.missing.sum()),
                  "landmarks_unusable": int((~out.aligned & ~out.missing).sum()),
                  "aligned_frames": int(out.aligned.sum()), "landmark_source": DLIB_68,
                  "face_detector": detect.describe(), "detector_runs": detect.detections,
                  "digest": subject_digest(self.subject, labels, out.source)}
        return index, record


def _test_folds(labels: LabelsCsv, folds: Optional[int]) -> Dict[int, Tuple[str, ...]]:
    if labels.rows[0].fold is not None:
        by_fold: Dict[int, set] = {}
        for r in labels.rows:
            by_fold.setdefault(r.fold, set()).add(r.subject)
        if len(by_fold) < 2:
            raise LabelsCsvError(f"{labels.path}: the fold column names one fold only; "
                                 "a fold's training set would be empty")
        return {k: tuple(sorted(v)) for k, v in sorted(by_fold.items())}
    n = len(labels.subjects)
    if n < 2:
        return {}            # one subject: nothing to hold out
    return balanced_folds(labels.frames_per_subject(), folds or min(3, n))


class FramesSource(Source):
    dataset = "frames"
    total_keys = TOTAL_KEYS

    def __init__(self, csv_path, folds: Optional[int] = None, threshold: Optional[int] = None):
        self.labels = LabelsCsv(csv_path)
        self.root = Path(csv_path)
        self.units = self.labels.subjects
        values = self.labels.label_array()
        coded = values[values != NOT_CODED]
        top = int(coded.max()) if coded.size else 1
        t = 1 if threshold is None else int(threshold)
        if not 1 <= t <= max(top, 1):
            raise LabelsCsvError(f"{self.root}: --threshold {t}, but the largest label value is "
                                 f"{top}: no frame would be positive")
        self.protocol = OwnFramesDataset(self.labels.aus, t, max(top, 1),
                                         _test_folds(self.labels, folds), self.root.name)
        self.settings = {
            "labels_sha256": hashlib.sha256(self.root.read_bytes()).hexdigest(),
            "threshold": t,
            "folds": {str(k): list(v) for k, v in self.protocol.parts_by_fold().items()},
        }

    def unit_frames(self, unit: str) -> int:
        return self.labels.frames_per_subject()[unit]

    def job(self, unit: str) -> FramesJob:
        return FramesJob(unit, self.labels.aus, [r for r in self.labels.rows if r.subject == unit])

    def meta(self, records: Dict[str, dict]) -> dict:
        return {"protocol": self.protocol.to_meta(), "labels_csv": str(self.root.resolve()),
                "csv_columns_left_out": self.labels.ignored, "landmark_source": DLIB_68,
                "synthetic": False}

    def report(self, meta: dict, skipped: List[str], console) -> None:
        report.frames_report(meta, skipped, console)


def prepare_frames(labels_csv, out, workers: int = 1, size: int = LOOSE_SIZE, folds: Optional[int] = None,
                   threshold: Optional[int] = None, console=None) -> dict:
    """Find, align and index the frames a labels CSV lists into the cache ``out``."""
    source = FramesSource(labels_csv, folds, threshold)
    _check_same_labels(Path(out), source)
    return run_prepare(source, out, workers=workers, size=size, console=console)


def _check_same_labels(out: Path, source: "FramesSource") -> None:
    """A cache holds the labels it was prepared from: an edited CSV (or another
    one) is refused in words, not as two hashes."""
    import json

    from auzoo.data.cache_format import SETTINGS

    path = out / SETTINGS
    if not path.is_file():
        return
    before = json.loads(path.read_text()).get("labels_sha256")
    now = source.settings["labels_sha256"]
    if before is not None and before != now:
        raise ValueError(
            f"{out} was prepared from other labels: {source.root} is not the labels CSV it was "
            f"made from, or that CSV has changed since (SHA-256 {before[:12]}… then, {now[:12]}… "
            f"now). A cache keeps the labels it was prepared with: prepare into another --out, "
            f"or delete {out} to prepare it again")
