"""--slurm through submitit, run by its local executor (the same code path:
pickled job function, one process per task, logs in the job folder)."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd
import pytest

from bench_fake_train import fake_train

HERE = Path(__file__).resolve().parent  # the stand-in training's folder
ROOT = HERE.parents[1]


def test_slurm_options():
    from auzoo.bench.slurm import parse_slurm, parse_time

    params = parse_slurm("partition=gpu,gpus=4,time=1-02:30:00,account=lab,mem_gb=64")
    assert params == dict(slurm_partition="gpu", gpus_per_node=4, tasks_per_node=4,
                          timeout_min=26 * 60 + 30, slurm_account="lab", mem_gb=64,
                          name="auzoo-bench")
    assert parse_time("90") == 90 and parse_time("2:00:00") == 120 and parse_time("45:30") == 46
    assert parse_slurm("cluster=local")["timeout_min"] == 24 * 60
    with pytest.raises(ValueError, match="KEY=VALUE"):
        parse_slurm("partition")


def test_without_slurm_the_command_says_so(models, caches, tmp_path, console, monkeypatch):
    from auzoo.bench.main import bench

    monkeypatch.setenv("PATH", str(tmp_path))  # no sbatch here
    with pytest.raises(ValueError, match="no Slurm .*cluster=local"):
        bench([str(models["alpha"])], data=caches["disfa_cache"], out=tmp_path / "o", folds="1",
              console=console, train_fn=fake_train, slurm="partition=gpu")
    assert not (tmp_path / "o" / "slurm" / "jobs.json").exists()


@pytest.fixture
def child_path(monkeypatch):
    """The jobs' processes import the stand-in training from the tests' folder."""
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(
        [str(HERE), str(ROOT), os.environ.get("PYTHONPATH", "")]))
    monkeypatch.setenv("OMP_NUM_THREADS", "1")


def test_slurm_grid_with_the_local_executor(models, caches, tmp_path, console, child_path):
    from auzoo.bench.main import bench

    out = tmp_path / "out"
    kw = dict(data=caches["disfa_cache"], out=out, folds="1,2", console=console,
              train_fn=fake_train, slurm="cluster=local,partition=gpu,time=5")
    frames = bench([str(models["alpha"])], seeds="0,1", wait=True, **kw)
    results = sorted(p.relative_to(out).as_posix() for p in out.glob("cells/*/*/*/result.json"))
    assert len(results) == 4
    record = json.loads((out / "slurm" / "jobs.json").read_text())
    assert len(record) == 4 and all(e["cluster"] == "local" for e in record.values())
    logs = [p for p in (out / "slurm").rglob("*_log.out")]
    assert len(logs) == 4  # one log per cell and seed, where the user finds them
    csv = pd.read_csv(out / "results.csv", dtype={"fold": str, "seed": str})
    assert set(zip(csv["fold"], csv["seed"])) >= {("1", "0"), ("2", "1"), ("mean", "mean")}
    assert frames is not None

    # a rerun: finished cells are not resubmitted; a new seed is
    bench([str(models["alpha"])], seeds="0,1,2", wait=True, **kw)
    record = json.loads((out / "slurm" / "jobs.json").read_text())
    assert len(record) == 6
    assert len(list(out.glob("cells/*/*/*/result.json"))) == 6


def test_a_running_job_is_not_submitted_twice(models, caches, tmp_path, console, child_path):
    """Without --wait the command returns once the jobs are queued; a rerun
    while they run submits nothing, and one after they land merges the tables."""
    import time

    from auzoo.bench.main import bench
    from auzoo.bench.slurm import JobRecord

    out = tmp_path / "out"
    kw = dict(data=caches["disfa_cache"], out=out, folds="1", console=console,
              train_fn=fake_train, slurm="cluster=local")
    assert bench([str(models["beta"])], **kw) is None  # queued, no table yet
    record = JobRecord(out / "slurm")
    (key, entry), = record.jobs.items()
    again = bench([str(models["beta"])], **kw)
    if again is None:  # the job still ran: it was not submitted again
        assert JobRecord(out / "slurm").jobs[key]["job_id"] == entry["job_id"]
    deadline = time.time() + 120
    while record.active(key):
        assert time.time() < deadline
        time.sleep(0.5)
    frames = bench([str(models["beta"])], **kw)  # merge
    assert frames is not None and (out / "results.md").is_file()
    assert JobRecord(out / "slurm").jobs[key]["job_id"] == entry["job_id"]


def test_a_ddp_cell_runs_one_process_per_task(models, caches, tmp_path, console, child_path):
    from auzoo.bench.main import bench
    from bench_fake_train import ddp_fake_train

    out = tmp_path / "out"
    bench([str(models["alpha"])], data=caches["disfa_cache"], out=out, folds="1", console=console,
          train_fn=ddp_fake_train, slurm="cluster=local,tasks_per_node=2", wait=True)
    work = out / "cells/alpha/fold1/seed0"
    envs = [json.loads((work / f"env_rank{r}.json").read_text()) for r in (0, 1)]
    assert [e["RANK"] for e in envs] == ["0", "1"] and {e["WORLD_SIZE"] for e in envs} == {"2"}
    assert envs[0]["MASTER_ADDR"] and envs[0]["MASTER_PORT"] == envs[1]["MASTER_PORT"]
    assert (work / "result.json").is_file() and (out / "results.csv").is_file()


def test_a_failed_job_is_named_and_submitted_again(models, caches, tmp_path, console, child_path,
                                                   monkeypatch):
    from auzoo.bench.main import bench
    from auzoo.bench.run import CellsFailed
    from bench_fake_train import FAIL_ENV

    out = tmp_path / "out"
    kw = dict(data=caches["disfa_cache"], out=out, folds="1", console=console,
              train_fn=fake_train, slurm="cluster=local", wait=True)
    monkeypatch.setenv(FAIL_ENV, "alpha:1:0")  # the job's process inherits it
    with pytest.raises(CellsFailed, match=r"alpha fold 1 seed 0: job \d+ ended without a result.*log: "):
        bench([str(models["alpha"])], **kw)
    first = json.loads((out / "slurm" / "jobs.json").read_text())
    assert not (out / "cells/alpha/fold1/seed0/run.json").exists()  # nothing blocks the retry
    monkeypatch.delenv(FAIL_ENV)
    assert bench([str(models["alpha"])], **dict(kw, cfg_options={"img_size": 32})) is not None
    again = json.loads((out / "slurm" / "jobs.json").read_text())
    assert [e["job_id"] for e in again.values()] != [e["job_id"] for e in first.values()]
