"""The settings of ``auzoo.predict``, as one typed, checked object.

:class:`PredictOptions` holds every setting of :func:`auzoo.inference.predict`
besides what to read (``inputs``) and what to run (``model``, ``weights``):
how faces are found, how they are scored and where the table goes. It can
be built once and passed around, or the same names given as keywords::

    auzoo.predict("clip.mp4", weights="best.pth", every=2, out="clip.csv")
    options = PredictOptions(every=2, detector="cnn")
    auzoo.predict("clip.mp4", weights="best.pth", options=options, out="clip.csv")

Keywords override the fields of ``options``; a name that is not a field is
refused with the list of those that are.
"""
from __future__ import annotations

import dataclasses
import difflib
import os
from dataclasses import dataclass
from typing import Any, Mapping, Optional, Union

PathLike = Union[str, os.PathLike]
DETECTORS = ("hog", "cnn")


@dataclass(frozen=True)
class PredictOptions:
    """How ``auzoo.predict`` and :class:`~auzoo.inference.Predictor` find and score faces.

    Finding faces:
        every: use every N-th video frame (frame numbers stay the video's).
        detector: ``hog`` (dlib's HOG detector) or ``cnn`` (dlib's MMOD CNN).
        detect_every: in videos, run the detector every N used frames and
            track faces in between.
        detect_size: downscale frames so the longer side is at most this
            before detection (None: full size). Faces smaller than about
            ``80 * longer_side / detect_size`` pixels are not found.
        face_threshold: least detector score kept.
        workers: face-finding worker processes (0: all in this process);
            default :func:`~auzoo.inference.default_workers` (every core but
            one beside a GPU; the cores a CPU model's threads leave free).
            The table is the same whatever the number.

    Scoring them:
        batch_size: faces per model call.
        device: ``cpu``, ``cuda``, ``cuda:1`` … (default: cuda when available).
        precision: 'fp32', 'bf16' or 'fp16' (default: what ``auzoo eval``
            scores the model in, fp32 unless its config says otherwise; an
            ``.onnx`` file runs in fp32).
        cfg_options: changes to the named ``model``'s config (dotted keys).

    The table:
        progress: show a progress bar (frames).
        out: also write the table to this CSV, resumably (a rerun with the
            same model and settings skips the files already written).
        overwrite: replace an existing ``out``.
        format: how ``out`` is written: ``auzoo`` (auzoo's columns) or
            ``openface`` (OpenFace 2.x's,
            :func:`auzoo.inference.table.openface_table`). The returned table
            has auzoo's columns either way.
    """

    every: int = 1
    detector: str = "hog"
    detect_every: int = 10
    detect_size: Optional[int] = 640
    face_threshold: float = 0.3
    workers: Optional[int] = None
    batch_size: int = 32
    device: Optional[str] = None
    precision: Optional[str] = None
    cfg_options: Optional[Mapping[str, Any]] = None
    progress: bool = True
    out: Optional[PathLike] = None
    overwrite: bool = False
    format: str = "auzoo"

    def __post_init__(self):
        from auzoo.inference.table import FORMATS

        for name in ("every", "detect_every", "batch_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"predict option {name} must be an integer >= 1, not {value!r}")
        if self.workers is not None and (not isinstance(self.workers, int) or self.workers < 0):
            raise ValueError(f"predict option workers must be an integer >= 0, not {self.workers!r}")
        if self.detect_size is not None and self.detect_size < 1:
            raise ValueError(f"predict option detect_size must be >= 1 or None, "
                             f"not {self.detect_size!r}")
        if self.detector not in DETECTORS:
            raise ValueError(f"predict option detector must be one of {', '.join(DETECTORS)}, "
                             f"not {self.detector!r}")
        if self.format not in FORMATS:
            raise ValueError(f"predict option format must be one of {', '.join(FORMATS)}, "
                             f"not {self.format!r}")
        if self.precision is not None:
            from auzoo.engine.inference import check_precision
            check_precision(self.precision)

    @classmethod
    def names(cls) -> tuple:
        return tuple(f.name for f in dataclasses.fields(cls))

    @classmethod
    def resolve(cls, options: Optional["PredictOptions"] = None,
                keywords: Optional[Mapping[str, Any]] = None) -> "PredictOptions":
        """``options`` (default: the defaults) with ``keywords`` put over it;
        an unknown keyword is refused by name, with the nearest known one."""
        if options is not None and not isinstance(options, cls):
            raise TypeError(f"options must be a PredictOptions, not {type(options).__name__}")
        keywords = dict(keywords or {})
        unknown = [k for k in keywords if k not in cls.names()]
        if unknown:
            close = difflib.get_close_matches(unknown[0], cls.names(), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise TypeError(f"predict got an unknown option {unknown[0]!r}{hint}; its options "
                            f"are {', '.join(cls.names())}")
        return dataclasses.replace(options or cls(), **keywords)

    def finding(self) -> dict:
        """The settings that decide which faces a table holds (its provenance)."""
        return dict(every=self.every, detector=self.detector, detect_every=self.detect_every,
                    detect_size=self.detect_size, face_threshold=self.face_threshold)


__all__ = ["DETECTORS", "PredictOptions"]
