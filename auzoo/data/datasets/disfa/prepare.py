"""``auzoo prepare disfa ROOT --out CACHE``: decode, align and index DISFA once.

Every video is decoded once, frame by frame; every frame is aligned with its
own landmarks (:func:`auzoo.data.align.align_face`) and written to a
memory-mappable array that training reads directly. The left camera's
landmarks are DISFA's annotations; the right camera's are found on each frame
by dlib (:mod:`auzoo.data.detected`), since the annotations are in the left
camera's pixels. Subjects run in parallel and resume
(:mod:`auzoo.data.prepare.writer`).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple

import cv2
import numpy as np
import pandas as pd

from auzoo.data.align import LOOSE_SIZE
from auzoo.data.cache_format import label_column
from auzoo.data.datasets.disfa.protocol import DISFA, DISFA_LABELLED_AUS, error_log_mask
from auzoo.data.datasets.disfa.reader import DisfaRoot, DisfaSubject
from auzoo.data.detected import ANNOTATED, DLIB_68, VideoLandmarks
from auzoo.data.prepare import report
from auzoo.data.prepare.frames_out import SubjectArrays, subject_digest
from auzoo.data.prepare.writer import Source, run_prepare

LABEL_COLUMNS = tuple(label_column(a) for a in DISFA_LABELLED_AUS)
FLAG_COLUMNS = ("error_log", "landmarks_missing", "aligned", "bad_landmarks")
INDEX_COLUMNS = ("subject", "frame", *LABEL_COLUMNS, *FLAG_COLUMNS)
TOTAL_KEYS = ("frames", "landmarks_missing", "landmarks_unusable", "error_log_frames",
              "aligned_frames", "bad_landmark_frames")


def prepare_subject(files: DisfaSubject, folder: Path, size: int,
                    progress: Optional[Callable[[int], None]] = None) -> Tuple[pd.DataFrame, dict]:
    """Write one subject's arrays into ``folder``; returns its index rows and record.

    Left camera: every frame is aligned with DISFA's annotated landmarks.
    Right camera: DISFA's landmarks are in the left camera's pixels, so each
    frame is aligned with the landmarks dlib finds on it; a frame where no
    face is found counts as one without landmarks, and the Error_LOG
    (annotation errors of the left camera's points) does not apply.
    """
    labels, label_lines = files.read_labels()
    n_labels = len(labels)
    annotated = files.camera == "left"
    source, missing, detect = None, None, None
    if annotated:
        source, missing = files.landmarks.read(n_labels)
    else:
        detect = VideoLandmarks()
    out = SubjectArrays(folder, n_labels, size)
    n = _align_video(files, out, source, missing, detect, progress)
    out.close(n)

    # Positives over all label lines (not only the decoded frames), as published.
    positives = {name: int((labels[:, c] >= DISFA.threshold).sum())
                 for c, name in enumerate(LABEL_COLUMNS)}
    labels = labels[:n]
    error_log = error_log_mask(files.subject, n) if annotated else np.zeros(n, dtype=bool)
    index = pd.DataFrame({"subject": files.subject, "frame": np.arange(n)})
    for c, name in enumerate(LABEL_COLUMNS):
        index[name] = labels[:, c]
    index["error_log"] = error_log
    index["landmarks_missing"] = out.missing
    index["aligned"] = out.aligned
    index["bad_landmarks"] = error_log | ~out.aligned
    record = {
        "frames": n,
        "camera": files.camera,
        "video": str(files.video),
        "label_lines": min(label_lines.values()),
        "label_lines_per_au": ({label_column(a): c for a, c in label_lines.items()}
                               if len(set(label_lines.values())) > 1 else None),
        "decoded_frames": n,
        "video_frames_reported": _reported_frame_count(files.video),
        "landmark_source": ANNOTATED if annotated else DLIB_68,
        **(_annotation_record(files.landmarks) if annotated else _detection_record(detect)),
        "landmarks_missing": int(out.missing.sum()),
        "landmarks_unusable": int((~out.aligned & ~out.missing).sum()),
        "error_log_frames": int(error_log.sum()),
        "aligned_frames": int(out.aligned.sum()),
        "bad_landmark_frames": int((error_log | ~out.aligned).sum()),
        "positives_all_lines": positives,
        "digest": subject_digest(files.subject, labels, out.source),
    }
    return index, record


def _align_video(files: DisfaSubject, out: SubjectArrays, source, missing, detect,
                 progress) -> int:
    """Decode the video once and align each frame; returns the frames decoded."""
    n_labels = out.n
    n = 0
    for k, bgr in enumerate(files.frames(limit=n_labels, rgb=False)):
        n = k + 1
        if detect is not None:
            points = detect(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
        else:
            points = None if missing[k] else source[k]
        out.add(k, bgr, points)
        if progress is not None and n % 50 == 0:
            progress(50)
    if progress is not None and n_labels - 50 * (n // 50):
        progress(n_labels - 50 * (n // 50))  # the rest, and any frames the video lacks
    return n


def _annotation_record(landmark_files) -> dict:
    return {"landmark_folder": str(landmark_files.folder) if landmark_files.folder else None,
            "landmark_files": len(landmark_files.files),
            "landmark_numbering_starts_at": landmark_files.first_number}


def _detection_record(detect: VideoLandmarks) -> dict:
    return {"landmark_folder": None, "landmark_files": 0, "landmark_numbering_starts_at": None,
            "face_detector": detect.describe(), "detector_runs": detect.detections}


def _reported_frame_count(video: Path) -> Optional[int]:
    from auzoo.vision.video import count_frames

    n = count_frames(video)
    return n if n else None


@dataclass(frozen=True)
class DisfaJob:
    """One subject's work, small enough to send to a worker."""

    root: str
    camera: str
    subject: str

    def __call__(self, folder: Path, size: int, progress) -> Tuple[pd.DataFrame, dict]:
        return prepare_subject(DisfaRoot(self.root, self.camera)[self.subject], folder, size, progress)


class DisfaSource(Source):
    dataset = "disfa"
    total_keys = TOTAL_KEYS

    def __init__(self, root, camera: str = "left"):
        self.data = DisfaRoot(root, camera)
        self.root = Path(root)
        self.camera = camera
        self.units = self.data.subjects
        self.settings = {"camera": camera}

    def unit_frames(self, unit: str) -> int:
        with open(self.data[unit].label_files[DISFA_LABELLED_AUS[0]], "rb") as f:
            return sum(1 for line in f if line.strip())

    def job(self, unit: str) -> DisfaJob:
        return DisfaJob(str(self.root), self.camera, unit)

    def meta(self, records: Dict[str, dict]) -> dict:
        from auzoo.data.synth import SYNTH_MARKER

        return {"camera": self.camera,
                "landmark_source": ANNOTATED if self.camera == "left" else DLIB_68,
                "error_log_applied": self.camera == "left",
                "synthetic": (self.root / SYNTH_MARKER).is_file()}

    def report(self, meta: dict, skipped: List[str], console) -> None:
        report.disfa_report(meta, skipped, console)


def prepare_disfa(root, out, workers: int = 1, camera: str = "left", size: int = LOOSE_SIZE,
                  subjects: Optional[List[str]] = None, console=None) -> dict:
    """Decode, align and index a DISFA root into the cache folder ``out``.

    Returns the cache's ``meta`` dict ({} while unfinished). ``subjects``
    restricts the work to some subjects (the cache is finished only when every
    subject of the root is).
    """
    source = DisfaSource(root, camera)
    wanted = None if subjects is None else [s.upper() for s in subjects]
    return run_prepare(source, out, workers=workers, size=size, subjects=wanted, console=console)
