"""Frames -> faces -> aligned model inputs, in worker processes, in order.

The inputs are cut into *units*: an image is one unit; a video is cut into
chunks of a fixed number of used frames, a multiple of ``detect_every``, so
every chunk starts on a frame where the tracker runs the detector anyway.
A tracker restarted there finds the same boxes and landmarks as one that ran
through, so a chunk's faces do not depend on who found them; only the
tracker's ids start over, and the main process joins them across chunks
(:class:`FaceIds`) as the tracker itself would: by box overlap with the
previous frame's faces.

Units are numbered in input order and worker ``k`` of ``W`` takes units
``k, k + W, …``; the DataLoader hands back one item per worker in turn, so
the main process receives units in order whatever ``W``, and the table is
the same with 0, 1 or 16 workers. Each worker decodes every video itself
(decoding is cheap next to finding faces, and a worker must reach its
chunks) but converts and searches only its own chunks' frames.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from typing import Dict, Generator, Iterator, List, Optional, Sequence

import numpy as np
import torch

from auzoo.inference.sources import InputError, Source, read_image
from auzoo.inference.table import Row
from auzoo.vision.faces import FaceDetector, LandmarkPredictor, find_faces, iou
from auzoo.vision.tracking import FaceTracker
from auzoo.vision.video import VideoError, open_video

CHUNK_MIN_FRAMES = 64  # used frames per video chunk, rounded up to a multiple of detect_every


def chunk_length(detect_every: int) -> int:
    return detect_every * math.ceil(CHUNK_MIN_FRAMES / detect_every)


@dataclass
class Unit:
    """What one unit of work produced: rows per frame, and how it ended."""

    source: int
    chunk: int
    frames: List[List[Row]] = field(default_factory=list)
    error: Optional[str] = None   # the input could not be read (further)
    last: bool = False            # the source's last unit


class FacePipeline:
    """Faces of images and video chunks, as rows with the model's inputs.

    ``transform`` is the model's test pipeline (:mod:`auzoo.data.transforms`):
    its alignment warps straight from the frame, as it warps from the cache's
    loose crop in training and scoring, so a face is prepared the same way."""

    def __init__(self, transform, detector: FaceDetector, predictor: LandmarkPredictor,
                 detect_every: int, every: int):
        self.transform = transform
        self.detector, self.predictor = detector, predictor
        self.tracker = FaceTracker(detector, predictor, detect_every=detect_every)
        self.detect_every, self.every = detect_every, every
        self.chunk = chunk_length(detect_every)

    def rows(self, index: int, source: Source, frame: Optional[int], timestamp: float,
             image: np.ndarray, faces) -> List[Row]:
        from auzoo.data.align import landmarks68_to_66

        if not faces:
            return [Row(index, source.name, frame, timestamp)]
        rows = []
        for k, face in enumerate(faces):
            row = Row(index, source.name, frame, timestamp, face, new_frame=k == 0)
            points = landmarks68_to_66(face.landmarks)
            out = self.transform(image, points)
            if np.isfinite(out["landmarks"]).any():  # else degenerate: reported, not scored
                row.aligned, row.points = out["img"], out["landmarks"]
            rows.append(row)
        return rows

    def image(self, index: int, source: Source) -> Unit:
        unit = Unit(index, 0, last=True)
        try:
            image = read_image(source.path)
        except InputError as exc:
            unit.error = str(exc)
            return unit
        faces = find_faces(image, self.detector, self.predictor)
        unit.frames.append(self.rows(index, source, 0, math.nan, image, faces))
        return unit

    def video(self, index: int, source: Source, mine, threads: Optional[int] = None
              ) -> Generator[Unit, None, int]:
        """This video's units for which ``mine(chunk)`` is true, in order;
        returns how many units the video has (every caller decodes it all)."""
        unit: Optional[Unit] = None
        chunk = -1
        try:
            with open_video(source.path, threads=threads) as video:
                for used, frame in enumerate(video.frames(every=self.every)):
                    if used % self.chunk == 0:  # a new chunk: the previous one is complete
                        if unit is not None:
                            yield unit
                        chunk += 1
                        unit = Unit(index, chunk) if mine(chunk) else None
                        self.tracker.reset()
                    if unit is None:
                        continue  # another worker's chunk: decoded, not converted
                    image = frame.to_rgb()
                    unit.frames.append(self.rows(index, source, frame.index, frame.timestamp,
                                                 image, self.tracker(image)))
        except VideoError as exc:  # the error belongs to the chunk in progress
            chunk = max(chunk, 0)
            if unit is None and mine(chunk):
                unit = Unit(index, chunk)
            if unit is not None:
                unit.error = str(exc)
        if unit is not None:
            unit.last = True
            yield unit
        return chunk + 1


class FaceStream(torch.utils.data.IterableDataset):
    """The units still to do, read through DataLoader workers: decoding and
    dlib (which holds the GIL) run in other processes, beside the model."""

    def __init__(self, faces: FacePipeline, sources: Sequence[Source], todo: Sequence[int]):
        self.faces, self.sources, self.todo = faces, sources, todo

    def __iter__(self) -> Iterator[Unit]:
        info = torch.utils.data.get_worker_info()
        worker, workers = (info.id, info.num_workers) if info is not None else (0, 1)
        threads = 1 if workers > 1 else None  # one decoding thread per process when several
        first = 0  # global number of the current source's first unit
        for i in self.todo:
            source = self.sources[i]
            if source.kind == "image":
                if first % workers == worker:
                    yield self.faces.image(i, source)
                first += 1
            else:
                first += yield from self.faces.video(
                    i, source, lambda c, f=first: (f + c) % workers == worker, threads=threads)


class FaceIds:
    """Face ids across chunks: consecutive per input, in order of appearance.

    A chunk's tracker numbers its faces from 0; its first frame is a
    detection, matched to the previous frame's faces by box overlap (IoU >=
    ``min_iou``, best total overlap first) as the tracker matches tracks, so
    a face keeps its id across chunks.
    """

    def __init__(self, min_iou: float = 0.3):
        self.min_iou = min_iou
        self.source: Optional[int] = None

    def __call__(self, unit: Unit) -> None:
        from scipy.optimize import linear_sum_assignment

        if unit.source != self.source:
            self.source, self.next_id, self.last = unit.source, 0, []
        mapping: Dict[int, int] = {}
        for f, rows in enumerate(unit.frames):
            faced = [r for r in rows if r.face is not None]
            if f == 0 and self.last and faced:
                overlap = np.array([[iou(box, r.face.box) for r in faced] for _, box in self.last])
                for a, b in zip(*linear_sum_assignment(-overlap)):
                    if overlap[a, b] >= self.min_iou:
                        mapping[faced[b].face.face_id] = self.last[a][0]
            for row in sorted(faced, key=lambda r: r.face.face_id):
                local = row.face.face_id
                if local not in mapping:
                    mapping[local], self.next_id = self.next_id, self.next_id + 1
                row.face.face_id = mapping[local]
            if faced:
                faced.sort(key=lambda r: r.face.face_id)
                for k, row in enumerate(faced):
                    row.new_frame = k == 0
                rows[:] = faced
            self.last = [(r.face.face_id, r.face.box) for r in faced]


def default_workers(device: torch.device) -> int:
    """Face-finding worker processes to use beside a model on ``device``.

    On an accelerator every core but one (the main process feeds the model).
    On a CPU, the cores the model's threads leave free (0 when its threads
    fill every core: a worker there only slows the model, since each
    parallel op waits for its descheduled thread; finding faces in between
    batches costs less, as ``benchmarks/predict_throughput.py`` measures).
    """
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    cores = cores or 1
    if device.type != "cpu":
        return max(1, cores - 1)
    return max(0, cores - torch.get_num_threads())


def lower_priority(worker_id: int) -> None:
    # The model's threads keep their cores; faces are found in the time they
    # leave free. (Sharing cores evenly stalls every parallel op of the model
    # on its slowest thread.)
    try:
        os.nice(10)
    except OSError:
        pass


def as_is(item):
    return item


__all__ = ["CHUNK_MIN_FRAMES", "FaceIds", "FacePipeline", "FaceStream", "Unit", "chunk_length",
           "default_workers", "lower_priority"]
