"""prepare's pool workers exit when prepare itself is killed with SIGKILL."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")


def _stat(pid: int):
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text.rsplit(")", 1)[1].split()
    return fields[0], int(fields[1])   # state, parent pid


def _descendants(root: int) -> set:
    children = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            st = _stat(int(entry))
            if st is not None:
                children.setdefault(st[1], []).append(int(entry))
    found, todo = set(), [root]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def _running(pids) -> set:
    return {p for p in pids if (st := _stat(p)) is not None and st[0] != "Z"}


def test_workers_exit_after_kill_9_of_prepare(synth_root, tmp_path):
    out = tmp_path / "cache"
    code = ("from auzoo.cli import main; import sys; "
            f"sys.exit(main(['prepare', 'disfa', {str(synth_root)!r}, '--out', {str(out)!r}, "
            "'--workers', '2', '--size', '160']))")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    family = set()
    proc = subprocess.Popen([sys.executable, "-c", code], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 60
        while time.time() < deadline:
            family |= _descendants(proc.pid)
            started = list((out / "subjects").glob(".SN*.tmp-*")) if (out / "subjects").is_dir() else []
            if len(_running(family)) >= 3 and started:   # forkserver + 2 workers, mid-subject
                break
            assert proc.poll() is None, "prepare ended before it could be killed"
            time.sleep(0.05)
        else:
            pytest.fail("prepare's workers did not start within 60 s")
        family |= _descendants(proc.pid)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        deadline = time.time() + 5
        while _running(family) and time.time() < deadline:
            time.sleep(0.1)
        left = _running(family)
        assert not left, f"processes left after kill -9 of prepare: {sorted(left)}"
    finally:
        if proc.poll() is None:
            proc.kill()
        for pid in _running(family):   # what a failing run leaves behind
            os.kill(pid, signal.SIGKILL)
