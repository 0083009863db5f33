"""Images, folders and videos in; one row per face per frame with AU probabilities out.

The pipeline::

    decode (PyAV) ─▶ faces + 68 landmarks (dlib, tracked) ─▶ the alignment
    ``prepare`` uses ─▶ batches ─▶ auzoo.engine.inference.Inference ─▶ table
                                   (or onnxruntime, for an ``auzoo export`` file)

Decoding, face finding and alignment run in worker processes where there
are cores for them (:func:`default_workers`), in order whatever their
number (:mod:`auzoo.inference.pipeline`). The model sees a new face exactly
as it saw dataset frames: dlib's 68 points become the 66-point scheme,
the checkpoint config's ``test_pipeline`` (its recipe's alignment and crop,
:mod:`auzoo.data.transforms`) warps the frame to the checkpoint's image size,
and a model with ``requires_landmarks`` gets the 66 points in that image.

With ``out=``, each finished input file is appended to ``OUT.partial`` as it
completes; a rerun with the same model and settings skips those files, so an
interrupted run over many videos resumes where it stopped.

An input that cannot be read among others is reported once, on the
``auzoo.inference`` logger, and listed in ``table.attrs['unreadable']``.
"""
from __future__ import annotations

import logging
import os
from typing import Iterable, Optional, Union

import pandas as pd

from auzoo.inference.pipeline import default_workers
from auzoo.inference.predictor import Predictor, console, load_model
from auzoo.inference.sources import (IMAGE_EXTENSIONS, VIDEO_EXTENSIONS, InputError, Source,
                                     collect_sources, read_image)
from auzoo.inference.table import (FORMATS, FRAME_COLUMNS, openface_table, prediction_columns,
                                   write_table)

PathLike = Union[str, os.PathLike]


def predict(inputs: Union[PathLike, Iterable[PathLike]], model=None,
            weights: Union[PathLike, Iterable[PathLike]] = None,
            batch_size: int = 32, device: Optional[str] = None, every: int = 1,
            progress: bool = True, out: Optional[PathLike] = None, overwrite: bool = False,
            detector: str = "hog", detect_every: int = 10, detect_size: Optional[int] = 640,
            face_threshold: float = 0.3, workers: Optional[int] = None,
            precision: Optional[str] = None, cfg_options: Optional[dict] = None,
            format: str = "auzoo") -> pd.DataFrame:
    """AU table for images, folders of images and videos.

    Args:
        inputs: a path or a list of paths: image files, video files, folders.
        model: model name or config (default: the config stored in ``weights``;
            not with an ``.onnx`` file, which holds its model).
        weights: a checkpoint written by ``auzoo train``; or, with ``model``
            named, that model's official weights (a file, a folder or a list
            of files; see :mod:`auzoo.engine.weight_formats`); or an ``.onnx``
            file written by ``auzoo export`` (run through onnxruntime, same table).
        batch_size: faces per model call.
        device: ``cpu``, ``cuda``, ``cuda:1`` … (default: cuda when available).
        every: use every N-th video frame (frame numbers stay the video's).
        progress: show a progress bar (frames).
        out: also write the table to this CSV, resumably (see module doc).
        overwrite: replace an existing ``out``.
        detector: ``hog`` (dlib's HOG detector) or ``cnn`` (dlib's MMOD CNN).
        detect_every: in videos, run the detector every N used frames and
            track faces in between.
        detect_size: downscale frames so the longer side is at most this
            before detection (None: full size). Faces smaller than about
            ``80 * longer_side / detect_size`` pixels are not found.
        face_threshold: least detector score kept.
        workers: face-finding worker processes (0: all in this process);
            default :func:`default_workers` (every core but one beside a
            GPU; the cores a CPU model's threads leave free). The table is
            the same whatever the number.
        precision: 'fp32', 'bf16' or 'fp16' (default: what ``auzoo eval``
            scores the model in, fp32 unless its config says otherwise; an
            ``.onnx`` file runs in fp32).
        cfg_options: changes to the named ``model``'s config (dotted keys).
        format: how ``out`` is written: ``auzoo`` (the columns below) or
            ``openface`` (OpenFace 2.x's, see
            :func:`auzoo.inference.table.openface_table`). The returned
            table has auzoo's columns either way.

    Returns one row per face per frame (a row with ``success = 0`` for a
    frame without a face or a file that could not be read), columns
    :data:`FRAME_COLUMNS` then per AU ``AUxx_r`` (intensity 0-5) from a model
    with an intensity head and ``AUxx_prob`` and ``AUxx_c`` from a model with
    an occurrence head (docs/intensity.md says what the numbers mean). Frame
    numbers count from 0; ``timestamp`` is in seconds (NaN for still
    images). ``df.attrs`` says what produced it and what was skipped.
    """
    predictor = Predictor(weights, model=model, device=device, batch_size=batch_size,
                          every=every, detector=detector, detect_every=detect_every,
                          detect_size=detect_size, face_threshold=face_threshold,
                          workers=workers, precision=precision, cfg_options=cfg_options)
    return predictor(inputs, progress=progress, out=out, overwrite=overwrite, format=format)


class _ConsoleWarnings(logging.Handler):
    """Warnings printed once, on the console the progress bar uses."""

    def emit(self, record: logging.LogRecord) -> None:
        from rich.markup import escape

        level = "warning" if record.levelno >= logging.WARNING else "note"
        console().print(f"[yellow]{level}:[/] {escape(record.getMessage())}", soft_wrap=True,
                        highlight=False)


def summary(table: pd.DataFrame) -> str:
    """One line: frames, faces, rows without a face, skipped and unreadable counts
    (the unreadable files were each named once as they were met)."""
    meta = table.attrs
    line = (f"{meta['frames']} frames, {meta['faces_scored']} faces scored, "
            f"{int((table['success'] == 0).sum())} rows without a scored face")
    if meta["skipped"]:
        line += f", {len(meta['skipped'])} non-media folder entries skipped"
    if meta["unreadable"]:
        line += f", {len(meta['unreadable'])} unreadable files (named above)"
    return line


def predict_cli(args) -> int:
    """``auzoo predict`` once its arguments are parsed (auzoo.cli declares them)."""
    import sys

    from auzoo.cli.options import refuse_existing

    refuse_existing(args.out, args.force)  # in the CLI's words (--force, not overwrite=True)
    logger = logging.getLogger("auzoo.inference")
    handler = _ConsoleWarnings(logging.INFO)
    logger.addHandler(handler)
    propagate, logger.propagate = logger.propagate, False
    try:
        table = predict(args.inputs, model=args.model, weights=args.weights,
                        batch_size=args.batch_size, device=args.device, every=args.every,
                        progress=True, out=args.out, overwrite=args.force, detector=args.detector,
                        detect_every=args.detect_every, detect_size=args.detect_size or None,
                        face_threshold=args.face_threshold, workers=getattr(args, "workers", None),
                        cfg_options=getattr(args, "cfg_options", None) or None,
                        format=args.format)
    finally:
        logger.removeHandler(handler)
        logger.propagate = propagate
    if args.out:
        console().print(f"wrote {args.out} ({summary(table)}); provenance in {args.out}.json",
                        soft_wrap=True, highlight=False)
    else:
        write_table(table, sys.stdout, args.format)
        console().print(summary(table), soft_wrap=True, highlight=False)
    return 0


__all__ = ["FORMATS", "FRAME_COLUMNS", "openface_table",
           "IMAGE_EXTENSIONS", "VIDEO_EXTENSIONS", "InputError", "Predictor",
           "Source", "collect_sources", "default_workers", "load_model", "predict",
           "predict_cli", "prediction_columns", "read_image", "summary"]
