"""Pixels in, faces and frames out: auzoo's face finding (:mod:`auzoo.vision.faces`,
dlib), face tracking through videos (:mod:`auzoo.vision.tracking`) and its one
video decoder (:mod:`auzoo.vision.video`, PyAV). Nothing here knows about models
or datasets."""
