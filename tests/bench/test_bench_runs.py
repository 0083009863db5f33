"""Running the grid with a stand-in training: reruns, several datasets,
--test-data, failures, the tables of a results folder, file modes."""
from __future__ import annotations

import os
from pathlib import Path
import stat

import pandas as pd
import pytest

from bench_fake_train import FAIL_ENV, fake_f1, fake_train

HERE = Path(__file__).resolve().parent  # the stand-in training's folder
ROOT = HERE.parents[1]


def _bench(models, **kw):
    from auzoo.bench.main import bench

    kw.setdefault("train_fn", fake_train)
    return bench([str(m) for m in models], **kw)


def _mtimes(out):
    return {p.relative_to(out).as_posix(): p.stat().st_mtime_ns
            for p in out.glob("cells/*/*/*/result.json")}


def test_rerun_adds_only_missing_cells_and_seeds(models, caches, tmp_path, console):
    out = tmp_path / "out"
    _bench([models["alpha"]], data=caches["disfa_cache"], out=out, folds="1,2", seeds="0",
           console=console)
    before = _mtimes(out)
    assert sorted(before) == ["cells/alpha/fold1/seed0/result.json", "cells/alpha/fold2/seed0/result.json"]
    calls = []

    def counting(spec, progress=None):
        calls.append((spec.fold, spec.seed))
        return fake_train(spec, progress)

    frames = _bench([models["alpha"]], data=caches["disfa_cache"], out=out, folds="1,2",
                    seeds="0,1", console=console, train_fn=counting)
    assert sorted(calls) == [(1, 1), (2, 1)]  # only the new seed
    after = _mtimes(out)
    assert {k: after[k] for k in before} == before
    frame = frames[out]
    rows = frame[frame["model"] == "alpha"]
    assert list(zip(rows["fold"], rows["seed"])) == [
        ("1", "0"), ("1", "1"), ("2", "0"), ("2", "1"), ("mean", "0"), ("mean", "1"), ("mean", "mean")]


def test_tables_cover_every_finished_cell_of_the_folder(models, caches, tmp_path, console):
    out = tmp_path / "out"
    _bench([models["alpha"]], data=caches["disfa_cache"], out=out, folds="1", console=console)
    frames = _bench([models["beta"]], data=caches["disfa_cache"], out=out, folds="1", console=console)
    csv = pd.read_csv(out / "results.csv", dtype={"fold": str, "seed": str})
    assert {"alpha", "beta", "always-present"} <= set(csv["model"])
    assert set(frames[out]["model"]) == set(csv["model"])
    report = (out / "results.md").read_text()
    assert "**alpha**" in report and "**beta**" in report
    assert (out / "comparison.csv").exists()


def test_result_files_have_a_normal_mode(models, caches, tmp_path, console):
    out = tmp_path / "out"
    umask = os.umask(0o022)
    try:
        _bench([models["alpha"], models["beta"]], data=caches["disfa_cache"], out=out, folds="1",
               console=console)
    finally:
        os.umask(umask)
    for name in ("results.csv", "results.md", "comparison.csv", "plots/all_models_f1.png"):
        assert stat.S_IMODE((out / name).stat().st_mode) == 0o644, name


def test_several_datasets_one_table_each_and_cross_scores(models, caches, tmp_path, console):
    out = tmp_path / "out"
    frames = _bench([models["alpha"]], data=[caches["disfa_cache"], caches["bp4d_cache"]],
                    test_data=[caches["bp4d_cache"]], out=out, folds="1,2", console=console)
    disfa, bp4d = out / "disfa_cache", out / "bp4d_cache"
    assert set(frames) == {disfa, bp4d}
    assert "f1_AU26" in frames[disfa] and "f1_AU26" not in frames[bp4d]
    assert "f1_AU23" in frames[bp4d]
    cross = pd.read_csv(disfa / "cross_results.csv", dtype={"fold": str, "seed": str})
    mean = cross[(cross["model"] == "alpha") & (cross["fold"] == "mean")].iloc[0]
    assert mean["scored_on"] == "bp4d" and mean["shared_aus"] == "1 2 4 6 12"
    assert mean["f1_AU12"] == pytest.approx(fake_f1("alpha", 0, 0, 12))
    assert pd.isna(mean.get("f1_AU9"))
    assert mean["left_out_model_only"] == "9 25 26"
    report = (disfa / "results.md").read_text()
    assert "## Cross-dataset scores" in report and "Scored on bp4d" in report
    assert "model only 9 25 26" in report


def test_a_failed_cell_does_not_block_the_next_try(models, caches, tmp_path, console, monkeypatch):
    from auzoo.bench.run import CellsFailed

    out = tmp_path / "out"
    monkeypatch.setenv(FAIL_ENV, "alpha:2:0")
    with pytest.raises(CellsFailed) as failed:
        _bench([models["alpha"]], data=caches["disfa_cache"], out=out, folds="1,2,3",
               console=console)
    message = str(failed.value)
    assert "alpha fold 2 seed 0" in message and "same --out" in message
    assert "--work-dir" not in message
    # the others ran, and the tables cover them
    assert sorted(_mtimes(out)) == ["cells/alpha/fold1/seed0/result.json",
                                    "cells/alpha/fold3/seed0/result.json"]
    assert set(pd.read_csv(out / "results.csv", dtype={"fold": str})["fold"]) >= {"1", "3"}
    monkeypatch.delenv(FAIL_ENV)
    # the next try may even change an option: nothing of the failed one is in the way
    frames = _bench([models["alpha"]], data=caches["disfa_cache"], out=out, folds="1,2,3",
                    console=console, cfg_options={"img_size": 32})
    assert (out / "cells/alpha/fold2/seed0/result.json").is_file()
    assert "2" in set(frames[out]["fold"])


def test_another_runs_work_dir_names_the_out_option(models, caches, tmp_path, console):
    from auzoo.bench.run import CellsFailed

    out = tmp_path / "out"
    _bench([models["alpha"]], data=caches["disfa_cache"], out=out, folds="1", console=console)
    (out / "cells/alpha/fold1/seed0/result.json").unlink()  # unfinished, other settings
    with pytest.raises(CellsFailed, match="another --out"):
        _bench([models["alpha"]], data=caches["disfa_cache"], out=out, folds="1",
               console=console, max_epochs=9)


def test_cli_runs_the_grid(models, caches, tmp_path, monkeypatch, capsys):
    from auzoo import cli
    from auzoo.bench import run

    monkeypatch.setattr(run, "default_train", lambda: fake_train)
    monkeypatch.setattr("auzoo.bench.main.default_train", lambda: fake_train)
    out = tmp_path / "out"
    code = cli.main(["bench", str(models["alpha"]), str(models["tranet"]), "--data",
                     str(caches["disfa_cache"]), "--folds", "1,3", "--seeds", "0,1", "--out", str(out)])
    assert code == 0
    assert len(_mtimes(out)) == 2 * 2 * 2
    printed = " ".join(capsys.readouterr().out.split())
    assert "0 finished, 8 to run" in printed and "published" in printed
    assert cli.main(["bench", "--data", str(caches["disfa_cache"])]) == 2  # no model, no --all


def test_under_torchrun_every_rank_runs_each_cell_and_rank0_writes(models, caches, tmp_path):
    import subprocess
    import sys

    out = tmp_path / "out"
    script = tmp_path / "bench_ddp.py"
    script.write_text(
        "import os, pathlib\n"
        "from bench_fake_train import ddp_fake_train\n"
        "from auzoo.engine.dist import distributed_session\n"
        "from auzoo.bench.main import bench\n"
        "with distributed_session():\n"
        f"    r = bench([{str(models['alpha'])!r}], data={str(caches['disfa_cache'])!r}, "
        f"out={str(out)!r}, folds='1,2', device='cpu', train_fn=ddp_fake_train)\n"
        f"pathlib.Path({str(tmp_path)!r}, 'rank' + os.environ['RANK']).write_text(str(r is not None))\n")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(HERE), str(ROOT)]), OMP_NUM_THREADS="1",
               AUZOO_NO_PLUGINS="1")
    proc = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone",
                           "--nproc_per_node", "2", str(script)],
                          env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    # rank 0 returns the tables, rank 1 nothing
    assert [(tmp_path / f"rank{r}").read_text() for r in (0, 1)] == ["True", "False"]
    for fold in (1, 2):
        work = out / f"cells/alpha/fold{fold}/seed0"
        assert {p.name for p in work.glob("env_rank*.json")} == {"env_rank0.json", "env_rank1.json"}
    assert (out / "results.csv").is_file()


def test_a_synthetic_cache_gets_no_difference_rows(models, tmp_path, console):
    data = tmp_path / "synth_disfa"
    data.mkdir()
    out = tmp_path / "out"
    _bench([models["tranet"]], data=data, out=out, folds="1", console=console)
    report = (out / "results.md").read_text()
    assert "TRA-Net, published" in report and "Synthetic data" in report
    assert "| difference |" not in report
