"""`auzoo bench`: cells, shards and merge, an interrupted bench rerun, the tables."""
from __future__ import annotations

import json
import signal
from collections import Counter
import subprocess
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from conftest import HERE, PYTHON, TINY_CONFIG, cli_env

EPOCHS = 2


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def configs(tmp_path_factory):
    """Two tiny models. One is named 'tranet' (a file, not the registered
    model) so that the report puts TRA-Net's published row beside it."""
    base = tmp_path_factory.mktemp("bench_configs")
    (base / "tranet.py").write_text(TINY_CONFIG)
    (base / "tiny.py").write_text(TINY_CONFIG.replace("hidden=16", "hidden=24"))
    return base / "tranet.py", base / "tiny.py"


def _mtimes(out: Path):
    return {p.relative_to(out): p.stat().st_mtime_ns for p in out.glob("cells/*/*/result.json")}


def test_shards_then_merge(configs, tiny_cache, tmp_path, capsys):
    from auzoo.bench import bench, plan_cells

    out = tmp_path / "out"
    models = [str(c) for c in configs]
    kw = dict(data=tiny_cache, folds="1,2", out=out, device="cpu", max_epochs=EPOCHS)
    cells = plan_cells(models, (1, 2))
    assert [(c.name, c.fold) for c in cells] == [("tranet", 1), ("tranet", 2), ("tiny", 1), ("tiny", 2)]

    assert bench(models, shard="1/2", **kw) is None
    assert {str(p.parent) for p in _mtimes(out)} == {"cells/tranet/fold1", "cells/tiny/fold1"}
    assert not (out / "results.csv").exists()
    bench(models, shard="2/2", **kw)
    before = _mtimes(out)
    assert len(before) == 4

    frame = bench(models, **kw)  # merge: nothing is trained again
    assert _mtimes(out) == before
    assert "4 finished, 0 to run" in capsys.readouterr().out

    csv = pd.read_csv(out / "results.csv", dtype={"fold": str})
    assert len(csv) == len(frame) == 2 * 3 + 3  # 2 models x (2 folds + mean) + baseline x 3
    for name in ("tranet", "tiny"):
        rows = csv[csv["model"] == name].set_index("fold")
        assert list(rows.index) == ["1", "2", "mean"]
        assert rows.loc["mean", "f1_AU4"] == pytest.approx(rows.loc[["1", "2"], "f1_AU4"].mean())
        assert rows.loc["mean", "frames"] == rows.loc[["1", "2"], "frames"].sum()
        fold1 = json.loads((out / "cells" / name / "fold1" / "result.json").read_text())
        assert rows.loc["1", "f1_mean"] == pytest.approx(fold1["f1_mean"], rel=1e-3)
        assert rows.loc["1", "test_subjects"] == " ".join(fold1["test_subjects"])
    trained = csv[csv["model"] != "always-present"]
    for col in ("bad_frames", "select_on", "device", "data_checksum", "versions", "params",
                "wall_time_s", "preset", "protocol", "folds"):
        assert trained[col].notna().all(), col
    assert trained[trained["fold"] != "mean"]["train_subjects"].notna().all()
    baseline = csv[csv["model"] == "always-present"].set_index("fold")
    assert list(baseline.index) == ["1", "2", "mean"]
    assert baseline["data_checksum"].notna().all()

    report = (out / "results.md").read_text()
    assert "TRA-Net, published (Table 1)" in report and "| 56.9 | 61.5 | 72.6 |" in report
    assert "always present (baseline)" in report and "Paired comparison" in report
    assert (out / "plots" / "tranet_f1.png").stat().st_size > 1000
    comparison = pd.read_csv(out / "comparison.csv")
    assert len(comparison) == 1 and comparison.loc[0, "subjects"] == 18  # folds 1+2 test subjects
    assert comparison.loc[0, "ci_low"] <= comparison.loc[0, "diff"] <= comparison.loc[0, "ci_high"]


def test_interrupted_bench_redoes_only_missing_cells(configs, tiny_cache, tmp_path, capsys):
    from auzoo.bench import bench

    config = tmp_path / "tiny.py"
    config.write_text(configs[1].read_text() + "\ntrain.update(custom_hooks=[dict(type='SlowEpochHook', "
                      "seconds=1.0)])\ncustom_imports = dict(imports=['engine_hooks'])\n")
    out = tmp_path / "out"
    cmd = [PYTHON, "-m", "auzoo.cli", "bench", str(config), "--data", str(tiny_cache), "--folds", "1,2",
           "--out", str(out), "--device", "cpu", "--max-epochs", str(EPOCHS)]
    proc = subprocess.Popen(cmd, env=cli_env(PYTHONPATH=str(HERE)), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    first = out / "cells" / "tiny" / "fold1" / "result.json"
    deadline = time.time() + 240
    while not first.exists():
        assert proc.poll() is None, proc.stdout.read()
        assert time.time() < deadline
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (out / "results.csv").exists()
    finished = first.stat().st_mtime_ns

    frame = bench([str(config)], data=tiny_cache, folds="1,2", out=out, device="cpu",
                  max_epochs=EPOCHS)
    assert "1 finished, 1 to run" in capsys.readouterr().out
    assert first.stat().st_mtime_ns == finished  # not redone
    assert (out / "cells" / "tiny" / "fold2" / "result.json").exists()
    assert list(frame[frame["model"] == "tiny"]["fold"]) == ["1", "2", "mean"]


def test_paired_comparison_bootstrap():
    from auzoo.bench import paired_comparison

    rng = np.random.default_rng(0)
    subjects = [f"SN{i:03d}" for i in range(1, 28)]
    base = rng.uniform(30, 70, len(subjects))
    rows = [dict(model="a", subject=s, f1=f + 5 + rng.normal(0, 1)) for s, f in zip(subjects, base)]
    rows += [dict(model="b", subject=s, f1=f) for s, f in zip(subjects, base)]
    rows += [dict(model="c", subject=s, f1=f + rng.normal(0, 3)) for s, f in zip(subjects, base)]
    table = paired_comparison(pd.DataFrame(rows)).set_index(["model_a", "model_b"])
    ab = table.loc[("a", "b")]
    assert ab["subjects"] == 27
    assert ab["diff"] == pytest.approx(5, abs=0.6)
    assert 0 < ab["ci_low"] < ab["diff"] < ab["ci_high"] < 10  # a real difference: CI above 0
    bc = table.loc[("b", "c")]
    assert bc["ci_low"] < 0 < bc["ci_high"]  # noise: CI contains 0


def test_shard_and_fold_arguments():
    from auzoo.bench import Cell, parse_folds, parse_shard, shard_cells

    assert parse_shard("2/3") == (2, 3)
    for bad in ("0/2", "3/2", "2", "a/b"):
        with pytest.raises(ValueError, match="--shard"):
            parse_shard(bad)
    assert parse_folds("1,3") == (1, 3)
    with pytest.raises(ValueError, match="--folds"):
        parse_folds("1,4")
    cells = [Cell("m", "m", f) for f in (1, 2, 3)] + [Cell("n", "n", f) for f in (1, 2, 3)]
    shards = [shard_cells(cells, (i, 4)) for i in (1, 2, 3, 4)]
    assert Counter(c for s in shards for c in s) == Counter(cells)  # every cell exactly once
    assert shards[0] == [cells[0], cells[4]]
