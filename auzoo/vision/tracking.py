"""Faces followed through the frames of a video, each keeping its ``face_id``.

:class:`FaceTracker` runs the detector (:mod:`auzoo.vision.faces`) on a
downscaled frame every few frames; between detections each face's landmarks
are carried to the new frame by optical flow and the shape predictor refits
them in the box placed around them (the shape predictor is ~10x cheaper than
the detector). Faces keep their ``face_id`` from one detection to the next
by box overlap.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import List, Optional, Sequence, Tuple

import cv2
import numpy as np

from auzoo.vision.faces import Box, Face, FaceDetector, LandmarkPredictor, iou

# Landmarks that barely move with expression (eyes and nose): a tracked face's
# box is placed relative to them, so an open mouth does not stretch the box.
_RIGID_POINTS = np.r_[27:48]


def _rigid_frame(landmarks: np.ndarray) -> Tuple[np.ndarray, float]:
    pts = landmarks[_RIGID_POINTS]
    centre = pts.mean(axis=0)
    scale = float(np.sqrt(((pts - centre) ** 2).sum(axis=1).mean()))
    return centre, max(scale, 1e-6)


@dataclass
class _Track:
    face_id: int
    box: Box
    confidence: float
    box_in_face: np.ndarray = field(default_factory=lambda: np.zeros(4))  # box relative to rigid frame
    landmarks: Optional[np.ndarray] = None

    def anchor(self, landmarks: np.ndarray) -> None:
        """Remember where the detector's box sits relative to the face."""
        centre, scale = _rigid_frame(landmarks)
        x, y, w, h = self.box
        self.box_in_face = np.array([(x + w / 2 - centre[0]) / scale,
                                     (y + h / 2 - centre[1]) / scale, w / scale, h / scale])

    def follow(self, landmarks: np.ndarray) -> None:
        """Move the box with the face: same place relative to the new landmarks."""
        centre, scale = _rigid_frame(landmarks)
        dx, dy, w, h = self.box_in_face * scale
        self.box = (centre[0] + dx - w / 2, centre[1] + dy - h / 2, w, h)


def _flow_motion(previous: np.ndarray, current: np.ndarray, points: np.ndarray
                 ) -> Optional[np.ndarray]:
    """The similarity transform (2x3) that moved ``points`` from one grey frame to
    the next, from pyramidal Lucas-Kanade flow with RANSAC; None if it fails."""
    start = points.reshape(-1, 1, 2).astype(np.float32)
    moved, status, _ = cv2.calcOpticalFlowPyrLK(previous, current, start, None,
                                                winSize=(21, 21), maxLevel=3)
    ok = status.ravel() == 1
    if ok.sum() < 6:
        return None
    matrix, _ = cv2.estimateAffinePartial2D(start[ok], moved[ok], method=cv2.RANSAC,
                                            ransacReprojThreshold=3.0)
    return matrix


class FaceTracker:
    """Faces through the frames of one video, with ids that stay with each face.

    Every ``detect_every``-th call runs the detector; a detection that
    overlaps a face followed so far (IoU >= ``min_iou``, best match first)
    keeps that face's id, one that overlaps none starts a new id, and a face
    that no detection overlaps has left. In between, each face's landmarks
    are carried to the new frame by optical flow (Lucas-Kanade, one
    similarity transform per face), the detector-style box is placed around
    them, and the shape predictor refits the landmarks in that box. (The
    shape predictor alone follows its box more than the face: fed last
    frame's box, it gives last frame's landmarks.) A face whose box leaves
    the frame is dropped.
    """

    def __init__(self, detector: Optional[FaceDetector] = None,
                 predictor: Optional[LandmarkPredictor] = None,
                 detect_every: int = 10, min_iou: float = 0.3):
        if detect_every < 1:
            raise ValueError(f"detect_every must be >= 1, not {detect_every}")
        self.detector = detector or FaceDetector()
        self.predictor = predictor or LandmarkPredictor()
        self.detect_every = detect_every
        self.min_iou = min_iou
        self.reset()

    def reset(self) -> None:
        """Forget every face (call between videos)."""
        self._tracks: List[_Track] = []
        self._next_id = 0
        self._calls = 0
        self._previous: Optional[np.ndarray] = None
        self.detections = 0  # how many frames ran the detector

    def _match(self, found: Sequence[Tuple[Box, float]]) -> None:
        from scipy.optimize import linear_sum_assignment

        tracks: List[_Track] = []
        matched = set()
        if self._tracks and found:
            overlap = np.array([[iou(t.box, box) for box, _ in found] for t in self._tracks])
            rows, cols = linear_sum_assignment(-overlap)
            for r, c in zip(rows, cols):
                if overlap[r, c] >= self.min_iou:
                    track = self._tracks[r]
                    track.box, track.confidence = found[c]
                    tracks.append(track)
                    matched.add(c)
        for c, (box, score) in enumerate(found):
            if c not in matched:
                tracks.append(_Track(self._next_id, box, score))
                self._next_id += 1
        self._tracks = sorted(tracks, key=lambda t: t.face_id)

    def _follow(self, grey: np.ndarray) -> None:
        for track in self._tracks:
            points = track.landmarks
            motion = None
            if self._previous is not None:  # the rigid points move as one: fit a similarity to them
                motion = _flow_motion(self._previous, grey, points[_RIGID_POINTS])
            if motion is not None:
                points = points @ motion[:, :2].T + motion[:, 2]
            track.follow(points)

    def __call__(self, image: np.ndarray) -> List[Face]:
        grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY) if image.ndim == 3 else image
        detect = self._calls % self.detect_every == 0
        self._calls += 1
        if detect:
            self._match(self.detector(image))
            self.detections += 1
        else:
            self._follow(grey)
        self._previous = grey
        h, w = image.shape[:2]
        faces, alive = [], []
        for track in self._tracks:
            x, y, bw, bh = track.box
            visible_w = min(x + bw, w) - max(x, 0)
            visible_h = min(y + bh, h) - max(y, 0)
            if visible_w < bw / 2 or visible_h < bh / 2:
                continue  # mostly out of the frame: the face has left
            track.landmarks = self.predictor(image, track.box)
            if detect:
                track.anchor(track.landmarks)
            faces.append(Face(track.box, track.confidence, track.landmarks, track.face_id))
            alive.append(track)
        self._tracks = alive
        return faces


__all__ = ["FaceTracker"]
