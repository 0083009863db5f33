"""mmengine hooks that make a training run the paper's protocol and resumable.

* :class:`EpochSeedHook` seeds every epoch from (seed, epoch, rank) and tells
  the batch sampler the epoch, so an epoch draws the same batches and the same
  augmentation whether the run was interrupted before it or not.
* :class:`ScoredCheckpointHook` writes the resume checkpoint after the epoch
  has been scored (mmengine's ``CheckpointHook`` writes it before validation,
  so a run killed during validation would resume without that epoch's score),
  and keeps the best checkpoint by mean F1.
* :class:`ResumableEarlyStopping` is mmengine's ``EarlyStoppingHook`` with its
  counters stored in the checkpoint: "10 epochs without improvement" counts
  across an interruption.

:class:`~auzoo.engine.progress.ProgressHook` (the run on the console) is in its own module.
"""
from __future__ import annotations

import random
import time
from pathlib import Path
from typing import Optional

import numpy as np
import torch
from mmengine.dist import get_rank, is_main_process
from mmengine.hooks import CheckpointHook, EarlyStoppingHook, Hook

from auzoo.registry import HOOKS

MONITOR = "f1_mean"


def selection_rule(monitor: str) -> str:
    """'less' for an error (MAE), 'greater' for a score (F1, ICC, PCC)."""
    return "less" if monitor.startswith("mae") else "greater"


def epoch_seed(seed: int, epoch: int, rank: int = 0) -> int:
    """A 32-bit seed for one epoch on one rank, spread by a hash so that
    neighbouring (seed, epoch, rank) triples share nothing."""
    ss = np.random.SeedSequence([int(seed) & 0xFFFFFFFF, int(epoch), int(rank)])
    return int(ss.generate_state(1)[0])


@HOOKS.register_module()
class BindLossHook(Hook):
    """Hand the loss its model and the training labels (NaN where not coded)
    once, before training: losses that weigh AUs by their training rates
    (``bind(model, train_labels)``) get them from the data actually trained on,
    and losses that weigh intensity levels (``bind_intensity(intensities)``)
    the 0-5 training intensities."""

    priority = "VERY_HIGH"

    def before_train(self, runner) -> None:
        from mmengine.model import is_model_wrapper

        module = runner.model.module if is_model_wrapper(runner.model) else runner.model
        dataset = runner.train_dataloader.dataset
        bind = getattr(module.loss, "bind", None)
        if bind is not None:
            labels = np.where(dataset.mask, dataset.labels, np.nan).astype(np.float32)
            bind(module.model, labels)
        bind_intensity = getattr(module.loss, "bind_intensity", None)
        if bind_intensity is not None and getattr(dataset, "intensity", None) is not None:
            bind_intensity(np.where(dataset.intensity_mask, dataset.intensity, np.nan)
                           .astype(np.float32))


@HOOKS.register_module()
class EpochSeedHook(Hook):
    """Reseed python, numpy and torch at the start of every epoch, and call
    ``set_epoch`` on the train loader's batch sampler (or sampler)."""

    priority = "VERY_HIGH"

    def __init__(self, seed: int):
        self.seed = int(seed)

    def before_train_epoch(self, runner) -> None:
        s = epoch_seed(self.seed, runner.epoch, get_rank())
        random.seed(s)
        np.random.seed(s)
        torch.manual_seed(s)
        loader = runner.train_loop.dataloader
        for sampler in (getattr(loader, "batch_sampler", None), getattr(loader, "sampler", None)):
            if hasattr(sampler, "set_epoch"):
                sampler.set_epoch(runner.epoch)
                break


@HOOKS.register_module()
class ScoredCheckpointHook(CheckpointHook):
    """Best checkpoint by ``monitor`` (mean F1; an intensity run's mean ICC),
    and the resume checkpoint (only the latest is kept) written after the
    epoch's validation.

    Runs at priority LOWEST and must be registered after
    :class:`ResumableEarlyStopping` so that the saved early-stopping counters
    include this epoch.
    """

    priority = "LOWEST"

    def __init__(self, monitor: str = MONITOR, predictions_file: Optional[str] = None, **kwargs):
        kwargs.setdefault("max_keep_ckpts", 1)
        super().__init__(interval=1, by_epoch=True, save_last=False, save_best=monitor,
                         rule=selection_rule(monitor), **kwargs)
        self.predictions_file = predictions_file

    def after_train_epoch(self, runner) -> None:
        """Nothing: the epoch is saved once it has been scored."""

    def after_val_epoch(self, runner, metrics) -> None:
        # The base class re-saves the epoch checkpoint when the best improves;
        # this hook saves it below in every case, once.
        self.last_ckpt = None
        before = runner.message_hub.get_info("best_ckpt")
        super().after_val_epoch(runner, metrics)
        if self.predictions_file and is_main_process() and \
                runner.message_hub.get_info("best_ckpt") != before:
            self._save_predictions(runner)
        step = runner.epoch  # already counts the epoch just trained
        self._save_checkpoint_with_step(runner, step, meta=dict(epoch=step, iter=runner.iter))

    def _save_predictions(self, runner) -> None:
        """The best epoch's validation predictions (every frame), so a run that
        selects on the test fold need not score the test fold once more."""
        from auzoo.utils.io import atomic_write

        predictions = {}
        for metric in runner.val_evaluator.metrics:   # occurrence and intensity, by frame index
            predictions.update(getattr(metric, "predictions", None) or {})
        if not predictions:
            return
        def write(tmp):
            with open(tmp, "wb") as f:  # a file object: np.savez would append '.npz' to a name
                np.savez(f, epoch=runner.epoch, **predictions)

        atomic_write(Path(runner.work_dir) / self.predictions_file, write)


@HOOKS.register_module()
class ResumableEarlyStopping(EarlyStoppingHook):
    """Stop after ``patience`` validations without a strictly better ``monitor``
    (mean F1; mean ICC for intensity; a tie is not an improvement); the
    counters survive a resume.

    ``begin``: the epoch from which stopping may fire. Before it the best
    score is still tracked (and the best epoch can be chosen), but epochs
    without improvement are not counted: the paper evaluates "when the model
    was close to convergence", and at 6,400 frames an epoch a DISFA fold's
    ~87k training frames take 14 epochs to see once.
    """

    def __init__(self, patience: int, monitor: str = MONITOR, min_delta: float = 0.0,
                 begin: int = 0):
        # mmengine counts a score >= best + min_delta as an improvement; a tiny
        # positive margin makes it strictly better.
        super().__init__(monitor=monitor, rule=selection_rule(monitor),
                         min_delta=max(min_delta, 1e-9), patience=patience, strict=True)
        self.begin = int(begin)

    def after_val_epoch(self, runner, metrics) -> None:
        super().after_val_epoch(runner, metrics)
        if runner.epoch < self.begin:  # runner.epoch counts the epoch just trained
            self.wait_count = 0
            runner.train_loop.stop_training = False

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        checkpoint.setdefault("meta", {})["early_stopping"] = dict(
            best_score=float(self.best_score), wait_count=int(self.wait_count))

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        # mmengine calls this for load_from too: only a resumed run continues the count
        state = checkpoint.get("meta", {}).get("early_stopping") if runner._resume else None
        if not state:
            return
        self.best_score = float(state["best_score"])
        self.wait_count = int(state["wait_count"])
        if self.wait_count >= self.patience:  # it had stopped already
            runner.train_loop.stop_training = True


@HOOKS.register_module()
class TrainTimeHook(Hook):
    """Seconds spent in training and validation, summed over every process
    that worked on the run (kept in the checkpoint across a resume)."""

    priority = "VERY_LOW"

    def __init__(self):
        self.before = 0.0
        self._start = None

    @property
    def total(self) -> float:
        return self.before + (time.perf_counter() - self._start if self._start else 0.0)

    def before_train(self, runner) -> None:
        self._start = time.perf_counter()

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        checkpoint.setdefault("meta", {})["train_time_s"] = float(self.total)

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        if runner._resume:  # load_from starts a new run's clock
            self.before = float(checkpoint.get("meta", {}).get("train_time_s", 0.0))
