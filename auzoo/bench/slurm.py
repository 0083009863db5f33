"""``auzoo bench --slurm KEY=VALUE,...``: the grid as Slurm array jobs, through submitit.

One array task per (cell, seed) that is not finished; each runs the same
training as a local run, in the cell's work dir on the shared OUT. A small job
record (``OUT/slurm/jobs.json``) makes the command resumable: a rerun skips
finished cells and does not resubmit those whose job is still pending or
running. Logs: ``OUT/slurm/JOBID/`` (submitit's stdout / stderr per task).
The tables are written by a merge: rerunning the command once jobs have
finished, or ``--wait``, which rewrites them as results land.
"""
from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence

from auzoo.utils.io import atomic_write_text

JOBS_FILE = "jobs.json"
# Slurm states of a job that will still run the cell.
ACTIVE = {"PENDING", "RUNNING", "REQUEUED", "CONFIGURING", "COMPLETING", "RESIZING",
          "SUSPENDED", "REQUEUE_HOLD", "REQUEUE_FED", "SIGNALING", "STAGE_OUT"}
# submitit's own parameter names; any other key is a Slurm option (partition, account, qos …).
GENERIC = {"timeout_min", "gpus_per_node", "tasks_per_node", "nodes", "cpus_per_task",
           "mem_gb", "name", "stderr_to_stdout"}
ALIASES = {"gpus": "gpus_per_node", "tasks": "tasks_per_node", "cpus": "cpus_per_task",
           "mem": "mem_gb", "job_name": "name"}
DEFAULT_TIMEOUT_MIN = 24 * 60  # submitit's local default (2 min) would stop any training


def _value(text: str) -> Any:
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def parse_time(text) -> int:
    """Slurm's time formats (MINUTES, H:MM:SS, D-HH:MM:SS, MM:SS) -> minutes."""
    text = str(text)
    days, _, clock = text.rpartition("-")
    parts = [int(p) for p in clock.split(":")]
    if len(parts) == 1:
        minutes = parts[0]
    elif len(parts) == 2:
        minutes = parts[0] + parts[1] / 60 if not days else parts[0] * 60 + parts[1]
    else:
        minutes = parts[0] * 60 + parts[1] + parts[2] / 60
    return int(round(minutes + (int(days) * 24 * 60 if days else 0)))


def parse_slurm(text: Optional[str]) -> Dict[str, Any]:
    """``'partition=gpu,gpus=4,time=12:00:00,account=lab'`` -> submitit parameters
    (plus ``cluster``: ``slurm`` by default, ``local`` to run the jobs here)."""
    params: Dict[str, Any] = {}
    for item in filter(None, (part.strip() for part in str(text or "").split(","))):
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"--slurm {text!r}: expected KEY=VALUE,…, e.g. partition=gpu,gpus=4")
        key = ALIASES.get(key.strip(), key.strip())
        if key == "time":
            params["timeout_min"] = parse_time(value)
        elif key == "cluster" or key in GENERIC or key.startswith("slurm_"):
            params[key] = _value(value.strip())
        else:
            params[f"slurm_{key}"] = _value(value.strip())
    params.setdefault("timeout_min", DEFAULT_TIMEOUT_MIN)
    params.setdefault("name", "auzoo-bench")
    if int(params.get("gpus_per_node", 0)) > 1:  # one process per GPU: DDP under srun
        params.setdefault("tasks_per_node", int(params["gpus_per_node"]))
    return params


def run_cell_job(spec, train_fn: Callable) -> str:
    """What one array task runs. A DDP cell has one task per GPU: submitit
    starts them under srun, and they find each other through the environment
    torch.distributed reads (rank, world size, master address)."""
    import submitit

    from auzoo.bench.run import unblock_failed_cell

    env = submitit.JobEnvironment()
    if env.num_tasks > 1:
        submitit.helpers.TorchDistributedEnvironment().export(set_cuda_visible_devices=False)
    try:
        train_fn(spec)
    except Exception:
        if env.global_rank == 0:  # as a local run does: the next try is not blocked
            unblock_failed_cell(Path(spec.work_dir))
        raise
    return str(spec.work_dir)


@dataclass
class SlurmOutcome:
    submitted: int = 0
    waiting: List[str] = field(default_factory=list)    # cells whose job is still queued / running
    failures: List[str] = field(default_factory=list)


class JobRecord:
    """``OUT/slurm/jobs.json``: cell key -> the job that runs it."""

    def __init__(self, folder: Path):
        self.path = Path(folder) / JOBS_FILE
        self.jobs: Dict[str, Dict[str, Any]] = {}
        if self.path.is_file():
            try:
                self.jobs = json.loads(self.path.read_text())
            except ValueError as exc:
                raise ValueError(f"{self.path}: not a job record ({exc}); "
                                 "remove it to start over") from exc

    def save(self) -> None:
        atomic_write_text(self.path, json.dumps(self.jobs, indent=2, sort_keys=True))

    def active(self, key: str) -> bool:
        """Is the job recorded for this cell still pending or running?"""
        entry = self.jobs.get(key)
        if not entry:
            return False
        if entry["cluster"] == "local":  # a local job's id is its controller's pid
            try:
                os.kill(int(entry["job_id"]), 0)
            except (OSError, ValueError):
                return False
            return not Path(entry["stdout"]).with_name(f"{entry['job_id']}_0_result.pkl").exists()
        import submitit
        return submitit.SlurmJob(folder=entry["folder"], job_id=entry["job_id"]).state in ACTIVE


def _executor(folder: Path, params: Dict[str, Any]):
    import submitit

    params = dict(params)
    cluster = params.pop("cluster", "slurm")  # never submitit's quiet fallback to local processes
    if cluster == "slurm" and shutil.which("sbatch") is None:
        raise ValueError("--slurm: this machine has no Slurm (no sbatch on PATH); run the command "
                         "on the cluster's login node, or add cluster=local to run the jobs here")
    executor = submitit.AutoExecutor(folder=str(folder / "%j"), cluster=cluster)
    executor.update_parameters(**params)
    return executor, executor.cluster


def submit(g, todo: Sequence, slurm: str, *, train_fn: Callable, console) -> tuple:
    """Submit every cell of ``todo`` that no live job runs; returns the jobs of
    this submission (cell key -> job) and the outcome so far."""
    folder = Path(g.out) / "slurm"
    record = JobRecord(folder)
    outcome = SlurmOutcome()
    outcome.waiting = [c.key for c in todo if record.active(c.key)]
    new = [c for c in todo if c.key not in set(outcome.waiting)]
    jobs: Dict[str, Any] = {}
    if new:
        executor, cluster = _executor(folder, parse_slurm(slurm))
        with executor.batch():
            pending = [(c, executor.submit(run_cell_job, g.spec(c), train_fn)) for c in new]
        for cell, job in pending:
            jobs[cell.key] = job
            record.jobs[cell.key] = dict(job_id=str(job.job_id), cluster=cluster,
                                         folder=str(job.paths.folder), stdout=str(job.paths.stdout),
                                         stderr=str(job.paths.stderr), cell=str(cell),
                                         submitted=time.strftime("%Y-%m-%d %H:%M:%S"))
        record.save()
        outcome.submitted = len(new)
        console.print(f"submitted {len(new)} job(s) to {cluster}; logs under {folder}/<job id>/")
    if outcome.waiting:
        console.print(f"{len(outcome.waiting)} cell(s) already have a pending or running job "
                      f"(record: {record.path}); not submitted again")
    outcome.waiting += list(jobs)
    return jobs, record, outcome


def wait_for(g, todo: Sequence, jobs: Dict[str, Any], record: JobRecord, outcome: SlurmOutcome, *,
             on_land: Callable[[], None], console, poll_s: float = 10.0) -> SlurmOutcome:
    """Until no job of ``todo`` is left: each finished cell lands in the tables
    (``on_land``), each job that ended without a result is a failure with its log."""
    cells = {c.key: c for c in todo}
    while outcome.waiting:
        landed = False
        for key in list(outcome.waiting):
            job = jobs.get(key)
            done = job.done() if job is not None else not record.active(key)
            if not done:
                continue
            outcome.waiting.remove(key)
            if g.finished(cells[key]):
                landed = True
                console.print(f"landed: {cells[key]}")
            else:
                entry = record.jobs.get(key, {})
                error = ""
                if job is not None and job.exception() is not None:
                    error = str(job.exception()).strip().splitlines()[-1]
                outcome.failures.append(f"{cells[key]}: job {entry.get('job_id')} ended without a "
                                        f"result {error}; log: {entry.get('stderr')}")
        if landed:
            on_land()
        if outcome.waiting:
            time.sleep(poll_s)
    return outcome
