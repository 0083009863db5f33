"""Drawing synthetic faces for the synthetic datasets (tests and the demo).

Faces (:mod:`.face`) whose AUs move the landmarks of their own face region,
drawn with the quirks of real recordings (:mod:`.draw`). Each dataset's
folder writes them in its own layout (``auzoo synth disfa OUT``:
:mod:`auzoo.data.datasets.disfa.synth`; ``auzoo synth bp4d OUT``:
:mod:`auzoo.data.datasets.bp4d.synth`) and leaves :data:`SYNTH_MARKER` in
the root, so a cache prepared from it says it is synthetic.
"""
from auzoo.data.synth.draw import draw_face, read_frame_code, render_frame
from auzoo.data.synth.face import (AU_MOTION, NEUTRAL_FACE, Identity, au_timeline, face_landmarks,
                                   head_pose, make_identity)
from auzoo.data.mean_face import MEAN_FACE_68 as _MEAN_FACE_68  # noqa: F401  (tests use the name)

# The file a synthetic writer leaves in the root it wrote (what it drew, with which seed).
SYNTH_MARKER = "auzoo_synth.json"

__all__ = ["AU_MOTION", "NEUTRAL_FACE", "SYNTH_MARKER", "Identity", "au_timeline", "draw_face",
           "face_landmarks", "head_pose", "make_identity", "read_frame_code", "render_frame"]
