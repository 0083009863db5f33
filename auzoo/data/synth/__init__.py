"""Synthetic datasets in the real layouts, for tests and the demo.

``auzoo synth disfa OUT`` (:mod:`.disfa`) and ``auzoo synth bp4d OUT``
(:mod:`.bp4d`) draw faces (:mod:`.draw`) whose AUs move the landmarks of
their own face region (:mod:`.face`), with the quirks of real copies.
"""
from auzoo.data.synth.bp4d import sequence_truth, synth_bp4d
from auzoo.data.synth.disfa import FPS, SYNTH_MARKER, subject_truth, synth_disfa
from auzoo.data.synth.draw import draw_face, read_frame_code, render_frame
from auzoo.data.synth.face import (AU_MOTION, NEUTRAL_FACE, Identity, au_timeline, face_landmarks,
                                   head_pose, make_identity)
from auzoo.data.mean_face import MEAN_FACE_68 as _MEAN_FACE_68  # noqa: F401  (tests use the name)

__all__ = ["AU_MOTION", "FPS", "NEUTRAL_FACE", "SYNTH_MARKER", "Identity", "au_timeline", "draw_face",
           "face_landmarks", "head_pose", "make_identity", "read_frame_code", "render_frame",
           "sequence_truth", "subject_truth", "synth_bp4d", "synth_disfa"]
