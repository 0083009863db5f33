"""Images, folders and videos in; one row per face per frame with AU probabilities out.

The pipeline::

    decode (PyAV, lazily) ─▶ faces + 68 landmarks (dlib, tracked) ─▶ the
    alignment ``prepare`` uses ─▶ batches ─▶ model ─▶ sigmoid ─▶ table

Decoding, face finding and alignment run a few batches ahead of the model in
a DataLoader worker process when there is room for it beside the model (a GPU
model, or CPU cores the model's threads leave free; dlib holds the GIL while
it works, so a thread would stall the model); when the model's threads fill
the CPU they run in between batches. The model sees a new face exactly as it
saw DISFA frames: dlib's 68 points become DISFA's 66,
:func:`auzoo.data.align.align_face` warps the frame to the checkpoint's image
size, and a model with ``requires_landmarks`` gets the 66 points in the
aligned image.

With ``out=``, each finished input file is appended to ``OUT.partial`` as it
completes; a rerun with the same model and settings skips those files, so an
interrupted run over many videos resumes where it stopped.
"""
from __future__ import annotations

import json
import math
import os
import sys
import types
import warnings
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple, Union

import cv2
import numpy as np
import pandas as pd
import torch

from auzoo.faces import Face, FaceDetector, FaceTracker, LandmarkPredictor, find_faces

PathLike = Union[str, os.PathLike]

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp",
                              ".jp2", ".pgm", ".ppm", ".pbm", ".pnm", ".sr", ".ras", ".exr",
                              ".hdr", ".pic"})
VIDEO_EXTENSIONS = frozenset({".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg",
                              ".wmv", ".flv", ".3gp", ".ts", ".mts", ".m2ts", ".ogv", ".mxf"})

FRAME_COLUMNS = ("file", "frame", "timestamp", "face_id", "success",
                 "face_x", "face_y", "face_w", "face_h", "confidence")


def au_columns(aus: Sequence[int]) -> List[str]:
    """``AU01_prob … AU26_prob`` then ``AU01_c … AU26_c`` (OpenFace's grouping)."""
    return [f"AU{au:02d}_prob" for au in aus] + [f"AU{au:02d}_c" for au in aus]


class InputError(ValueError):
    """An input that cannot be read; the message names the file."""


# ----------------------------------------------------------------------------- inputs

@dataclass(frozen=True)
class Source:
    """One input file: a still image or a video."""

    path: Path
    kind: str  # 'image' | 'video'

    @property
    def name(self) -> str:
        return str(self.path)


def _kind(path: Path) -> Optional[str]:
    suffix = path.suffix.lower()
    if suffix in IMAGE_EXTENSIONS:
        return "image"
    if suffix in VIDEO_EXTENSIONS:
        return "video"
    return None


def collect_sources(inputs: Union[PathLike, Iterable[PathLike]]) -> Tuple[List[Source], List[Path]]:
    """Input files in order, and the folder entries that were skipped.

    A folder contributes its images and videos, sorted by name (not its
    subfolders); other entries are skipped and returned so they can be
    counted. A file named directly must be an image or a video. A file named
    twice is read once.
    """
    if isinstance(inputs, (str, os.PathLike)):
        inputs = [inputs]
    sources: List[Source] = []
    skipped: List[Path] = []
    seen = set()

    def add(source: Source) -> None:
        key = source.path.resolve()
        if key in seen:
            warnings.warn(f"{source.path}: given more than once; read once", stacklevel=3)
            return
        seen.add(key)
        sources.append(source)

    for raw in inputs:
        path = Path(raw)
        if path.is_dir():
            found = 0
            for entry in sorted(path.iterdir()):
                kind = _kind(entry) if entry.is_file() else None
                if kind is None:
                    skipped.append(entry)
                    continue
                add(Source(entry, kind))
                found += 1
            if not found:
                raise InputError(f"{path}: no images or videos in this folder"
                                 + (f" ({len(skipped)} other entries skipped)" if skipped else ""))
        elif path.is_file():
            kind = _kind(path) or _sniff(path)
            if kind is None:
                raise InputError(f"{path}: not an image or a video auzoo can read")
            add(Source(path, kind))
        else:
            raise FileNotFoundError(f"input not found: {path}")
    if not sources:
        raise InputError("no inputs given")
    return sources, skipped


def _sniff(path: Path) -> Optional[str]:
    """Kind of a file whose extension says nothing: try it as an image, then a video."""
    if cv2.haveImageReader(str(path)):
        return "image"
    import av

    try:
        with av.open(str(path)) as container:
            return "video" if container.streams.video else None
    except (av.FFmpegError, OSError, ValueError):
        return None


def read_image(path: Path) -> np.ndarray:
    """An image file as RGB uint8 (EXIF orientation applied), or InputError."""
    data = np.fromfile(str(path), dtype=np.uint8)  # also reads non-ASCII paths
    image = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    if image is None:
        raise InputError(f"{path}: not a readable image")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def video_frame_count(path: Path) -> Optional[int]:
    """Frames the container declares (None when it does not say or cannot be opened)."""
    import av

    try:
        with av.open(str(path)) as container:
            n = container.streams.video[0].frames
            return int(n) if n else None
    except (av.FFmpegError, OSError, IndexError, ValueError):
        return None


def iter_video(path: Path, every: int = 1) -> Iterator[Tuple[int, float, np.ndarray]]:
    """``(frame, timestamp, rgb)`` for every ``every``-th frame, decoded one at a time.

    ``frame`` counts decoded frames from 0; ``timestamp`` is the frame's
    presentation time in seconds from the stream's start (``frame / fps``
    for a constant frame rate), or ``frame / fps`` when the stream carries
    no timestamps. Skipped frames are decoded (later frames need them) but
    not converted to RGB.
    """
    import av

    try:
        container = av.open(str(path))
    except (av.FFmpegError, OSError, ValueError) as exc:
        raise InputError(f"{path}: not a readable video ({exc})") from exc
    with container:
        if not container.streams.video:
            raise InputError(f"{path}: has no video stream")
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        rate = stream.average_rate or stream.guessed_rate
        fps = float(rate) if rate else math.nan
        start = stream.start_time or 0
        index = -1
        try:
            for index, frame in enumerate(container.decode(stream)):
                if index % every:
                    continue
                if frame.pts is not None and stream.time_base is not None:
                    timestamp = float((frame.pts - start) * stream.time_base)
                else:
                    timestamp = index / fps
                yield index, timestamp, frame.to_ndarray(format="rgb24")
        except av.FFmpegError as exc:
            raise InputError(f"{path}: decoding failed after frame {index} ({exc})") from exc
        if index < 0:
            raise InputError(f"{path}: not a readable video (no frame decoded)")


# ----------------------------------------------------------------------------- the model

def load_model(weights: PathLike, model=None, device: Optional[str] = None):
    """``(model, img_size)`` from an ``auzoo train`` checkpoint, on ``device``, in eval mode.

    The checkpoint's own config builds the model unless ``model`` (a name,
    a config or a module) is given; either way the checkpoint must fit it.
    """
    from auzoo.engine.checkpoint import CheckpointError, build_from_checkpoint

    try:
        net = build_from_checkpoint(weights, model=model)
    except RuntimeError as exc:  # load_state_dict: tensors of other shapes
        detail = "; ".join(line.strip() for line in str(exc).splitlines()[1:4])
        raise CheckpointError(f"{weights}: the checkpoint does not fit the model ({detail})") from exc
    meta = getattr(net, "checkpoint_meta", {}) or {}
    cfg = getattr(net, "cfg", None)
    img_size = meta.get("img_size") or (cfg.get("img_size") if cfg is not None else None) or 224
    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    net = net.to(device).eval()
    if device.type == "cuda":
        net = net.to(memory_format=torch.channels_last)
    return net, int(img_size)


def default_workers(device: torch.device) -> int:
    """1 (find faces in a worker process) when that work can run beside the
    model: the model is on an accelerator, or its CPU threads leave a core
    free. 0 when the model's threads fill every core: then a worker only
    slows the model (each parallel op waits for its descheduled thread), and
    finding faces in between batches costs less (measured in
    ``benchmarks/predict_throughput.py``)."""
    if device.type != "cpu":
        return 1
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return 1 if (cores or 1) > torch.get_num_threads() else 0


class ModelRunner:
    """Batches of aligned uint8 faces -> AU probabilities, on the model's device.

    No autograd; on CUDA, bf16 autocast and channels_last, and pinned-memory
    copies that do not wait for the GPU.
    """

    def __init__(self, net: torch.nn.Module):
        self.net = net
        self.device = next(net.parameters()).device
        self.cuda = self.device.type == "cuda"
        self.requires_landmarks = bool(getattr(net, "requires_landmarks", False))

    @torch.inference_mode()
    def __call__(self, faces: np.ndarray, landmarks: Optional[np.ndarray] = None) -> np.ndarray:
        batch = torch.from_numpy(faces)
        if self.cuda:
            batch = batch.pin_memory().to(self.device, non_blocking=True)
        images = batch.permute(0, 3, 1, 2).float().div_(255.0)
        images = images.contiguous(memory_format=torch.channels_last if self.cuda
                                   else torch.contiguous_format)
        points = None
        if self.requires_landmarks:
            points = torch.from_numpy(np.ascontiguousarray(landmarks, dtype=np.float32)).to(self.device)
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.cuda):
            logits = self.net(images, landmarks=points) if points is not None else self.net(images)
        return torch.sigmoid(logits.float()).cpu().numpy()


# ----------------------------------------------------------------------------- rows

@dataclass
class _Row:
    """One output row while it travels through the pipeline."""

    source: int
    file: str
    frame: Optional[int]
    timestamp: float
    face: Optional[Face] = None
    aligned: Optional[np.ndarray] = None   # (S, S, 3) uint8 while waiting for the model
    points: Optional[np.ndarray] = None    # (66, 2) aligned landmarks
    probs: Optional[np.ndarray] = None
    new_frame: bool = True                 # first row of its frame (progress counts frames)

    @property
    def waiting(self) -> bool:
        return self.aligned is not None and self.probs is None


@dataclass
class _SourceDone:
    source: int


@dataclass
class _Note:
    file: str
    message: str


@dataclass
class _Failure:
    message: str


class FacePipeline:
    """Frames of a source -> rows with aligned faces, one list per frame."""

    def __init__(self, img_size: int, detector: FaceDetector, predictor: LandmarkPredictor,
                 detect_every: int, every: int):
        self.img_size = img_size
        self.detector, self.predictor = detector, predictor
        self.tracker = FaceTracker(detector, predictor, detect_every=detect_every)
        self.every = every

    def frames(self, source: Source) -> Iterator[Tuple[Optional[int], float, np.ndarray]]:
        if source.kind == "image":
            yield 0, math.nan, read_image(source.path)
        else:
            self.tracker.reset()
            yield from iter_video(source.path, self.every)

    def __call__(self, index: int, source: Source) -> Iterator[List[_Row]]:
        from auzoo.data.align import align_face, landmarks68_to_66, transform_points

        for frame, timestamp, image in self.frames(source):
            faces = (self.tracker(image) if source.kind == "video" else
                     find_faces(image, self.detector, self.predictor))
            if not faces:
                yield [_Row(index, source.name, frame, timestamp)]
                continue
            rows = []
            for k, face in enumerate(faces):
                row = _Row(index, source.name, frame, timestamp, face, new_frame=k == 0)
                points = landmarks68_to_66(face.landmarks)
                try:
                    row.aligned, matrix = align_face(image, points, size=self.img_size)
                    row.points = transform_points(points, matrix)
                except ValueError:
                    pass  # degenerate landmarks: the face is reported, not scored
                rows.append(row)
            yield rows


class _FaceStream(torch.utils.data.IterableDataset):
    """The sources still to do, as per-frame row lists, with a marker after each
    source. Read through a DataLoader worker: decoding and dlib (which holds
    the GIL) run in another process, beside the model."""

    def __init__(self, faces: FacePipeline, sources: Sequence[Source], todo: Sequence[int]):
        self.faces, self.sources, self.todo = faces, sources, todo

    def __iter__(self):
        lone_file = len(self.sources) == 1
        for i in self.todo:
            source = self.sources[i]
            emitted = False
            try:
                for rows in self.faces(i, source):
                    emitted = True
                    yield rows
            except InputError as exc:
                if lone_file and not emitted:
                    yield _Failure(str(exc))
                    return
                yield _Note(source.name, f"{exc}; " + ("later frames skipped" if emitted else "skipped"))
                if not emitted:
                    yield [_Row(i, source.name, None, math.nan)]
            yield _SourceDone(i)


def _as_is(item):
    return item


def _lower_priority(worker_id: int) -> None:
    # The model's threads keep their cores; faces are found in the time they
    # leave free. (Sharing cores evenly stalls every parallel op of the model
    # on its slowest thread.)
    try:
        os.nice(10)
    except OSError:
        pass


# ----------------------------------------------------------------------------- table

def _nullable(values: np.ndarray, missing: np.ndarray, dtype) -> pd.arrays.IntegerArray:
    return pd.arrays.IntegerArray(values.astype(dtype), missing.astype(bool))


def _table(rows: Sequence[_Row], aus: Sequence[int]) -> pd.DataFrame:
    n = len(rows)
    box = np.full((n, 4), np.nan)
    probs = np.full((n, len(aus)), np.nan, dtype=np.float32)
    confidence = np.full(n, np.nan)
    face_id = np.full(n, -1)
    frame = np.array([-1 if r.frame is None else r.frame for r in rows], dtype=np.int64)
    for i, row in enumerate(rows):
        if row.face is not None:
            box[i] = row.face.box
            confidence[i] = row.face.confidence
            face_id[i] = row.face.face_id
        if row.probs is not None:
            probs[i] = row.probs
    scored = ~np.isnan(probs)
    columns: Dict[str, Any] = {
        "file": [r.file for r in rows],
        "frame": _nullable(frame, frame < 0, np.int64),
        "timestamp": np.array([r.timestamp for r in rows], dtype=np.float64),
        "face_id": _nullable(face_id, face_id < 0, np.int64),
        "success": scored.all(axis=1).astype(np.int8) if len(aus) else np.zeros(n, np.int8),
        "face_x": box[:, 0], "face_y": box[:, 1], "face_w": box[:, 2], "face_h": box[:, 3],
        "confidence": confidence,
    }
    for j, au in enumerate(aus):
        columns[f"AU{au:02d}_prob"] = probs[:, j]
    for j, au in enumerate(aus):
        columns[f"AU{au:02d}_c"] = _nullable(probs[:, j] >= 0.5, ~scored[:, j], np.int8)
    return pd.DataFrame(columns)


_DTYPES = {"file": str, "frame": "Int64", "face_id": "Int64", "success": "int8"}


def _read_table(path: Path, aus: Sequence[int]) -> pd.DataFrame:
    dtypes = dict(_DTYPES, **{f"AU{au:02d}_c": "Int8" for au in aus})
    return pd.read_csv(path, dtype=dtypes, keep_default_na=False, na_values=[""])


def _write_csv(df: pd.DataFrame, path, header: bool = True, mode: str = "w") -> None:
    df.to_csv(path, index=False, header=header, mode=mode, float_format="%.6f",
              lineterminator="\n")


# ----------------------------------------------------------------------------- resume

def _file_key(path: Path) -> Dict[str, Any]:
    stat = path.stat()
    return {"file": str(path), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}


class _Resume:
    """Finished input files of an interrupted run writing ``out``.

    ``OUT.partial`` holds the rows of finished files, ``OUT.partial.json``
    the run's settings and which files are finished (with their size and
    modification time, so a changed input is read again).
    """

    def __init__(self, out: Path, settings: Dict[str, Any], aus: Sequence[int]):
        self.out = out
        self.rows_path = out.with_name(out.name + ".partial")
        self.state_path = out.with_name(out.name + ".partial.json")
        self.settings = settings
        self.aus = aus
        self.done: Dict[str, Dict[str, Any]] = {}
        self.previous = None
        if self.state_path.is_file() and self.rows_path.is_file():
            state = json.loads(self.state_path.read_text())
            if state.get("settings") == settings:
                self.done = {d["file"]: d for d in state.get("done", [])}
                self.previous = _read_table(self.rows_path, aus)
            else:
                warnings.warn(f"{self.rows_path}: left by a run with other settings; starting over",
                              stacklevel=3)
        if not self.done:
            self.rows_path.unlink(missing_ok=True)
            self._save()

    def finished(self, source: Source) -> bool:
        done = self.done.get(source.name)
        return done is not None and done == _file_key(source.path)

    def add(self, source: Source, table: pd.DataFrame) -> None:
        new = not self.rows_path.exists()
        _write_csv(table, self.rows_path, header=new, mode="a")
        self.done[source.name] = _file_key(source.path)
        self._save()

    def _save(self) -> None:
        tmp = self.state_path.with_name(self.state_path.name + ".tmp")
        tmp.write_text(json.dumps({"settings": self.settings, "done": list(self.done.values())},
                                  indent=1))
        os.replace(tmp, self.state_path)

    def finish(self) -> None:
        self.rows_path.unlink(missing_ok=True)
        self.state_path.unlink(missing_ok=True)


# ----------------------------------------------------------------------------- predict

class Predictor:
    """A loaded model and face finder, ready to turn inputs into AU tables.

    Build it once and call it on as many inputs as you like (the model and
    dlib's models load once)::

        predictor = Predictor("work/tranet/fold1/best.pth")
        table = predictor(["clip.mp4", "photos/"])

    Arguments are those of :func:`predict`.
    """

    def __init__(self, weights: PathLike, model=None, device: Optional[str] = None,
                 batch_size: int = 32, every: int = 1, detector: str = "hog",
                 detect_every: int = 10, detect_size: Optional[int] = 640,
                 face_threshold: float = 0.3, workers: Optional[int] = None):
        if weights is None:
            raise ValueError("predict needs weights: a checkpoint written by `auzoo train`")
        if batch_size < 1 or every < 1 or detect_every < 1:
            raise ValueError("batch_size, every and detect_every must be >= 1")
        self.weights = Path(weights)
        self.batch_size, self.every = batch_size, every
        self.net, self.img_size = load_model(weights, model, device)
        self.runner = ModelRunner(self.net)
        self.aus = tuple(int(a) for a in self.net.aus)
        self.workers = default_workers(self.runner.device) if workers is None else workers
        face_detector = FaceDetector(detector, max_side=detect_size, threshold=face_threshold)
        self.faces = FacePipeline(self.img_size, face_detector, LandmarkPredictor(),
                                  detect_every, every)
        self.settings = {
            "weights": str(weights), "weights_key": _file_key(self.weights),
            "model": getattr(self.net, "name", None), "aus": list(self.aus),
            "img_size": self.img_size, "every": every, "detector": detector,
            "detect_every": detect_every, "detect_size": detect_size,
            "face_threshold": face_threshold}

    def __call__(self, inputs: Union[PathLike, Iterable[PathLike]], progress: bool = True,
                 out: Optional[PathLike] = None, overwrite: bool = False) -> pd.DataFrame:
        out = Path(out) if out is not None else None
        if out is not None and out.exists() and not overwrite:
            raise ValueError(f"{out} exists; pass --force (overwrite=True) to replace it")
        sources, skipped = collect_sources(inputs)
        resume = _Resume(out, self.settings, self.aus) if out is not None else None
        todo = [i for i, s in enumerate(sources) if resume is None or not resume.finished(s)]
        if resume is not None and len(todo) < len(sources):
            print(f"resuming {out}: {len(sources) - len(todo)} of {len(sources)} files already done",
                  file=sys.stderr)

        unreadable: List[str] = []
        rows = _run(sources, todo, self.faces, self.runner, self.batch_size, progress, resume,
                    unreadable, self.every, self.workers)
        table = _table(rows, self.aus)
        if resume is not None and resume.previous is not None and len(resume.previous):
            order = {s.name: i for i, s in enumerate(sources)}
            previous = resume.previous[resume.previous["file"].isin(order)]
            table = pd.concat([previous, table], ignore_index=True)
            table = table.iloc[np.argsort(table["file"].map(order).to_numpy(), kind="stable")]
            table = table.reset_index(drop=True)

        meta = _provenance(self.net, self.settings, sources, skipped, unreadable, table,
                           self.runner)
        table.attrs.update(meta)
        if out is not None:
            tmp = out.with_name(f".{out.name}.tmp")
            _write_csv(table, tmp)
            os.replace(tmp, out)
            out.with_name(out.name + ".json").write_text(json.dumps(meta, indent=1, default=str))
            resume.finish()
        return table


def predict(inputs: Union[PathLike, Iterable[PathLike]], model=None, weights: PathLike = None,
            batch_size: int = 32, device: Optional[str] = None, every: int = 1,
            progress: bool = True, out: Optional[PathLike] = None, overwrite: bool = False,
            detector: str = "hog", detect_every: int = 10, detect_size: Optional[int] = 640,
            face_threshold: float = 0.3, workers: Optional[int] = None) -> pd.DataFrame:
    """AU table for images, folders of images and videos.

    Args:
        inputs: a path or a list of paths: image files, video files, folders.
        model: model name or config (default: the config stored in ``weights``).
        weights: a checkpoint written by ``auzoo train``.
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
        workers: 1 decodes and finds faces in a worker process beside the
            model, 0 does it all in this process; default: a worker when the
            model runs on a GPU or leaves CPU cores free
            (:func:`default_workers`).

    Returns one row per face per frame (a row with ``success = 0`` for a
    frame without a face or a file that could not be read), columns
    :data:`FRAME_COLUMNS` then ``AUxx_prob`` and ``AUxx_c`` per AU. Frame
    numbers count from 0; ``timestamp`` is in seconds (NaN for still
    images). ``df.attrs`` says what produced it and what was skipped.
    """
    predictor = Predictor(weights, model=model, device=device, batch_size=batch_size,
                          every=every, detector=detector, detect_every=detect_every,
                          detect_size=detect_size, face_threshold=face_threshold,
                          workers=workers)
    return predictor(inputs, progress=progress, out=out, overwrite=overwrite)


def _run(sources, todo, faces: FacePipeline, runner: ModelRunner, batch_size: int,
         progress: bool, resume: Optional[_Resume], unreadable: List[str], every: int,
         workers: int) -> List[_Row]:
    from tqdm.auto import tqdm

    totals = []
    for i in todo:
        s = sources[i]
        n = 1 if s.kind == "image" else video_frame_count(s.path)
        totals.append(None if n is None else -(-n // every))
    total = None if None in totals else sum(totals)
    bar = tqdm(total=total, unit="frame", desc="predict", disable=not progress, file=sys.stderr,
               dynamic_ncols=True)
    # One worker keeps the frames in order; it runs ahead by a few batches.
    loader = torch.utils.data.DataLoader(
        _FaceStream(faces, sources, todo), batch_size=None, collate_fn=_as_is,
        num_workers=min(workers, 1), prefetch_factor=2 * batch_size if workers else None,
        worker_init_fn=_lower_priority if runner.device.type == "cpu" else None)

    results: List[_Row] = []
    per_source: Dict[int, List[_Row]] = {}
    ordered: deque = deque()
    waiting: List[_Row] = []

    def run_batch() -> None:
        if not waiting:
            return
        stacked = np.stack([r.aligned for r in waiting])
        points = np.stack([r.points for r in waiting]) if runner.requires_landmarks else None
        probs = runner(stacked, points)
        for row, p in zip(waiting, probs):
            row.probs, row.aligned, row.points = p, None, None
        waiting.clear()

    def flush() -> None:
        while ordered and not (isinstance(ordered[0], _Row) and ordered[0].waiting):
            item = ordered.popleft()
            if isinstance(item, _Row):
                results.append(item)
                per_source.setdefault(item.source, []).append(item)
                if item.new_frame:
                    bar.update(1)
            else:  # _SourceDone
                done = per_source.pop(item.source, [])
                if resume is not None:
                    resume.add(sources[item.source], _table(done, resume.aus))

    try:
        for item in loader:
            if isinstance(item, _Failure):
                raise InputError(item.message)
            if isinstance(item, _Note):
                unreadable.append(item.file)
                bar.write(f"warning: {item.message}", file=sys.stderr)
                warnings.warn(item.message, stacklevel=3)
                continue
            if isinstance(item, _SourceDone):
                ordered.append(item)
            else:
                for row in item:
                    ordered.append(row)
                    if row.aligned is not None:
                        waiting.append(row)
                if len(waiting) >= batch_size:
                    run_batch()
            flush()
        run_batch()
        flush()
    finally:
        bar.close()
    return results


def _provenance(net, settings, sources, skipped, unreadable, table, runner) -> Dict[str, Any]:
    from auzoo.engine.checkpoint import device_name, software_versions

    meta = dict(getattr(net, "checkpoint_meta", {}) or {})
    with_frame = table.dropna(subset=["frame"]) if len(table) else table
    return {
        "produced_by": "auzoo predict",
        "weights": settings["weights"],
        "model": settings["model"],
        "aus": settings["aus"],
        "checkpoint": {k: meta.get(k) for k in ("model", "fold", "train_subjects", "test_subjects",
                                                 "bad_frames", "select_on", "data_checksum",
                                                 "img_size", "best", "versions") if k in meta},
        "settings": {k: v for k, v in settings.items() if k not in ("weights", "weights_key")},
        "device": device_name(runner.device),
        "versions": software_versions(),
        "inputs": [s.name for s in sources],
        "skipped": [str(p) for p in skipped],
        "unreadable": list(unreadable),
        "frames": int(with_frame[["file", "frame"]].drop_duplicates().shape[0]) if len(table) else 0,
        "faces_scored": int(table["success"].sum()) if len(table) else 0,
    }


def predict_cli(args) -> int:
    table = predict(args.inputs, model=args.model, weights=args.weights,
                    batch_size=args.batch_size, device=args.device, every=args.every,
                    progress=True, out=args.out, overwrite=args.force, detector=args.detector,
                    detect_every=args.detect_every, detect_size=args.detect_size or None,
                    face_threshold=args.face_threshold)
    meta = table.attrs
    summary = (f"{meta['frames']} frames, {meta['faces_scored']} faces scored, "
               f"{int((table['success'] == 0).sum())} rows without a scored face")
    if meta["skipped"]:
        summary += f", {len(meta['skipped'])} non-media folder entries skipped"
    if meta["unreadable"]:
        summary += f", {len(meta['unreadable'])} unreadable files: {', '.join(meta['unreadable'])}"
    if args.out:
        print(f"wrote {args.out} ({summary}); provenance in {args.out}.json", file=sys.stderr)
    else:
        _write_csv(table, sys.stdout)
        print(summary, file=sys.stderr)
    return 0


class _CallableModule(types.ModuleType):
    """Importing ``auzoo.predict`` rebinds the package attribute ``auzoo.predict``
    from the function to this module; calling the module keeps
    ``auzoo.predict(...)`` working either way."""

    def __call__(self, *args, **kwargs) -> pd.DataFrame:
        return predict(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule

__all__ = ["FRAME_COLUMNS", "IMAGE_EXTENSIONS", "VIDEO_EXTENSIONS", "FacePipeline", "InputError",
           "ModelRunner", "default_workers", "Predictor", "Source", "au_columns", "collect_sources", "iter_video", "load_model", "predict",
           "predict_cli", "read_image"]
