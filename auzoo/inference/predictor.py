"""A loaded checkpoint and face finder, turning inputs into AU tables.

Faces come from :mod:`auzoo.inference.pipeline` (worker processes, in
order); batches go through :class:`auzoo.engine.inference.Inference`, the
one inference path validation and ``auzoo eval`` use, so a face is scored
exactly as a test frame is -- or, for an ``.onnx`` file from ``auzoo export``,
through onnxruntime on the same model input (:mod:`auzoo.inference.backends`).
"""
from __future__ import annotations

import json
import logging
import os
from collections import deque
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Sequence, Union

import numpy as np
import pandas as pd
import torch

from auzoo.inference.backends import eval_precision, load_model, open_backend  # noqa: F401
from auzoo.inference.options import PredictOptions
from auzoo.inference.pipeline import (FaceIds, FacePipeline, FaceStream, Unit, as_is,
                                      default_workers, lower_priority)
from auzoo.inference.sources import InputError, Source, collect_sources
from auzoo.inference.table import Resume, Row, file_key, rows_to_table, write_csv, write_table
from auzoo.models.tasks import split_output
from auzoo.vision.faces import FaceDetector, LandmarkPredictor
from auzoo.vision.video import count_frames

PathLike = Union[str, os.PathLike]
log = logging.getLogger("auzoo.inference")


class Predictor:
    """A loaded model and face finder, ready to turn inputs into AU tables.

    Build it once and call it on as many inputs as you like (the model and
    dlib's models load once)::

        predictor = Predictor("work/tranet/fold1/best.pth")
        table = predictor(["clip.mp4", "photos/"])

    ``options`` (:class:`~auzoo.inference.options.PredictOptions`) and
    ``settings`` (its fields as keywords, over ``options``) are those of
    :func:`auzoo.inference.predict`; the table's (``progress``, ``out``,
    ``overwrite``, ``format``) may also be given per call.
    """

    def __init__(self, weights: PathLike, model=None, options: Optional[PredictOptions] = None,
                 **settings: Any):
        from auzoo.engine.weight_formats import weight_paths

        if weights is None:
            raise ValueError("predict needs weights: a checkpoint written by `auzoo train`, "
                             "a published model's official weights with the model named, or an "
                             ".onnx file written by `auzoo export`")
        self.options = options = PredictOptions.resolve(options, settings)
        self.weights = weight_paths(weights)
        self.batch_size, self.every = options.batch_size, options.every
        # the runtime: torch weights, or an .onnx file through onnxruntime
        self.backend = open_backend(weights, model=model, device=options.device,
                                    precision=options.precision,
                                    cfg_options=dict(options.cfg_options or {}) or None)
        self.net, self.inference = self.backend.model, self.backend.inference
        self.img_size, self.aus = self.backend.img_size, self.backend.aus
        self.task = self.backend.task
        device = self.inference.device
        self.workers = default_workers(device) if options.workers is None else options.workers
        face_detector = FaceDetector(options.detector, max_side=options.detect_size,
                                     threshold=options.face_threshold)
        from auzoo.data.transforms import build_pipeline

        transform = build_pipeline(self.backend.test_pipeline, self.img_size)
        self.faces = FacePipeline(transform, face_detector, LandmarkPredictor(),
                                  options.detect_every, options.every)
        self.settings = {
            "weights": ", ".join(map(str, self.weights)),
            "weights_key": [file_key(p) for p in self.weights],
            "model": self.backend.name, "aus": list(self.aus), "runtime": self.backend.runtime,
            "task": self.task,
            "img_size": self.img_size, "pipeline": transform.describe(), **options.finding(),
            "precision": self.inference.precision}

    @property
    def device(self) -> torch.device:
        return self.inference.device

    def __call__(self, inputs: Union[PathLike, Iterable[PathLike]],
                 progress: Optional[bool] = None, out: Optional[PathLike] = None,
                 overwrite: Optional[bool] = None, format: Optional[str] = None) -> pd.DataFrame:
        """The table (auzoo's columns) of ``inputs``; with ``out`` also written
        there, in auzoo's format or OpenFace's (``format='openface'``). What
        is not given is the options' (:class:`PredictOptions`)."""
        given = dict(progress=progress, out=out, overwrite=overwrite, format=format)
        call = PredictOptions.resolve(self.options, {k: v for k, v in given.items()
                                                     if v is not None})
        progress, overwrite, format = call.progress, call.overwrite, call.format
        out = Path(call.out) if call.out is not None else None
        if out is not None and out.exists() and not overwrite:
            raise ValueError(f"{out} exists; pass overwrite=True to replace it")
        sources, skipped = collect_sources(inputs)
        resume = Resume(out, self.settings, self.aus, self.task) if out is not None else None
        todo = [i for i, s in enumerate(sources) if resume is None or not resume.finished(s)]
        if resume is not None and len(todo) < len(sources):
            log.info("resuming %s: %d of %d files already done", out, len(sources) - len(todo),
                     len(sources))
        unreadable: List[str] = []
        table = rows_to_table(self._run(sources, todo, progress, resume, unreadable), self.aus,
                              self.task)
        if resume is not None and resume.previous is not None and len(resume.previous):
            order = {s.name: i for i, s in enumerate(sources)}
            previous = resume.previous[resume.previous["file"].isin(order)]
            table = pd.concat([previous, table], ignore_index=True)
            table = table.iloc[np.argsort(table["file"].map(order).to_numpy(), kind="stable")]
            table = table.reset_index(drop=True)
        table.attrs.update(self._provenance(sources, skipped, unreadable, table))
        if out is not None:
            from auzoo.utils.io import atomic_write, atomic_write_text

            atomic_write(out, lambda tmp: write_table(table, tmp, format))
            atomic_write_text(out.with_name(out.name + ".json"),
                              json.dumps(table.attrs, indent=1, default=str))
            resume.finish()
        return table

    def _loader(self, sources: Sequence[Source], todo: Sequence[int]):
        cpu = self.device.type == "cpu"
        return torch.utils.data.DataLoader(
            FaceStream(self.faces, sources, todo), batch_size=None, collate_fn=as_is,
            num_workers=self.workers, prefetch_factor=2 if self.workers else None,
            worker_init_fn=lower_priority if cpu else None,
            # a forked worker would inherit CUDA's state and the model's threads
            multiprocessing_context=None if cpu or not self.workers else "forkserver")

    def _run(self, sources, todo, progress: bool, resume: Optional[Resume],
             unreadable: List[str]) -> List[Row]:
        from rich.progress import Progress

        results: List[Row] = []
        per_source: Dict[int, List[Row]] = {}
        ordered: deque = deque()   # rows (and source ends) in output order
        waiting: List[Row] = []    # rows with an aligned face, not yet scored
        emitted = set()
        ids = FaceIds(self.faces.tracker.min_iou)

        def run_batch() -> None:
            # A video chunk brings dozens of faces at once: score them in the
            # user's batch size (memory stays bounded, and a CPU runs a large
            # batch slower per face than a small one).
            for start in range(0, len(waiting), self.batch_size):
                batch = waiting[start:start + self.batch_size]
                probs, values = self._score(np.stack([r.aligned for r in batch]),
                                            np.stack([r.points for r in batch]))
                for k, row in enumerate(batch):
                    row.probs = probs[k] if probs is not None else None
                    row.intensity = values[k] if values is not None else None
                    row.aligned, row.points = None, None
            waiting.clear()

        def flush() -> None:
            while ordered and not (isinstance(ordered[0], Row) and ordered[0].waiting):
                item = ordered.popleft()
                if isinstance(item, Row):
                    results.append(item)
                    per_source.setdefault(item.source, []).append(item)
                    bar.advance(task, int(item.new_frame))
                elif resume is not None:  # a source's end
                    resume.add(sources[item], rows_to_table(per_source.pop(item, []), self.aus,
                                                            self.task))

        with Progress(console=console(), disable=not progress, transient=False) as bar:
            task = bar.add_task("predict", total=self._total_frames(sources, todo))
            for unit in self._loader(sources, todo):
                self._receive(unit, sources, ids, emitted, unreadable, ordered, waiting)
                if len(waiting) >= self.batch_size:
                    run_batch()
                flush()
            run_batch()
            flush()
        return results

    def _score(self, faces: np.ndarray, points: np.ndarray):
        """``(probabilities, intensities)`` of aligned faces, None for what the
        model does not predict; intensities clipped to 0-5."""
        if self.task == "occurrence":
            return self.inference.probabilities(faces, points), None
        logits, intensity = split_output(self.inference(faces, points), self.task, len(self.aus))
        probs = torch.sigmoid(logits).cpu().numpy() if logits is not None else None
        return probs, intensity.clamp(0, 5).cpu().numpy()

    def _receive(self, unit: Unit, sources, ids: FaceIds, emitted: set, unreadable: List[str],
                 ordered: deque, waiting: List[Row]) -> None:
        """Queue a unit's rows in output order; report an unreadable input once."""
        ids(unit)
        source = sources[unit.source]
        for rows in unit.frames:
            emitted.add(unit.source)
            ordered.extend(rows)
            waiting.extend(r for r in rows if r.aligned is not None)
        if unit.error is not None:
            if len(sources) == 1 and unit.source not in emitted:
                raise InputError(unit.error)
            unreadable.append(source.name)
            log.warning("%s; %s", unit.error,
                        "later frames skipped" if unit.source in emitted else "skipped")
            if unit.source not in emitted:
                ordered.append(Row(unit.source, source.name, None, float("nan")))
        if unit.last:
            ordered.append(unit.source)

    def _total_frames(self, sources, todo) -> Optional[int]:
        total = 0
        for i in todo:
            n = 1 if sources[i].kind == "image" else count_frames(sources[i].path)
            if n is None:
                return None
            total += -(-n // self.every)
        return total

    def _provenance(self, sources, skipped, unreadable, table) -> Dict[str, Any]:
        from auzoo.engine.checkpoint import device_name, software_versions

        meta = self.backend.meta
        kept = ("model", "fold", "train_subjects", "test_subjects", "bad_frames", "select_on",
                "data_checksum", "img_size", "best", "versions")
        frames = table.dropna(subset=["frame"])[["file", "frame"]].drop_duplicates() if len(table) \
            else table
        return {
            "produced_by": "auzoo predict",
            "weights": self.settings["weights"],
            "model": self.settings["model"],
            "aus": self.settings["aus"],
            "task": self.task,
            "columns": ("AUxx_r: intensity 0-5 (FACS: 0 absent, 1-5 = A-E), the model's "
                        "reading, not rounded; " if self.task != "occurrence" else "")
                       + ("AUxx_prob: P(present); AUxx_c: 1 where AUxx_prob >= 0.5"
                          if self.task != "intensity" else ""),
            "checkpoint": {k: meta.get(k) for k in kept if k in meta},
            "loaded_from": meta.get("loaded_from"),
            **({"export": self.backend.export} if self.backend.export else {}),
            "settings": {k: v for k, v in self.settings.items() if k not in ("weights", "weights_key")},
            "workers": self.workers,
            "device": device_name(self.device),
            "versions": software_versions(),
            "inputs": [s.name for s in sources],
            "skipped": [str(p) for p in skipped],
            "unreadable": list(unreadable),
            "frames": int(len(frames)),
            "faces_scored": int(table["success"].sum()) if len(table) else 0,
        }


_CONSOLE = None


def console():
    """The console progress and warnings share (stderr), so a warning prints above the bar."""
    global _CONSOLE
    if _CONSOLE is None:
        from auzoo.utils.console import make_console

        _CONSOLE = make_console(stderr=True)
    return _CONSOLE


__all__ = ["Predictor", "console", "eval_precision", "load_model"]
