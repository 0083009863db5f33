"""Faces and their 68 landmarks in new images and videos, with no download.

dlib's frontal face detector (HOG, or the CNN ``mmod`` detector) and its
68-point shape predictor, whose model files ship inside the
``face-recognition-models`` wheel. The 68-point scheme is the iBUG scheme;
DISFA's 66 points are the same minus the two inner-mouth corners, so a face
found here is aligned exactly like a DISFA frame (see :mod:`auzoo.inference`).

Videos go through :class:`FaceTracker`: the detector runs on a downscaled
frame every few frames, and between detections each face's box follows its
own landmarks from the previous frame (the shape predictor is ~10× cheaper
than the detector). Faces keep their ``face_id`` from one detection to the
next by box overlap.
"""
from __future__ import annotations

import importlib.util
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import List, Optional, Sequence, Tuple

import cv2
import numpy as np

Box = Tuple[float, float, float, float]  # x, y, w, h in pixels of the full frame

# Landmarks that barely move with expression (eyes and nose): a tracked face's
# box is placed relative to them, so an open mouth does not stretch the box.
_RIGID_POINTS = np.r_[27:48]


def model_file(name: str) -> Path:
    """Path of one of dlib's model files in the ``face-recognition-models`` wheel.

    The package is located without importing it: its ``__init__`` imports
    ``pkg_resources``, which setuptools >= 82 no longer has.
    """
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            "dlib's face models are not installed: pip install face-recognition-models")
    for root in spec.submodule_search_locations:
        path = Path(root) / "models" / name
        if path.is_file():
            return path
    raise FileNotFoundError(
        f"{name} is not in the face-recognition-models package at "
        f"{', '.join(spec.submodule_search_locations)}")


@lru_cache(maxsize=None)
def _dlib_model(kind: str):
    # Loading the 68-point predictor takes ~0.3 s; share one per process.
    import dlib

    if kind == "hog":
        return dlib.get_frontal_face_detector()
    if kind == "cnn":
        return dlib.cnn_face_detection_model_v1(str(model_file("mmod_human_face_detector.dat")))
    if kind == "shape68":
        return dlib.shape_predictor(str(model_file("shape_predictor_68_face_landmarks.dat")))
    raise ValueError(kind)


@dataclass
class Face:
    """One face in one frame."""

    box: Box                      # detector-style box, full-frame pixels
    confidence: float             # detector score of this face's latest detection
    landmarks: np.ndarray         # (68, 2) float32, full-frame pixels
    face_id: int = 0


def iou(a: Box, b: Box) -> float:
    """Intersection over union of two ``(x, y, w, h)`` boxes."""
    ix = max(0.0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union > 0 else 0.0


class FaceDetector:
    """dlib's face detector on a frame downscaled to at most ``max_side`` pixels.

    ``method='hog'`` (default) is dlib's frontal HOG + linear SVM detector;
    ``'cnn'`` the MMOD CNN detector (better on hard poses, much slower on a
    CPU). The HOG detector finds faces of about 80 px and up in the frame it
    sees, so after downscaling by ``s`` it finds faces of ``80 / s`` px and
    up; ``upsample=1`` halves that at four times the cost. Returns boxes in
    full-frame pixels with their scores, left to right.

    ``threshold`` is the least score kept. dlib's own default, 0, lets
    through false faces on textured clothing (the astronaut photo in
    scikit-image gets one on her suit, scoring 0.03-0.25) while real frontal
    faces score about 1-3; 0.3 drops those at little cost in recall.
    """

    def __init__(self, method: str = "hog", max_side: Optional[int] = 640,
                 upsample: int = 0, threshold: float = 0.3):
        if method not in ("hog", "cnn"):
            raise ValueError(f"face detector must be 'hog' or 'cnn', not {method!r}")
        self.method = method
        self.max_side = max_side
        self.upsample = upsample
        self.threshold = threshold
        self._model = _dlib_model(method)

    # Pickled (to a worker process) by its settings: the model reloads there.
    def __getstate__(self):
        return {k: v for k, v in self.__dict__.items() if k != "_model"}

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._model = _dlib_model(self.method)

    def __call__(self, image: np.ndarray) -> List[Tuple[Box, float]]:
        h, w = image.shape[:2]
        scale = 1.0
        if self.max_side and max(h, w) > self.max_side:
            scale = self.max_side / max(h, w)
            image = cv2.resize(image, (round(w * scale), round(h * scale)),
                               interpolation=cv2.INTER_AREA)
        image = np.ascontiguousarray(image)
        if self.method == "hog":
            rects, scores, _ = self._model.run(image, self.upsample, self.threshold)
        else:
            found = self._model(image, self.upsample)
            rects = [d.rect for d in found]
            scores = [d.confidence for d in found]
        faces = []
        for r, score in zip(rects, scores):
            if self.method == "cnn" and score < self.threshold:
                continue
            box = (r.left() / scale, r.top() / scale,
                   (r.right() - r.left() + 1) / scale, (r.bottom() - r.top() + 1) / scale)
            faces.append((box, float(score)))
        return sorted(faces, key=lambda f: f[0][0])


class LandmarkPredictor:
    """dlib's 68-point shape predictor: a face box in, (68, 2) float32 points out."""

    def __init__(self):
        self._model = _dlib_model("shape68")

    def __reduce__(self):  # a worker process loads its own copy (not 100 MB through a pipe)
        return (LandmarkPredictor, ())

    def __call__(self, image: np.ndarray, box: Box) -> np.ndarray:
        import dlib

        x, y, w, h = box
        rect = dlib.rectangle(round(x), round(y), round(x + w) - 1, round(y + h) - 1)
        shape = self._model(image, rect)
        return np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float32)


def find_faces(image: np.ndarray, detector: Optional[FaceDetector] = None,
               predictor: Optional[LandmarkPredictor] = None) -> List[Face]:
    """Every face in one still image (RGB uint8), left to right, ids 0, 1, …"""
    detector = detector or FaceDetector()
    predictor = predictor or LandmarkPredictor()
    return [Face(box, score, predictor(image, box), face_id=i)
            for i, (box, score) in enumerate(detector(image))]


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


__all__ = ["Box", "Face", "FaceDetector", "FaceTracker", "LandmarkPredictor",
           "find_faces", "iou", "model_file"]
