"""The cache writer every dataset shares: parallel, resumable, reported.

A dataset's preparer is a *source* (see :class:`Source`): it names the units
(subjects) to write and gives, for each, a picklable job that writes the
subject's arrays and returns its index rows and record. The writer runs the
jobs in a process pool whose workers exit with it (:mod:`.workers`), writes
each subject under a temporary name and renames it into place only once
complete, with its ``done.json`` inside, so a rerun skips finished subjects
and never mistakes a half-written one for finished. When every subject is
done it writes ``index.csv`` and, last, ``meta.json``.
"""
from __future__ import annotations

import hashlib
import json
import os
import platform
import shutil
import time
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple

import numpy as np
import pandas as pd

from auzoo.data.align import LOOSE_SIZE
from auzoo.data.cache_format import (CACHE_FORMAT, CACHE_VERSION, DONE, INDEX, META, SETTINGS,
                                     SUBJECTS_DIR)
from auzoo.data.prepare import workers as pool_mod

# A job: (tmp folder, image size, progress callback) -> (index rows, record).
Job = Callable[[Path, int, Callable[[int], None]], Tuple[pd.DataFrame, dict]]


class Source:
    """What a dataset's preparer gives the writer (override the methods).

    ``dataset`` is the registered dataset's name; ``root`` the source;
    ``settings`` what must stay the same when a cache is resumed.
    """

    dataset: str = ""
    root: Path
    units: List[str] = []
    settings: dict = {}
    total_keys: Tuple[str, ...] = ("frames",)

    def unit_frames(self, unit: str) -> int:
        raise NotImplementedError

    def job(self, unit: str) -> Job:
        raise NotImplementedError

    def meta(self, records: Dict[str, dict]) -> dict:
        return {}

    def report(self, meta: dict, skipped: List[str], console) -> None:
        raise NotImplementedError


def is_done(out: Path, unit: str) -> bool:
    return (Path(out) / SUBJECTS_DIR / unit / DONE).is_file()


def run_job(job: Job, unit: str, out: str, size: int,
            advance: Optional[Callable[[int], None]] = None) -> dict:
    """Write one subject (in a worker, or in-process with ``advance``); returns its record."""
    out = Path(out)
    final = out / SUBJECTS_DIR / unit
    tmp = out / SUBJECTS_DIR / f".{unit}.tmp-{os.getpid()}"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    started = time.time()
    index, record = job(tmp, size, advance or (lambda k: pool_mod.report_progress(unit, k)))
    record = {"subject": unit, **record, "size": size,
              "seconds": round(time.time() - started, 2)}
    index.to_csv(tmp / INDEX, index=False)
    (tmp / DONE).write_text(json.dumps(record, indent=1) + "\n")
    if final.exists():  # a leftover without done.json (or an older run's): replace it
        shutil.rmtree(final)
    os.replace(tmp, final)
    return record


def _check_settings(out: Path, source: Source, size: int, console) -> None:
    path = out / SETTINGS
    settings = {"format": CACHE_FORMAT, "version": CACHE_VERSION, "dataset": source.dataset,
                **source.settings, "size": size}
    if path.exists():
        old = json.loads(path.read_text())
        old.setdefault("dataset", "disfa")  # written before datasets had names
        for key, value in settings.items():
            if old.get(key) != value:
                raise ValueError(f"{out} holds a cache with {key}={old.get(key)!r}, not {value!r}; "
                                 "choose another --out")
        if old.get("source_root") != str(source.root.resolve()):
            console.print(f"[yellow]note: {out} was started from {old.get('source_root')}; "
                          f"finished subjects are kept, the rest come from {source.root}[/]")
    else:
        out.mkdir(parents=True, exist_ok=True)
        settings["source_root"] = str(source.root.resolve())
        path.write_text(json.dumps(settings, indent=1) + "\n")


def _clean_leftovers(out: Path) -> int:
    folder = out / SUBJECTS_DIR
    removed = 0
    if folder.is_dir():
        for p in folder.iterdir():
            if p.name.startswith(".") and ".tmp-" in p.name:
                shutil.rmtree(p, ignore_errors=True)
                removed += 1
    return removed


def versions() -> dict:
    import cv2
    import scipy

    from auzoo import __version__

    return {"auzoo": __version__, "python": platform.python_version(), "numpy": np.__version__,
            "opencv": cv2.__version__, "scipy": scipy.__version__, "pandas": pd.__version__}


def finalize(out: Path, source: Source) -> dict:
    """Combine the finished subjects into ``index.csv`` and ``meta.json``."""
    from auzoo.data.datasets import dataset_from_meta

    units = source.units
    records = {s: json.loads((out / SUBJECTS_DIR / s / DONE).read_text()) for s in units}
    index = pd.concat([pd.read_csv(out / SUBJECTS_DIR / s / INDEX, dtype={"subject": str},
                                   keep_default_na=False) for s in units], ignore_index=True)
    tmp = out / (INDEX + ".tmp")
    index.to_csv(tmp, index=False)
    os.replace(tmp, out / INDEX)
    digest = hashlib.sha256("".join(f"{s}:{records[s]['digest']}\n" for s in units).encode())
    meta = {
        "format": CACHE_FORMAT,
        "version": CACHE_VERSION,
        "dataset": source.dataset,
        "source_root": str(source.root.resolve()),
        "size": records[units[0]]["size"],
        "subjects": records,
        "totals": {k: sum(r.get(k, 0) for r in records.values()) for k in source.total_keys},
        "label_columns": [c for c in index.columns if c.startswith("au") and c[2:].isdigit()],
        "checksum": digest.hexdigest()[:16],
        "versions": versions(),
        "written": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    meta.update(source.meta(records))
    dataset = dataset_from_meta(meta)
    meta["label_checks"] = dataset.label_checks(records, bool(meta.get("synthetic")))
    tmp = out / (META + ".tmp")
    tmp.write_text(json.dumps(meta, indent=1) + "\n")
    os.replace(tmp, out / META)
    return meta


def _run_parallel(source: Source, todo: List[str], out: Path, size: int, workers: int,
                  progress, task, failures: Dict[str, BaseException]) -> None:
    import queue as queue_mod

    pool, queue = pool_mod.worker_pool(min(workers, len(todo)), preload=[__name__])

    def drain(timeout: float) -> None:
        try:
            item = queue.get(timeout=timeout) if timeout else queue.get_nowait()
            while True:
                progress.advance(task, item[1])
                item = queue.get_nowait()
        except queue_mod.Empty:
            pass

    with pool:
        futures = {s: pool.submit(run_job, source.job(s), s, str(out), size) for s in todo}
        pending = set(futures)
        try:
            while pending:
                drain(0.2)
                for s in [s for s in pending if futures[s].done()]:
                    pending.discard(s)
                    if futures[s].exception() is not None:
                        failures[s] = futures[s].exception()
        except KeyboardInterrupt:  # finished subjects stay; don't wait for the rest
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        drain(0)


def run_prepare(source: Source, out, workers: int = 1, size: int = LOOSE_SIZE,
                subjects: Optional[List[str]] = None, console=None) -> dict:
    """Write (or resume) the cache ``out`` from ``source``; returns its meta ({} if unfinished)."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    console = console or Console()
    out = Path(out)
    if size < 32:
        raise ValueError(f"--size {size} is too small")
    _check_settings(out, source, size, console)
    removed = _clean_leftovers(out)
    if removed:
        console.print(f"removed {removed} half-written subject folder(s) from an interrupted run")
    wanted = source.units if subjects is None else list(subjects)
    skipped = [s for s in wanted if is_done(out, s)]
    todo = [s for s in wanted if s not in skipped]
    if skipped:
        console.print(f"resuming: {len(skipped)} subject(s) already prepared, {len(todo)} to go")
    failures: Dict[str, BaseException] = {}
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TextColumn("frames"), TimeRemainingColumn())
    with Progress(*columns, console=console) as progress:
        task = progress.add_task(f"prepare {source.root.name} -> {out}",
                                 total=sum(source.unit_frames(s) for s in todo))
        if workers <= 1 or len(todo) <= 1:
            for s in todo:
                try:
                    run_job(source.job(s), s, str(out), size, lambda k: progress.advance(task, k))
                except (KeyboardInterrupt, SystemExit):
                    raise
                except Exception as exc:  # keep going: finished subjects are kept
                    failures[s] = exc
        else:
            _run_parallel(source, todo, out, size, workers, progress, task, failures)
    if failures:
        msg = "; ".join(f"{s}: {exc}" for s, exc in failures.items())
        raise ValueError(f"prepare failed for {len(failures)} subject(s) ({msg}). "
                         f"Finished subjects are kept; rerun the same command to resume.")
    left = [s for s in source.units if not is_done(out, s)]
    if left:
        console.print(f"{len(left)} subject(s) not prepared yet ({', '.join(left)}); "
                      "the cache is not finished")
        return {}
    meta = finalize(out, source)
    source.report(meta, skipped, console)
    return meta

