"""``auzoo prepare bp4d ROOT --out CACHE``: every coded frame of BP4D, aligned once.

Each of the 328 subject x task sequences contributes the frames its
occurrence CSV codes. Faces: 68 landmarks found by auzoo's dlib pipeline on
every frame (tracked within a sequence, :mod:`auzoo.data.detected`), or
JAA-Net's 49-point lists with ``--landmarks`` (their missing jaw placed from
the mean face for the alignment only). Frames are aligned like DISFA's. A
coded frame whose image is missing is counted, named and left out of the
index; a frame without a face stays in the index, flagged, image black.
Images are decoded at half size (1040 x 1392 -> 520 x 696, in the JPEG
decoder itself): the aligned face is smaller still, so nothing is lost, and
decoding is several times faster. Where the copy has intensity codes
(:mod:`auzoo.data.datasets.bp4d.intensity`, either layout), each coded frame gets its
0-5 intensities in ``au{N}_intensity`` columns (not coded where the file has
9 or no row for it; rows for frames the occurrence CSV does not code are
counted and left out).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import cv2
import numpy as np
import pandas as pd

from auzoo.data.align import LOOSE_SIZE
from auzoo.data.align import complete_jaw, landmarks49_to_66
from auzoo.data.cache_format import NOT_CODED, intensity_column, label_column
from auzoo.data.datasets.bp4d.intensity import intensity_files, intensity_for_frames
from auzoo.data.datasets.bp4d.protocol import BP4D_AUS
from auzoo.data.datasets.bp4d.reader import (Bp4dRoot, image_files, read_landmark_lists,
                                             read_occurrence_csv)
from auzoo.data.detected import DLIB_68, DetectorSettings, VideoLandmarks
from auzoo.data.prepare import report
from auzoo.data.prepare.frames_out import SubjectArrays, subject_digest
from auzoo.data.prepare.writer import Source, run_prepare

JAANET_49 = "jaa-net-49"
REDUCTION = 2
_IMREAD = {1: cv2.IMREAD_COLOR, 2: cv2.IMREAD_REDUCED_COLOR_2, 4: cv2.IMREAD_REDUCED_COLOR_4}
# BP4D's faces are large (about 500 px wide in the 1040 x 1392 frame, 250 px in
# the half-size decode): at a 400-pixel view the detector still sees them ~145
# px wide, well above what its HOG window needs, at 2.5x less work than 640.
DETECTOR = DetectorSettings(max_side=400)
TOTAL_KEYS = ("csv_rows", "frames", "missing_images", "not_coded", "no_face",
              "landmarks_unusable", "aligned_frames", "intensity_rows", "intensity_not_coded",
              "intensity_unmatched")


@dataclass
class SequencePlan:
    task: str
    frames: np.ndarray                    # CSV frame numbers
    labels: np.ndarray                    # (n, coded AUs) uint8, NOT_CODED for 9
    images: List[Optional[str]]           # per CSV row: the image, None if missing
    points49: Optional[np.ndarray] = None  # (n, 49, 2), NaN where the list has none
    intensities: Optional[np.ndarray] = None  # (n, intensity AUs) uint8 0-5, NOT_CODED
    intensity_counts: Dict[str, int] = field(default_factory=dict)


def _points(detect, plan: SequencePlan, j: int, bgr: np.ndarray):
    """``(points66, align_points)`` of row j, in source pixels; (None, None): no face."""
    if plan.points49 is not None:
        p = plan.points49[j]
        if not np.isfinite(p).all():
            return None, None
        points = landmarks49_to_66(p)
        try:
            return points, complete_jaw(points)
        except ValueError:
            return points, None
    found = detect(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
    if found is None:
        return None, None
    points = found * REDUCTION + (REDUCTION - 1) / 2
    return points, points


@dataclass
class Bp4dJob:
    """One subject's sequences, ready to write in a worker."""

    subject: str
    coded_aus: Tuple[int, ...]
    sequences: List[SequencePlan] = field(default_factory=list)
    intensity_aus: Tuple[int, ...] = ()

    def __call__(self, folder: Path, size: int, progress) -> Tuple[pd.DataFrame, dict]:
        n = sum(sum(p is not None for p in q.images) for q in self.sequences)
        out = SubjectArrays(folder, n, size)
        rows: List[tuple] = []
        seq_records: Dict[str, dict] = {}
        k = 0
        detect = None
        for q in self.sequences:
            detect = VideoLandmarks(DETECTOR) if q.points49 is None else detect  # new track per sequence
            missing, start = [], k
            for j, (f, path) in enumerate(zip(q.frames, q.images)):
                bgr = cv2.imread(path, _IMREAD[REDUCTION]) if path is not None else None
                if bgr is None:
                    missing.append(int(f))
                    continue
                points, align = _points(detect, q, j, bgr)
                out.add(k, bgr, points, align, reduction=REDUCTION)
                rows.append((q.task, int(f), j))
                k += 1
                if k % 50 == 0:
                    progress(50)
            std = [c for c, a in enumerate(self.coded_aus) if a in BP4D_AUS]
            seq_records[q.task] = _sequence_record(q, std, missing, out, start, k)
        progress(k % 50 + sum(len(r["missing_images"]) for r in seq_records.values()))
        out.close(k)
        return self._index(rows, out), self._record(seq_records, out, detect)

    def _index(self, rows, out: SubjectArrays) -> pd.DataFrame:
        by_task = {q.task: q for q in self.sequences}
        labels = np.array([by_task[t].labels[j] for t, _, j in rows], dtype=np.uint8)
        labels = labels.reshape(len(rows), len(self.coded_aus))
        index = pd.DataFrame({"subject": self.subject, "sequence": [t for t, _, _ in rows],
                              "frame": np.array([f for _, f, _ in rows], dtype=np.int64)})
        for c, au in enumerate(self.coded_aus):
            index[label_column(au)] = labels[:, c]
        if self.intensity_aus:
            values = np.array([by_task[t].intensities[j] for t, _, j in rows], dtype=np.uint8)
            values = values.reshape(len(rows), len(self.intensity_aus))
            for c, au in enumerate(self.intensity_aus):
                index[intensity_column(au)] = values[:, c]
            labels = np.concatenate([labels, values], axis=1)   # both in the digest
        index["landmarks_missing"] = out.missing
        index["aligned"] = out.aligned
        index["bad_landmarks"] = ~out.aligned
        self._labels = labels
        return index

    def _record(self, seqs: Dict[str, dict], out: SubjectArrays, detect) -> dict:
        total = {key: sum(r.get(key, 0) for r in seqs.values())
                 for key in ("csv_rows", "not_coded", "intensity_rows", "intensity_not_coded",
                             "intensity_unmatched")}
        cols = {a: self.coded_aus.index(a) for a in BP4D_AUS if a in self.coded_aus}
        positives = {f"au{a}": int(sum((q.labels[:, c] == 1).sum() for q in self.sequences))
                     for a, c in cols.items()}
        names = [f"{self.subject}/{t}/{f}" for t, r in seqs.items() for f in r["missing_images"]]
        return {
            **total,
            "frames": int(out.n),
            "missing_images": len(names),
            "missing_image_frames": names,
            "positives": positives,
            "no_face": int(out.missing.sum()),
            "landmarks_unusable": int((~out.aligned & ~out.missing).sum()),
            "aligned_frames": int(out.aligned.sum()),
            "sequences": seqs,
            "landmark_source": DLIB_68 if detect is not None else JAANET_49,
            "face_detector": detect.describe() if detect is not None else None,
            "decode_reduction": REDUCTION,
            "digest": subject_digest(self.subject, self._labels, out.source),
        }


def _sequence_record(q: SequencePlan, std: List[int], missing: List[int], out: SubjectArrays,
                     start: int, stop: int) -> dict:
    frames = np.sort(q.frames)
    record = {"csv_rows": int(len(q.frames)), "first": int(frames[0]) if len(frames) else None,
              "last": int(frames[-1]) if len(frames) else None,
              "holes": int(np.sum(np.diff(frames) - 1)) if len(frames) > 1 else 0,
              "missing_images": missing,
              "not_coded": int((q.labels[:, std] == NOT_CODED).sum()),
              "no_face": int(out.missing[start:stop].sum())}
    if q.intensities is not None:
        record.update({f"intensity_{k}": int(v) for k, v in q.intensity_counts.items()})
    return record


class Bp4dSource(Source):
    dataset = "bp4d"
    total_keys = TOTAL_KEYS

    def __init__(self, root, landmarks=None):
        self.data = Bp4dRoot(root)
        self.root = Path(root)
        self.units = self.data.subjects
        self.points = read_landmark_lists(landmarks) if landmarks is not None else None
        self.settings = {"landmark_source": JAANET_49 if landmarks is not None else DLIB_68,
                         "decode_reduction": REDUCTION}
        self.csvs = {key: read_occurrence_csv(q.csv) for key, q in self.data.sequences.items()}
        self.coded_aus = tuple(sorted({a for _, _, aus, _ in self.csvs.values() for a in aus}))
        self.ignored = sorted({h for *_, ign in self.csvs.values() for h in ign})
        self.intensity_dir, self.intensity = intensity_files(root)
        self.intensity_aus = tuple(sorted({a for files in self.intensity.values() for a in files}))
        # intensity files of sequences without an occurrence CSV: nothing to join them to
        self.intensity_orphans = sorted(f"{s}_{t}" for s, t in self.intensity if (s, t) not in self.csvs)
        if self.intensity_aus:  # a cache resumed with other intensity AUs would mix columns
            self.settings["intensity_aus"] = list(self.intensity_aus)

    def unit_frames(self, unit: str) -> int:
        return sum(len(self.csvs[(unit, q.task)][0]) for q in self.data.subject_sequences(unit))

    def job(self, unit: str) -> Bp4dJob:
        job = Bp4dJob(unit, self.coded_aus, intensity_aus=self.intensity_aus)
        for q in self.data.subject_sequences(unit):
            frames, labels, aus, _ = self.csvs[(unit, q.task)]
            full = np.full((len(frames), len(self.coded_aus)), NOT_CODED, dtype=np.uint8)
            full[:, [self.coded_aus.index(a) for a in aus]] = labels   # absent column: not coded
            files = image_files(q.images)
            images = [str(files[f]) if f in files else None for f in frames]
            points = None
            if self.points is not None:
                points = np.full((len(frames), 49, 2), np.nan, dtype=np.float32)
                for j, f in enumerate(frames):
                    p = self.points.get((unit, q.task, int(f)))
                    if p is not None:
                        points[j] = p
            plan = SequencePlan(q.task, frames, full, images, points)
            if self.intensity_aus:
                plan.intensities, plan.intensity_counts = intensity_for_frames(
                    frames, self.intensity.get((unit, q.task), {}), self.intensity_aus)
            job.sequences.append(plan)
        return job

    def meta(self, records: Dict[str, dict]) -> dict:
        from auzoo.data.synth import SYNTH_MARKER

        return {"layout": self.data.layout, "image_folder": str(self.data.image_dir),
                "label_folder": str(self.data.csv_dir), "coded_aus": list(self.coded_aus),
                "csv_columns_left_out": self.ignored,
                "landmark_source": self.settings["landmark_source"],
                "decode_reduction": REDUCTION, "synthetic": (self.root / SYNTH_MARKER).is_file(),
                "intensity_aus": list(self.intensity_aus),
                "intensity_folder": str(self.intensity_dir) if self.intensity_dir else None,
                "intensity_files_left_out": self.intensity_orphans}

    def report(self, meta: dict, skipped: List[str], console) -> None:
        report.bp4d_report(meta, skipped, console)


def prepare_bp4d(root, out, workers: int = 1, size: int = LOOSE_SIZE, landmarks=None,
                 subjects: Optional[List[str]] = None, console=None) -> dict:
    """Align and index every coded frame of a BP4D copy (either layout) into ``out``.

    ``landmarks``: a folder of JAA-Net 49-point lists (default: dlib on each frame).
    Returns the cache's ``meta`` ({} while unfinished).
    """
    source = Bp4dSource(root, landmarks)
    wanted = None if subjects is None else [s.upper() for s in subjects]
    return run_prepare(source, out, workers=workers, size=size, subjects=wanted, console=console)
