"""Faces and their 68 landmarks in new images and videos, with no download.

dlib's frontal face detector (HOG, or the CNN ``mmod`` detector) and its
68-point shape predictor, whose model files ship inside the
``face-recognition-models`` wheel. The 68-point scheme is the iBUG scheme;
DISFA's 66 points are the same minus the two inner-mouth corners, so a face
found here is aligned exactly like a DISFA frame (see :mod:`auzoo.inference`).

Videos go through :class:`auzoo.vision.tracking.FaceTracker`, which runs the
detector only every few frames and follows each face in between.
"""
from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import List, Optional, Tuple

import cv2
import numpy as np

Box = Tuple[float, float, float, float]  # x, y, w, h in pixels of the full frame


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


__all__ = ["Box", "Face", "FaceDetector", "LandmarkPredictor", "find_faces", "iou",
           "model_file"]
