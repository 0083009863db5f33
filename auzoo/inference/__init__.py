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
from typing import Any, Iterable, Optional, Union

import pandas as pd

from auzoo.inference.options import PredictOptions
from auzoo.inference.pipeline import default_workers
from auzoo.inference.predictor import Predictor, console, load_model
from auzoo.inference.sources import (IMAGE_EXTENSIONS, VIDEO_EXTENSIONS, InputError, Source,
                                     collect_sources, read_image)
from auzoo.inference.table import (FORMATS, FRAME_COLUMNS, openface_table, prediction_columns,
                                   write_table)

PathLike = Union[str, os.PathLike]


def predict(inputs: Union[PathLike, Iterable[PathLike]], model=None,
            weights: Union[PathLike, Iterable[PathLike]] = None,
            options: Optional[PredictOptions] = None, **settings: Any) -> pd.DataFrame:
    """AU table for images, folders of images and videos.

    Args:
        inputs: a path or a list of paths: image files, video files, folders.
        model: model name or config (default: the config stored in ``weights``;
            not with an ``.onnx`` file, which holds its model).
        weights: a checkpoint written by ``auzoo train``; or, with ``model``
            named, that model's official weights (a file, a folder or a list
            of files; see :mod:`auzoo.engine.weight_formats`); or an ``.onnx``
            file written by ``auzoo export`` (run through onnxruntime, same table).
        options: a :class:`~auzoo.inference.options.PredictOptions`: how faces
            are found and scored, and where the table goes.
        settings: the same settings as keywords, over ``options``:
            ``batch_size`` (32), ``device``, ``every`` (1), ``progress`` (True),
            ``out``, ``overwrite`` (False), ``detector`` ('hog'),
            ``detect_every`` (10), ``detect_size`` (640), ``face_threshold``
            (0.3), ``workers``, ``precision``, ``cfg_options``, ``format``
            ('auzoo'); :class:`PredictOptions` says what each does. An unknown
            name is refused.

    Returns one row per face per frame (a row with ``success = 0`` for a
    frame without a face or a file that could not be read), columns
    :data:`FRAME_COLUMNS` then per AU ``AUxx_r`` (intensity 0-5) from a model
    with an intensity head and ``AUxx_prob`` and ``AUxx_c`` from a model with
    an occurrence head (docs/intensity.md says what the numbers mean). Frame
    numbers count from 0; ``timestamp`` is in seconds (NaN for still
    images). ``df.attrs`` says what produced it and what was skipped.
    """
    options = PredictOptions.resolve(options, settings)
    return Predictor(weights, model=model, options=options)(inputs)


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
        options = PredictOptions(
            batch_size=args.batch_size, device=args.device, every=args.every, out=args.out,
            overwrite=args.force, detector=args.detector, detect_every=args.detect_every,
            detect_size=args.detect_size or None, face_threshold=args.face_threshold,
            workers=getattr(args, "workers", None),
            cfg_options=getattr(args, "cfg_options", None) or None, format=args.format)
        table = predict(args.inputs, model=args.model, weights=args.weights, options=options)
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
           "IMAGE_EXTENSIONS", "VIDEO_EXTENSIONS", "InputError", "PredictOptions", "Predictor",
           "Source", "collect_sources", "default_workers", "load_model", "predict",
           "predict_cli", "prediction_columns", "read_image", "summary"]
