"""The benchmark scripts' own logic, on tiny inputs (benchmarks/ is not a package)."""
from __future__ import annotations

import csv
import importlib
import json
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from .conftest import LandmarkProbe

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


def benchmark_modules(*names):
    """The named modules of benchmarks/ (a script folder, not a package)."""
    sys.path.insert(0, str(BENCHMARKS))
    try:
        yield tuple(importlib.import_module(name) for name in names)
    finally:
        sys.path.remove(str(BENCHMARKS))


@pytest.fixture(scope="module")
def bench_modules():
    yield from benchmark_modules("machine", "throughput")


@pytest.fixture(scope="module")
def gpu_bench():
    yield from benchmark_modules("gpu_bench", "run_clock")


def test_throughput_gives_landmarks_to_models_that_need_them(bench_modules, tmp_path):
    _, throughput = bench_modules
    cfg = tmp_path / "probe.py"
    cfg.write_text("model = dict(type='PredictLandmarkProbe')\nimg_size = 32\n")
    out = tmp_path / "rows.csv"
    LandmarkProbe.seen.clear()
    assert throughput.main([str(cfg), "--device", "cpu", "--img-size", "32", "--batch-size", "2",
                            "--repeats", "1", "--vs-backbone", "--out", str(out)]) == 0
    rows = list(csv.DictReader(out.open()))
    assert [r["mode"] for r in rows] == ["infer", "train"]
    for row in rows:
        assert float(row["samples_per_sec"]) > 0 and float(row["reference_gflops"]) > 0
        assert float(row["of_reference"]) >= 0 and row["load_1min"]
    points = LandmarkProbe.seen[-1][1]
    assert points.shape == (2, 66, 2) and 0 <= points.min() and points.max() <= 31


def test_machine_report_says_when_the_cpu_was_busy(bench_modules, monkeypatch):
    machine, _ = bench_modules
    monkeypatch.setattr(machine.os, "getloadavg", lambda: (3.5, 2.0, 1.0))
    busy = machine.Machine.start("cpu", reference=False).finish()
    assert busy.busy and "TAKEN UNDER LOAD" in "\n".join(busy.lines())
    monkeypatch.setattr(machine.os, "getloadavg", lambda: (0.2, 0.3, 0.3))
    own = iter([])

    class Tree:  # what this process tree used during the run
        def __init__(self):
            self.lock = threading.Lock()  # like the real one's watching thread: not copyable

        def stop(self):
            return next(own)

    monkeypatch.setattr(machine, "ProcessTree", Tree)
    busy, own = iter([100.0, 104.0]), iter([4.0])  # the machine's busy seconds all our own
    monkeypatch.setattr(machine, "busy_seconds", lambda: next(busy))
    quiet = machine.Machine.start("cpu", reference=False)
    json.dumps(quiet.as_dict())  # a running machine's record (gpu_bench's setup part) too
    quiet.finish()
    assert not quiet.busy and "UNDER LOAD" not in "\n".join(quiet.lines())
    assert quiet.others_cores == 0.0 and json.loads(json.dumps(quiet.as_dict()))["busy"] is False
    # a benchmark's own threads raise the load average after it: not "under load" for that
    busy, own = iter([110.0, 114.0]), iter([4.0])
    m = machine.Machine.start("cpu", reference=False)
    monkeypatch.setattr(machine.os, "getloadavg", lambda: (1.9, 0.8, 0.4))
    assert not m.finish().busy
    # other processes' CPU time during the run is
    monkeypatch.setattr(machine.os, "getloadavg", lambda: (0.2, 0.3, 0.3))
    clock = iter([10.0, 12.0])
    monkeypatch.setattr(machine.time, "perf_counter", lambda: next(clock))
    busy, own = iter([100.0, 104.0]), iter([2.0])  # 4 s busy, 2 s ours, over 2 s: 1 core
    shared = machine.Machine.start("cpu", reference=False).finish()
    assert shared.others_cores == 1.0 and shared.busy
    assert "other processes used 1.00 of" in "\n".join(shared.lines())
    quiet.reference_gflops["float32"] = 200.0
    assert quiet.fraction(50.0) == 0.25
    assert machine.model_gflops(2.0, 10.0, "infer") == 40.0   # 2 FLOPs per MAC
    assert machine.model_gflops(2.0, 10.0, "train") == 120.0  # forward + backward ~ 3 forwards


def test_reference_matmul_is_measured(bench_modules):
    machine, _ = bench_modules
    import torch

    assert machine.matmul_gflops(torch.device("cpu"), n=256, seconds=0.05) > 0


def test_only_missing_packages_are_installed_offline_without_dependencies(gpu_bench, tmp_path,
                                                                          monkeypatch):
    bench, _ = gpu_bench
    for name in ("mmengine-0.10.7-py3-none-any.whl", "addict-2.4.0-py3-none-any.whl",
                 "av-18.1.0-cp311-abi3-manylinux_2_28_x86_64.whl"):
        (tmp_path / name).write_bytes(b"")
    monkeypatch.setattr(bench, "missing_modules", lambda modules: ["mmengine", "av"])
    monkeypatch.setattr(bench, "SITE", tmp_path / "site")
    calls = []
    monkeypatch.setattr(bench.subprocess, "run", lambda cmd, check: calls.append(cmd))
    monkeypatch.setattr(bench.sys, "path", list(sys.path))
    monkeypatch.setenv("PYTHONPATH", "")
    done = bench.install_wheels(tmp_path)
    (cmd,) = calls
    assert "--no-deps" in cmd and "--no-index" in cmd and "--target" in cmd
    assert [Path(c).name.split("-")[0] for c in cmd if c.endswith(".whl")] == \
        ["mmengine", "av"]  # not addict: it is there
    assert done["installed"] == ["mmengine-0.10.7-py3-none-any.whl",
                                 "av-18.1.0-cp311-abi3-manylinux_2_28_x86_64.whl"]
    monkeypatch.setattr(bench, "missing_modules", lambda modules: ["yapf", "av"])
    with pytest.raises(SystemExit, match="yapf"):
        bench.install_wheels(tmp_path)
    (tmp_path / "av-18.1.0-cp311-abi3-manylinux_2_28_x86_64.whl").unlink()
    monkeypatch.setattr(bench, "missing_modules", lambda modules: ["av"])
    assert bench.install_wheels(tmp_path) == dict(installed=[], not_installed=["av"])  # optional


def test_each_part_is_saved_and_a_failure_keeps_the_others(gpu_bench, tmp_path):
    bench, _ = gpu_bench
    report = bench.Report(tmp_path, smoke=True)
    bench.run_part(report, "first", lambda: {"images_per_s": 1.0}, budget_s=1e9, needs_s=0)
    saved = json.loads((tmp_path / "gpu_bench.json").read_text())
    assert saved["parts"]["first"] == {"images_per_s": 1.0}

    def broken():
        raise RuntimeError("no GPU kernel for this")

    bench.run_part(report, "second", broken, budget_s=1e9, needs_s=0)
    bench.run_part(report, "third", lambda: 3, budget_s=bench.elapsed() + 10, needs_s=60)
    saved = json.loads((tmp_path / "gpu_bench.json").read_text())
    assert saved["parts"] == {"first": {"images_per_s": 1.0}}
    assert "no GPU kernel" in saved["failed"]["second"]
    assert saved["skipped"][0].startswith("third")
    assert "FAILED second" in (tmp_path / "gpu_bench.md").read_text()


def test_run_clock_splits_epochs(gpu_bench):
    _, clock = gpu_bench
    records = []

    def mark(role, event, epoch, t):
        records.append(dict(role=role, event=event, epoch=epoch, iter=0, t=t))

    for e, t0 in ((1, 0.0), (2, 100.0)):
        mark("first", "before_train_epoch", e, t0)
        for k in range(1, 4):
            mark("last", "after_train_iter", e, t0 + 2.0 * k)      # 3 iterations of 2 s
        mark("first", "after_train_epoch", e, t0 + 6.5)
        mark("last", "after_train_epoch", e, t0 + 6.75)
        mark("first", "before_val_epoch", e, t0 + 7.0)
        mark("first", "after_val_epoch", e, t0 + 17.0)              # 10 s scoring
        mark("last", "after_val_epoch", e, t0 + 20.0)               # 3 s saving
    assert clock.iteration_times(records) == {1: [2.0, 2.0, 2.0], 2: [2.0, 2.0, 2.0]}
    split = clock.epoch_split(records)
    assert [s["epoch"] for s in split] == [1, 2]
    for s in split:
        assert s["train_s"] == pytest.approx(6.0) and s["eval_s"] == pytest.approx(10.0)
        assert s["after_train_hooks_s"] == pytest.approx(0.25)
        assert s["after_val_hooks_s"] == pytest.approx(3.0)


@pytest.mark.skipif(not Path("/proc/stat").exists(), reason="reads /proc")
def test_process_tree_counts_every_descendant(bench_modules):
    # a subprocess's own children count (a fork server's pool workers, which getrusage misses)
    machine, _ = bench_modules
    spin = "import time\nwhile time.process_time() < 0.6: pass"
    child = ("import subprocess, sys\n"
             f"subprocess.run([sys.executable, '-c', {spin!r}], check=True)")
    tree = machine.ProcessTree(interval=0.05)
    subprocess.run([sys.executable, "-c", child], check=True)
    used = tree.stop()
    assert used >= 0.5  # the grandchild's 0.6 s, less at most one interval


@pytest.fixture(scope="module")
def onnx_bench():
    yield from benchmark_modules("onnx_throughput")


def test_onnx_throughput_times_both_runtimes_alike(onnx_bench, tmp_path):
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    cfg = tmp_path / "tiny.py"
    cfg.write_text("img_size = 32\nmodel = dict(type='RegionAUNet', aus=(1, 2, 4), "
                   "backbone=dict(type='TimmBackbone', model_name='test_resnet'), neck=None, "
                   "splitter=dict(type='WholeFaceSplitter'), attention=[], "
                   "head=dict(type='TwoFCHead', pool_size=1, hidden=8, dropout=0.0), "
                   "branches=[dict(region='face')])\n")
    out = tmp_path / "report.txt"
    (bench,) = onnx_bench
    assert bench.main([str(cfg), "--batch-sizes", "1", "2", "--images", "2", "--repeats", "2",
                          "--frames", "3", "--size", "240x180", "--out", str(out)]) == 0
    report = out.read_text()
    rows = [line.split() for line in report.splitlines() if line.startswith("tiny ")]
    assert [r[2] for r in rows[:2]] == ["1", "2"]           # model alone, batch 1 and 2
    for row in rows[:2]:
        assert float(row[3]) > 0 and float(row[4]) > 0      # images/s, each runtime
    assert len(rows) == 3 and float(rows[2][1]) > 0 and float(rows[2][2]) > 0  # predict frames/s
    assert "reference (matrix product" in report and "load average" in report
    assert "geometric mean over the models" in report and "max |p_onnxrt - p_torch|" in report
