"""Where a training run's time goes, measured from inside ``auzoo train``.

A benchmark names this module in its config (``custom_imports``) and adds two
:class:`RunClock` hooks, one that runs before every other hook and one that
runs after them (``priority``)::

    custom_imports = dict(imports=['run_clock'], allow_failed_imports=False)
    custom_hooks = [dict(type='RunClock', out='clock.jsonl', role='first', priority='HIGHEST'),
                    dict(type='RunClock', out='clock.jsonl', role='last', priority='LOWEST')]

Among hooks of one priority mmengine runs the first registered first, and a
config's ``custom_hooks`` are registered after auzoo's own, so the 'LOWEST'
clock runs after auzoo's checkpoint hook, itself 'LOWEST'. (The 'HIGHEST'
clock runs after any other 'HIGHEST' hook; auzoo and mmengine's defaults
have none.)

Each writes one JSON line per event (``{"role", "event", "epoch", "iter", "t"}``,
``t`` from ``time.perf_counter``). The timestamps between the two clocks of one
event bracket what the other hooks do there (saving checkpoints after scoring,
printing), and the device is synchronised at epoch boundaries so an epoch's
training time is complete. :func:`epoch_split` and :func:`iteration_times`
read the file back. Nothing here changes the run.
"""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Dict, List

from mmengine.hooks import Hook

from auzoo.registry import HOOKS

EVENTS = ("before_train_epoch", "after_train_iter", "after_train_epoch", "before_val_epoch",
          "after_val_epoch", "after_train")


def _synchronize() -> None:
    import torch

    if torch.cuda.is_available() and torch.cuda.is_initialized():
        torch.cuda.synchronize()


@HOOKS.register_module(force=True)
class RunClock(Hook):
    """Timestamps of a run's events, appended to ``out`` as JSON lines."""

    def __init__(self, out: str, role: str = "first", priority: str = "NORMAL"):
        self.out = Path(out)
        self.role = role
        self.priority = priority

    def _mark(self, runner, event: str, sync: bool = False) -> None:
        if sync:
            _synchronize()
        # mmengine counts an epoch done after its after_train_epoch hooks and
        # before scoring it: number every event by the epoch it belongs to (from 1)
        epoch = int(runner.epoch) + (0 if "val" in event or event == "after_train" else 1)
        record = dict(role=self.role, event=event, epoch=epoch, iter=int(runner.iter),
                      t=time.perf_counter())
        with self.out.open("a") as f:
            f.write(json.dumps(record) + "\n")

    def before_train_epoch(self, runner) -> None:
        self._mark(runner, "before_train_epoch", sync=self.role == "first")

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        if self.role == "last":
            last = batch_idx + 1 == len(runner.train_dataloader)
            self._mark(runner, "after_train_iter", sync=last)

    def after_train_epoch(self, runner) -> None:
        self._mark(runner, "after_train_epoch")

    def before_val_epoch(self, runner) -> None:
        self._mark(runner, "before_val_epoch")

    def after_val_epoch(self, runner, metrics=None) -> None:
        self._mark(runner, "after_val_epoch", sync=self.role == "first")

    def after_train(self, runner) -> None:
        self._mark(runner, "after_train")


def read_clock(path) -> List[dict]:
    return [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]


def iteration_times(records: List[dict]) -> Dict[int, List[float]]:
    """Seconds of each training iteration, per epoch (1-based): from one
    iteration's end to the next, the first from the epoch's start; data
    loading and every hook included, as the loop runs them."""
    times: Dict[int, List[float]] = {}
    start = None
    for r in records:
        if r["role"] == "first" and r["event"] == "before_train_epoch":
            start = r["t"]
        elif r["role"] == "last" and r["event"] == "after_train_iter" and start is not None:
            times.setdefault(r["epoch"], []).append(r["t"] - start)
            start = r["t"]
    return times


def epoch_split(records: List[dict]) -> List[dict]:
    """Per epoch: seconds training, scoring, and in the hooks after each
    (checkpoint saving among them), from the two clocks' timestamps."""
    at: Dict[tuple, float] = {}
    for r in records:
        key = (r["role"], r["event"], r["epoch"])
        if r["event"] != "after_train_iter":
            at.setdefault(key, r["t"])
        else:
            at[key] = r["t"]  # the last iteration of the epoch
    rows = []
    epochs = sorted({r["epoch"] for r in records if r["event"] == "after_train_epoch"})
    for e in epochs:
        begin = at.get(("first", "before_train_epoch", e))
        trained = at.get(("last", "after_train_iter", e))
        row = dict(epoch=e)
        if begin is not None and trained is not None:
            row["train_s"] = trained - begin
        if ("first", "after_train_epoch", e) in at and ("last", "after_train_epoch", e) in at:
            row["after_train_hooks_s"] = at[("last", "after_train_epoch", e)] - \
                at[("first", "after_train_epoch", e)]
        val0, val1 = at.get(("first", "before_val_epoch", e)), at.get(("first", "after_val_epoch", e))
        if val0 is not None and val1 is not None:
            row["eval_s"] = val1 - val0
            done = at.get(("last", "after_val_epoch", e))
            if done is not None:
                row["after_val_hooks_s"] = done - val1  # ScoredCheckpointHook saves here
        rows.append(row)
    return rows


__all__ = ["RunClock", "epoch_split", "iteration_times", "read_clock"]
