"""The benchmark scripts' own logic, on tiny inputs (benchmarks/ is not a package)."""
from __future__ import annotations

import csv
import sys
from pathlib import Path

import pytest

from .conftest import LandmarkProbe

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


@pytest.fixture(scope="module")
def bench_modules():
    sys.path.insert(0, str(BENCHMARKS))
    try:
        import machine
        import throughput

        yield machine, throughput
    finally:
        sys.path.remove(str(BENCHMARKS))


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
    quiet = machine.Machine.start("cpu", reference=False).finish()
    assert not quiet.busy and "UNDER LOAD" not in "\n".join(quiet.lines())
    quiet.reference_gflops["float32"] = 200.0
    assert quiet.fraction(50.0) == 0.25
    assert machine.model_gflops(2.0, 10.0, "infer") == 40.0   # 2 FLOPs per MAC
    assert machine.model_gflops(2.0, 10.0, "train") == 120.0  # forward + backward ~ 3 forwards


def test_reference_matmul_is_measured(bench_modules):
    machine, _ = bench_modules
    import torch

    assert machine.matmul_gflops(torch.device("cpu"), n=256, seconds=0.05) > 0
