"""``auzoo prepare disfa ROOT --out CACHE``: decode, align and index DISFA once.

Every video is decoded once, frame by frame; every frame is aligned with its
own landmarks (:func:`auzoo.data.align.align_face`) and written to a
memory-mappable array that training reads directly. The left camera's
landmarks are DISFA's annotations; the right camera's are found on each frame
by dlib (:mod:`auzoo.data.detected`), since the annotations are in the left
camera's pixels. Subjects run in parallel
processes. The work resumes: a subject is written under a temporary name and
renamed into place only once complete, with its ``done.json`` inside, so a
rerun skips finished subjects and never mistakes a half-written one for
finished. The cache format is described in docs/data.md and read by
:func:`auzoo.data.cache.open_cache`.
"""
from __future__ import annotations

import hashlib
import io
import json
import multiprocessing
import os
import platform
import shutil
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Callable, Dict, List, Optional

import cv2
import numpy as np
import pandas as pd

from auzoo.data.align import align_face, transform_points
from auzoo.data.detected import ANNOTATED, DLIB_68, VideoLandmarks
from auzoo.data.disfa import DisfaRoot, DisfaSubject
from auzoo.data.protocol import DISFA, DISFA_LABELLED_AUS, DISFA_SUBJECTS, error_log_mask

CACHE_FORMAT = "auzoo-disfa-cache"
CACHE_VERSION = 1
SUBJECTS_DIR = "subjects"
DONE = "done.json"
META = "meta.json"
INDEX = "index.csv"
SETTINGS = "settings.json"
LABEL_COLUMNS = tuple(f"au{a}" for a in DISFA_LABELLED_AUS)
FLAG_COLUMNS = ("error_log", "landmarks_missing", "aligned", "bad_landmarks")
INDEX_COLUMNS = ("subject", "frame", *LABEL_COLUMNS, *FLAG_COLUMNS)

# What a real, complete DISFA gives (docs: reference/disfa.md): frames with
# intensity >= 2 over all label lines of all 27 subjects, and spot checks.
FULL_LABEL_LINES = {s: (4844 if s == "SN010" else 4845) for s in DISFA_SUBJECTS}
PUBLISHED_POSITIVES = {"au1": 6506, "au2": 5644, "au4": 19933, "au6": 10327, "au9": 5473,
                       "au12": 16851, "au25": 36247, "au26": 11533}
PUBLISHED_SPOT_CHECKS = {"SN001": {"au1": 0, "au12": 408, "au25": 249, "au26": 186},
                         "SN029": {"au2": 1949}}


# ------------------------------------------------------------------ one subject

def _truncate_npy(path: Path, n: int) -> None:
    """Shrink a saved array to its first ``n`` rows in place (header + file size)."""
    with open(path, "r+b") as f:
        version = np.lib.format.read_magic(f)
        read = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                else np.lib.format.read_array_header_2_0)
        shape, fortran, dtype = read(f)
        offset = f.tell()
        header = io.BytesIO()
        write = (np.lib.format.write_array_header_1_0 if version == (1, 0)
                 else np.lib.format.write_array_header_2_0)
        write(header, {"descr": np.lib.format.dtype_to_descr(dtype), "fortran_order": fortran,
                       "shape": (n, *shape[1:])})
        if len(header.getvalue()) == offset:
            f.seek(0)
            f.write(header.getvalue())
            f.truncate(offset + n * int(np.prod(shape[1:], dtype=np.int64)) * dtype.itemsize)
            return
    data = np.load(path, mmap_mode="r")[:n].copy()  # header grew: rewrite the file
    np.save(path, data)


def subject_digest(subject: str, labels: np.ndarray, landmarks: np.ndarray) -> str:
    """Digest of a subject's labels (n, 12) uint8 and source landmarks (n, 66, 2) float32."""
    h = hashlib.sha256(subject.encode())
    h.update(np.ascontiguousarray(labels, dtype=np.uint8).tobytes())
    h.update(np.ascontiguousarray(landmarks, dtype=np.float32).tobytes())
    return h.hexdigest()


def prepare_subject(files: DisfaSubject, out: Path, size: int,
                    progress: Optional[Callable[[int], None]] = None) -> dict:
    """Write ``out/subjects/SNxxx`` for one subject; returns its ``done.json`` record.

    Left camera: every frame is aligned with DISFA's annotated landmarks.
    Right camera: DISFA's landmarks are in the left camera's pixels, so each
    frame is aligned with the landmarks dlib finds on it (:mod:`auzoo.data.detected`);
    a frame where no face is found counts as one without landmarks, and the
    Error_LOG (annotation errors of the left camera's points) does not apply.
    """
    started = time.time()
    subject = files.subject
    final = out / SUBJECTS_DIR / subject
    tmp = out / SUBJECTS_DIR / f".{subject}.tmp-{os.getpid()}"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)

    labels, label_lines = files.read_labels()
    n_labels = len(labels)
    annotated = files.camera == "left"
    if annotated:
        landmark_files = files.landmarks
        source, missing = landmark_files.read(n_labels)
        detect = None
    else:  # filled in frame by frame below
        source = np.full((n_labels, 66, 2), np.nan, dtype=np.float32)
        missing = np.ones(n_labels, dtype=bool)
        detect = VideoLandmarks()

    frames = np.lib.format.open_memmap(tmp / "frames.npy", mode="w+", dtype=np.uint8,
                                       shape=(n_labels, size, size, 3))
    aligned_pts = np.full((n_labels, 66, 2), np.nan, dtype=np.float32)
    matrices = np.full((n_labels, 2, 3), np.nan, dtype=np.float32)
    aligned = np.zeros(n_labels, dtype=bool)
    n = 0
    for k, bgr in enumerate(files.frames(limit=n_labels, rgb=False)):
        n = k + 1
        if detect is not None:
            points = detect(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
            if points is not None:
                source[k], missing[k] = points, False
        if not missing[k] and np.isfinite(source[k]).all():
            try:
                face, m = align_face(bgr, source[k], size)
            except ValueError:  # degenerate landmarks: no image, flagged below
                pass
            else:
                frames[k] = face[..., ::-1]  # BGR -> RGB
                aligned_pts[k] = transform_points(source[k], m)
                matrices[k] = m
                aligned[k] = True
        # Frames without usable landmarks stay all zeros: never aligned with
        # another frame's landmarks.
        if progress is not None and n % 50 == 0:
            progress(50)
    if progress is not None and n_labels - 50 * (n // 50):
        progress(n_labels - 50 * (n // 50))  # the rest, and any frames the video lacks
    frames.flush()
    del frames
    if n < n_labels:
        _truncate_npy(tmp / "frames.npy", n)

    # Positives over all label lines (not only the decoded frames), as published.
    positives = {name: int((labels[:, c] >= DISFA.threshold).sum())
                 for c, name in enumerate(LABEL_COLUMNS)}
    labels, source, missing = labels[:n], source[:n], missing[:n]
    aligned_pts, matrices, aligned = aligned_pts[:n], matrices[:n], aligned[:n]
    # The Error_LOG lists annotation errors of the left camera's landmarks;
    # detected landmarks have their own failures (no face: not aligned).
    error_log = error_log_mask(subject, n) if annotated else np.zeros(n, dtype=bool)
    index = pd.DataFrame({"subject": subject, "frame": np.arange(n)})
    for c, name in enumerate(LABEL_COLUMNS):
        index[name] = labels[:, c]
    index["error_log"] = error_log
    index["landmarks_missing"] = missing
    index["aligned"] = aligned
    index["bad_landmarks"] = error_log | ~aligned
    index.to_csv(tmp / INDEX, index=False)
    np.save(tmp / "landmarks.npy", aligned_pts)
    np.save(tmp / "landmarks_source.npy", source)
    np.save(tmp / "matrices.npy", matrices)

    record = {
        "subject": subject,
        "frames": n,
        "size": size,
        "camera": files.camera,
        "video": str(files.video),
        "label_lines": min(label_lines.values()),
        "label_lines_per_au": ({f"au{a}": c for a, c in label_lines.items()}
                               if len(set(label_lines.values())) > 1 else None),
        "decoded_frames": n,
        "video_frames_reported": _reported_frame_count(files.video),
        "landmark_source": ANNOTATED if annotated else DLIB_68,
        **(_annotation_record(landmark_files) if annotated else _detection_record(detect)),
        "landmarks_missing": int(missing.sum()),
        "landmarks_unusable": int((~aligned & ~missing).sum()),
        "error_log_frames": int(error_log.sum()),
        "aligned_frames": int(aligned.sum()),
        "bad_landmark_frames": int((error_log | ~aligned).sum()),
        "positives_all_lines": positives,
        "digest": subject_digest(subject, labels, source),
        "seconds": round(time.time() - started, 2),
    }
    (tmp / DONE).write_text(json.dumps(record, indent=1) + "\n")
    if final.exists():  # a leftover without done.json (or an older run's): replace it
        shutil.rmtree(final)
    os.replace(tmp, final)
    return record


def _annotation_record(landmark_files) -> dict:
    return {"landmark_folder": str(landmark_files.folder) if landmark_files.folder else None,
            "landmark_files": len(landmark_files.files),
            "landmark_numbering_starts_at": landmark_files.first_number}


def _detection_record(detect: VideoLandmarks) -> dict:
    return {"landmark_folder": None, "landmark_files": 0, "landmark_numbering_starts_at": None,
            "face_detector": detect.describe(), "detector_runs": detect.detections}


def _reported_frame_count(video: Path) -> Optional[int]:
    cap = cv2.VideoCapture(str(video))
    try:
        n = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    finally:
        cap.release()
    return n if n > 0 else None


# Worker processes: the queue for progress reports is handed over at start-up.
_progress_queue = None


def _init_worker(queue) -> None:
    global _progress_queue
    _progress_queue = queue
    cv2.setNumThreads(1)  # one process per core already


def _worker(root: str, camera: str, subject: str, out: str, size: int) -> dict:
    files = DisfaRoot(root, camera)[subject]
    return prepare_subject(files, Path(out), size,
                           progress=lambda k: _progress_queue.put((subject, k)))


# ------------------------------------------------------------------ the cache

def is_done(out: Path, subject: str) -> bool:
    return (Path(out) / SUBJECTS_DIR / subject / DONE).is_file()


def _check_settings(out: Path, root: Path, camera: str, size: int, console) -> None:
    path = out / SETTINGS
    settings = {"format": CACHE_FORMAT, "version": CACHE_VERSION, "camera": camera, "size": size}
    if path.exists():
        old = json.loads(path.read_text())
        for key in ("format", "version", "camera", "size"):
            if old.get(key) != settings[key]:
                raise ValueError(
                    f"{out} holds a cache with {key}={old.get(key)!r}, not {settings[key]!r}; "
                    "choose another --out")
        if old.get("source_root") != str(root.resolve()):
            console.print(f"[yellow]note: {out} was started from {old.get('source_root')}; "
                          f"finished subjects are kept, the rest come from {root}[/]")
    else:
        out.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({**settings, "source_root": str(root.resolve())}, indent=1) + "\n")


def _clean_leftovers(out: Path) -> int:
    folder = out / SUBJECTS_DIR
    removed = 0
    if folder.is_dir():
        for p in folder.iterdir():
            if p.name.startswith(".") and ".tmp-" in p.name:
                shutil.rmtree(p, ignore_errors=True)
                removed += 1
    return removed


def _versions() -> dict:
    import scipy

    from auzoo import __version__

    return {"auzoo": __version__, "python": platform.python_version(), "numpy": np.__version__,
            "opencv": cv2.__version__, "scipy": scipy.__version__, "pandas": pd.__version__}


def _label_checks(records: Dict[str, dict], synthetic: bool) -> List[str]:
    """Plain-language comparison with the published DISFA label counts."""
    lines = []
    full = {s: r for s, r in records.items() if r["label_lines"] == FULL_LABEL_LINES.get(s)}
    why = " (expected: this is a synthetic DISFA written by auzoo synth)" if synthetic else ""
    if set(records) == set(DISFA_SUBJECTS):
        totals = {au: sum(r["positives_all_lines"][au] for r in records.values())
                  for au in PUBLISHED_POSITIVES}
        diff = {au: (totals[au], ref) for au, ref in PUBLISHED_POSITIVES.items() if totals[au] != ref}
        if diff:
            lines.append(f"label totals (frames >= 2) DIFFER from DISFA's published counts{why}: "
                         + ", ".join(f"{au} {got:,} vs {ref:,}" for au, (got, ref) in diff.items()))
        else:
            lines.append("label totals (frames >= 2) match DISFA's published counts for all 8 AUs")
    else:
        lines.append(f"label totals not compared: {len(records)} of DISFA's 27 subjects present")
    for subject, ref in PUBLISHED_SPOT_CHECKS.items():
        if subject not in full:
            continue
        got = full[subject]["positives_all_lines"]
        bad = {au: (got[au], v) for au, v in ref.items() if got[au] != v}
        if bad:
            lines.append(f"{subject} spot check DIFFERS{why}: "
                         + ", ".join(f"{au} {g:,} vs {v:,}" for au, (g, v) in bad.items()))
        else:
            lines.append(f"{subject} spot check matches ({', '.join(f'{a}={v}' for a, v in ref.items())})")
    return lines


def finalize(out: Path, data: DisfaRoot, synthetic: bool) -> dict:
    """Combine the finished subjects into ``index.csv`` and ``meta.json``."""
    records = {s: json.loads((out / SUBJECTS_DIR / s / DONE).read_text()) for s in data.subjects}
    index = pd.concat([pd.read_csv(out / SUBJECTS_DIR / s / INDEX) for s in data.subjects],
                      ignore_index=True)
    tmp = out / (INDEX + ".tmp")
    index.to_csv(tmp, index=False)
    os.replace(tmp, out / INDEX)
    digest = hashlib.sha256("".join(f"{s}:{records[s]['digest']}\n" for s in data.subjects).encode())
    totals = {key: sum(r[key] for r in records.values())
              for key in ("frames", "landmarks_missing", "landmarks_unusable", "error_log_frames",
                          "aligned_frames", "bad_landmark_frames")}
    meta = {
        "format": CACHE_FORMAT,
        "version": CACHE_VERSION,
        "dataset": "disfa",
        "source_root": str(data.root.resolve()),
        "camera": data.camera,
        "landmark_source": ANNOTATED if data.camera == "left" else DLIB_68,
        "error_log_applied": data.camera == "left",
        "size": records[data.subjects[0]]["size"],
        "synthetic": synthetic,
        "subjects": records,
        "totals": totals,
        "label_columns": list(LABEL_COLUMNS),
        "checksum": digest.hexdigest()[:16],
        "label_checks": _label_checks(records, synthetic),
        "versions": _versions(),
        "written": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    tmp = out / (META + ".tmp")
    tmp.write_text(json.dumps(meta, indent=1) + "\n")
    os.replace(tmp, out / META)
    return meta


def _report(meta: dict, skipped: List[str], console) -> None:
    if meta.get("landmark_source", ANNOTATED) != ANNOTATED:
        return _report_detected(meta, skipped, console)
    from rich.table import Table

    table = Table(title=f"DISFA cache {meta['checksum']} ({meta['camera']} camera, {meta['size']} px)")
    for col in ("subject", "frames", "labels", "lm files", "lm missing",
                "lm unusable", "Error_LOG", "bad", ""):
        table.add_column(col, justify="right" if col not in ("subject", "") else "left")
    for s, r in meta["subjects"].items():
        table.add_row(s, f"{r['frames']:,}", f"{r['label_lines']:,}", f"{r['landmark_files']:,}",
                      str(r["landmarks_missing"]), str(r["landmarks_unusable"]),
                      str(r["error_log_frames"]), str(r["bad_landmark_frames"]),
                      "resumed" if s in skipped else "")
    t = meta["totals"]
    table.add_row("all", f"{t['frames']:,}", "", "", str(t["landmarks_missing"]),
                  str(t["landmarks_unusable"]), str(t["error_log_frames"]),
                  str(t["bad_landmark_frames"]), "", style="bold")
    console.print(table)
    console.print(f"{t['frames']:,} frames of {len(meta['subjects'])} subjects; "
                  f"{t['landmarks_missing']} without a landmark file and {t['landmarks_unusable']} "
                  "with unusable landmarks (kept in the index, flagged, image left black); "
                  f"{t['error_log_frames']} in DISFA's Error_LOG ranges.")
    _report_notes(meta, console)


def _report_notes(meta: dict, console) -> None:
    for s, r in meta["subjects"].items():
        if r.get("label_lines_per_au"):
            console.print(f"[yellow]{s}: AU files differ in length {r['label_lines_per_au']}; "
                          "the shortest was used[/]")
    for line in meta["label_checks"]:
        console.print(line)
    console.print(f"data checksum {meta['checksum']}")


def _report_detected(meta: dict, skipped: List[str], console) -> None:
    """The report of a cache aligned with detected landmarks (right camera)."""
    from rich.table import Table

    table = Table(title=f"DISFA cache {meta['checksum']} ({meta['camera']} camera, "
                        f"{meta['size']} px, landmarks: {meta['landmark_source']})")
    for col in ("subject", "frames", "labels", "no face", "lm unusable", "bad", ""):
        table.add_column(col, justify="right" if col not in ("subject", "") else "left")
    for s, r in meta["subjects"].items():
        table.add_row(s, f"{r['frames']:,}", f"{r['label_lines']:,}", str(r["landmarks_missing"]),
                      str(r["landmarks_unusable"]), str(r["bad_landmark_frames"]),
                      "resumed" if s in skipped else "")
    t = meta["totals"]
    table.add_row("all", f"{t['frames']:,}", "", str(t["landmarks_missing"]),
                  str(t["landmarks_unusable"]), str(t["bad_landmark_frames"]), "", style="bold")
    console.print(table)
    console.print(f"{t['frames']:,} frames of {len(meta['subjects'])} subjects; landmarks found by "
                  f"dlib on each frame. {t['landmarks_missing']} with no face found and "
                  f"{t['landmarks_unusable']} with unusable landmarks (kept in the index, flagged, "
                  "image left black). DISFA's Error_LOG lists errors of the left camera's "
                  "annotations and is not applied.")
    _report_notes(meta, console)


def prepare_disfa(root, out, workers: int = 1, camera: str = "left", size: int = 224,
                  subjects: Optional[List[str]] = None, console=None) -> dict:
    """Decode, align and index a DISFA root into the cache folder ``out``.

    Returns the cache's ``meta`` dict. ``subjects`` restricts the work to some
    subjects (the cache is finished only when every subject of the root is).
    """
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from auzoo.data.synth import SYNTH_MARKER

    console = console or Console()
    root, out = Path(root), Path(out)
    if size < 32:
        raise ValueError(f"--size {size} is too small")
    data = DisfaRoot(root, camera)
    _check_settings(out, root, camera, size, console)
    removed = _clean_leftovers(out)
    if removed:
        console.print(f"removed {removed} half-written subject folder(s) from an interrupted run")
    wanted = data.subjects if subjects is None else [s.upper() for s in subjects]
    skipped = [s for s in wanted if is_done(out, s)]
    todo = [s for s in wanted if s not in skipped]
    if skipped:
        console.print(f"resuming: {len(skipped)} subject(s) already prepared, {len(todo)} to go")

    totals = {s: _label_line_count(data[s]) for s in todo}
    failures: Dict[str, BaseException] = {}
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TextColumn("frames"), TimeRemainingColumn())
    with Progress(*columns, console=console) as progress:
        task = progress.add_task(f"prepare {root.name} -> {out}", total=sum(totals.values()))
        if workers <= 1 or len(todo) <= 1:
            for s in todo:
                try:
                    prepare_subject(data[s], out, size, progress=lambda k: progress.advance(task, k))
                except (KeyboardInterrupt, SystemExit):
                    raise
                except Exception as exc:  # keep going: finished subjects are kept
                    failures[s] = exc
        else:
            # Not plain fork: a process forked after OpenCV started its threads can hang.
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload([__name__])  # workers start with it imported
            queue = context.Queue()
            with ProcessPoolExecutor(min(workers, len(todo)), mp_context=context,
                                     initializer=_init_worker, initargs=(queue,)) as pool:
                futures = {s: pool.submit(_worker, str(root), camera, s, str(out), size) for s in todo}
                pending = set(futures)
                try:
                    while pending:
                        _drain(queue, progress, task, timeout=0.2)
                        for s in [s for s in pending if futures[s].done()]:
                            pending.discard(s)
                            if futures[s].exception() is not None:
                                failures[s] = futures[s].exception()
                except KeyboardInterrupt:  # finished subjects stay; don't wait for the rest
                    pool.shutdown(wait=False, cancel_futures=True)
                    raise
                _drain(queue, progress, task, timeout=0)
    if failures:
        msg = "; ".join(f"{s}: {exc}" for s, exc in failures.items())
        raise ValueError(f"prepare failed for {len(failures)} subject(s) ({msg}). "
                         f"Finished subjects are kept; rerun the same command to resume.")
    if not all(is_done(out, s) for s in data.subjects):
        left = [s for s in data.subjects if not is_done(out, s)]
        console.print(f"{len(left)} subject(s) not prepared yet ({', '.join(left)}); "
                      "the cache is not finished")
        return {}
    meta = finalize(out, data, synthetic=(root / SYNTH_MARKER).is_file())
    _report(meta, skipped, console)
    return meta


def _label_line_count(files: DisfaSubject) -> int:
    with open(files.label_files[DISFA_LABELLED_AUS[0]], "rb") as f:
        return sum(1 for line in f if line.strip())


def _drain(queue, progress, task, timeout: float) -> None:
    import queue as queue_mod

    try:
        item = queue.get(timeout=timeout) if timeout else queue.get_nowait()
        while True:
            progress.advance(task, item[1])
            item = queue.get_nowait()
    except queue_mod.Empty:
        pass
