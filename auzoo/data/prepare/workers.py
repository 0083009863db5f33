"""The process pool prepare runs units in, whose workers never outlive it.

Workers come from a forkserver (a process forked after OpenCV started its
threads can hang). Killing ``auzoo prepare`` with SIGKILL runs no cleanup, and
each worker holds the forkserver's "alive" pipe, so the forkserver waits for
the workers while the workers wait for work: both would stay forever. So each
worker, as it starts,

* asks Linux to SIGKILL it when its parent (the forkserver) dies
  (``prctl(PR_SET_PDEATHSIG)``), and
* watches the pid of the ``prepare`` process itself from a daemon thread and
  exits as soon as that process is gone (the forkserver then sees its pipe
  close and exits too). The watchdog is what works where prctl does not
  (macOS) and when the forkserver outlives the parent.
"""
from __future__ import annotations

import ctypes
import multiprocessing
import os
import signal
import sys
import threading
import time
from concurrent.futures import ProcessPoolExecutor

PR_SET_PDEATHSIG = 1
WATCH_INTERVAL_S = 0.5

# Set in each worker by _init_worker: where progress reports go.
_progress_queue = None


def _die_with_parent() -> None:
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):  # no prctl: the watchdog alone
        pass


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    if sys.platform.startswith("linux"):  # a zombie is gone too
        try:
            with open(f"/proc/{pid}/stat") as f:
                return f.read().rsplit(")", 1)[1].split()[0] != "Z"
        except OSError:
            return False
    return True


def _watch(owner: int) -> None:
    while _alive(owner):
        time.sleep(WATCH_INTERVAL_S)
    os._exit(1)


def _init_worker(queue, owner: int) -> None:
    global _progress_queue
    # Ctrl-C reaches every process of the terminal's group: the main process
    # stops the pool and says how to resume; a worker stays quiet (it ends
    # with its parent) instead of printing a traceback of its own.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _die_with_parent()
    threading.Thread(target=_watch, args=(owner,), daemon=True, name="owner-watchdog").start()
    _progress_queue = queue
    import cv2

    cv2.setNumThreads(1)  # one process per core already


def report_progress(unit: str, frames: int) -> None:
    if _progress_queue is not None:
        _progress_queue.put((unit, frames))


def worker_pool(workers: int, preload=()):
    """``(pool, queue)``: a process pool whose workers exit with this process."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(list(preload))
    queue = context.Queue()
    pool = ProcessPoolExecutor(workers, mp_context=context, initializer=_init_worker,
                               initargs=(queue, os.getpid()))
    return pool, queue
