"""The run on the console: :class:`ProgressHook` draws a rich progress bar
over all iterations with the epoch and an ETA, and prints one line per scored
epoch; written to a file or a pipe it prints heartbeat lines instead."""
from __future__ import annotations

import math
import time
from typing import Optional

from mmengine.dist import is_main_process
from mmengine.hooks import Hook

from auzoo.engine.hooks import MONITOR, selection_rule
from auzoo.registry import HOOKS


@HOOKS.register_module()
class ProgressHook(Hook):
    """A rich progress bar over all iterations of the run, with the epoch and
    an ETA, and one line per scored epoch. Only rank 0 draws.

    Written to a file or a pipe, where no bar is drawn, it says when training
    starts and prints a heartbeat line (epoch, iteration, loss, time) every
    :attr:`heartbeat_s` seconds between the epoch lines, so a log never sits
    silent through a long first epoch."""

    priority = "BELOW_NORMAL"
    heartbeat_s = 30.0

    def __init__(self, label: str, progress=None, console=None, monitor: str = MONITOR):
        self.label = label
        self.monitor = monitor
        self.progress = progress
        self.console = console
        self._own = progress is None
        self.task = None
        self.best: Optional[float] = None
        self.best_epoch: Optional[int] = None
        self._loss = math.nan
        self._t0 = 0.0
        self._log = False        # a file or a pipe: heartbeat lines instead of a bar
        self._last_line = 0.0

    def _loss_text(self) -> str:
        # the loss reaches the host only every logging interval (no sync a step)
        return "" if math.isnan(self._loss) else f"loss {self._loss:.3f}"

    def _describe(self, runner) -> str:
        loop = runner.train_loop
        return f"{self.label} · epoch {min(loop.epoch + 1, loop.max_epochs)}/{loop.max_epochs}"

    def before_train(self, runner) -> None:
        if not is_main_process():
            return
        if self.progress is None:
            from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                                       TimeElapsedColumn, TimeRemainingColumn)
            from auzoo.utils.console import make_console
            self.progress = Progress(TextColumn("{task.description}"), BarColumn(),
                                     MofNCompleteColumn(), TextColumn("{task.fields[status]}"),
                                     TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
                                     console=self.console or make_console(), transient=False)
            self.progress.start()
        self.console = self.progress.console
        loop = runner.train_loop
        self.best = runner.message_hub.get_info("best_score")
        self.task = self.progress.add_task(self._describe(runner), total=loop.max_iters,
                                           completed=loop.iter, status="")
        if loop.iter:
            self._print(f"{self.label}: resumed after epoch {loop.epoch} (iteration {loop.iter})")
        self._t0 = self._last_line = time.perf_counter()
        self._log = not self.console.is_terminal
        if self._log:
            per_epoch = loop.max_iters // max(1, loop.max_epochs)
            self._print(f"{self.label}: training, at most {loop.max_epochs} epochs of "
                        f"{per_epoch} iterations")

    def _print(self, text: str) -> None:
        self.console.print(text, soft_wrap=True, highlight=False, markup=False)
        self._last_line = time.perf_counter()

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        if self.task is None:
            return
        loss = runner.message_hub.get_scalar("train/loss") if outputs else None
        if loss is not None:
            self._loss = float(loss.current())
        self.progress.update(self.task, advance=1, description=self._describe(runner),
                             status=self._loss_text())
        now = time.perf_counter()
        if self._log and now - self._last_line >= self.heartbeat_s:
            loop = runner.train_loop
            per_epoch = loop.max_iters // max(1, loop.max_epochs)
            loss = self._loss_text()
            self._print(f"{self._describe(runner)}: iteration {batch_idx + 1}/{per_epoch}"
                        f"{', ' + loss if loss else ''}, {now - self._t0:.0f} s")

    def after_val_epoch(self, runner, metrics=None) -> None:
        if self.task is None or not metrics or self.monitor not in metrics:
            return
        score = float(metrics[self.monitor])
        less = selection_rule(self.monitor) == "less"
        if self.best is None or (score < self.best if less else score > self.best):
            self.best, self.best_epoch = score, runner.epoch
        digits = 1 if self.monitor.startswith(("f1", "acc")) else 3
        best = f"best {self.best:.{digits}f}" + (f" @ {self.best_epoch}" if self.best_epoch else "")
        shown = [f"F1 {metrics['f1_mean']:.1f}  acc {metrics.get('acc_mean', math.nan):.1f}"
                 if "f1_mean" in metrics else "",
                 f"ICC {metrics['icc_mean']:.3f}  PCC {metrics.get('pcc_mean', math.nan):.3f}  "
                 f"MAE {metrics.get('mae_mean', math.nan):.3f}" if "icc_mean" in metrics else ""]
        self._print(f"{self.label} epoch {runner.epoch}: {self._loss_text()}  "
                    + "  ".join(t for t in shown if t)
                    + (f"  ({best})" if self.monitor == MONITOR else f"  ({self.monitor} {best})"))

    def after_train(self, runner) -> None:
        if self.task is None:
            return
        loop = runner.train_loop
        if loop.stop_training:
            self._print(f"{self.label}: stopped early after epoch {loop.epoch} "
                        f"(no better {self.monitor} for the patience window)")
        self.progress.update(self.task, total=loop.iter, completed=loop.iter)
        self.close()

    def close(self) -> None:
        """Stop drawing (at the end, or when training is interrupted)."""
        if self.task is None:
            return
        if self._own:
            self.progress.stop()
        else:
            self.progress.remove_task(self.task)
        self.task = None
