"""mmengine's Runner, from an mmengine-schema config, with auzoo's few additions.

:func:`runner_config` hands the run's resolved config to ``Runner.from_cfg``
whole: every key mmengine reads (``visualizer``, ``log_processor``,
``load_from``, ``auto_scale_lr``, ``custom_hooks`` …) keeps its meaning, and
auzoo sets only what a run of it needs (its :class:`RunPlan`): the model
wrapper around ``cfg.model``, the fold's loaders, its own hooks appended to
``custom_hooks``, the work dir, launcher, seed, resume and what depends on the
device. auzoo's own keys (:data:`auzoo.config_check.AUZOO_KEYS`) are read here
and removed; a key that cannot work in auzoo is refused by name
(:data:`REFUSED`). :class:`AuzooRunner` adds what mmengine does not do by
itself: loading checkpoints under ``weights_only`` (auzoo's ``best.pth`` too),
a quiet console, and a single process that stays on the device it was given.
"""
from __future__ import annotations

import itertools
import logging
import os
from pathlib import Path
from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Optional

import torch
from mmengine.config import Config
from mmengine.runner import Runner

from auzoo.engine.checkpoint import mmengine_safe_globals
from auzoo.data.transforms import pipeline_steps
from auzoo.engine.loaders import FramesSource, frames_loader_cfg


# --------------------------------------------------------------------------
# the runner
# --------------------------------------------------------------------------

class AuzooRunner(Runner):
    """mmengine's Runner with safe checkpoint loading, a quiet console and one device."""

    def load_checkpoint(self, filename, map_location="cpu", strict=False,
                        revise_keys=((r"^module\.", ""),)):
        """mmengine's, under ``weights_only``; an auzoo checkpoint (``best.pth``:
        the model's own state dict) loads into the wrapper's ``model``."""
        from auzoo.engine.checkpoint import FORMAT

        with mmengine_safe_globals():
            head = torch.load(filename, map_location="cpu", weights_only=True, mmap=True)
            if isinstance(head, Mapping) and (head.get("meta") or {}).get("format") == FORMAT:
                revise_keys = [*revise_keys, (r"^", "model.")]
            return super().load_checkpoint(filename, map_location, strict, list(revise_keys))

    def build_logger(self, *args, **kwargs):
        # Every INFO line goes to the run's log file; the console shows only
        # errors, next to the progress bar and the per-epoch lines.
        logger = super().build_logger(*args, **kwargs)
        for handler in logger.handlers:
            if type(handler) is logging.StreamHandler:
                handler.setLevel(logging.ERROR)
        return logger

    def wrap_model(self, model_wrapper_cfg, model):
        if self.distributed:
            return super().wrap_model(model_wrapper_cfg, model)
        from mmengine.model.utils import revert_sync_batchnorm
        return revert_sync_batchnorm(model.to(torch.device(self.cfg.auzoo_device)))


# What a run of each task is scored with, and the score it goes by, unless
# the config says (val_evaluator, select_by).
TASK_EVALUATORS = {"occurrence": ["AUMetric"], "intensity": ["AUIntensityMetric"],
                   "both": ["AUMetric", "AUIntensityMetric"]}
TASK_SELECT_BY = {"occurrence": "f1_mean", "intensity": "icc_mean", "both": "icc_mean"}
_METRIC_KEYS = {"AUMetric": ("f1_", "acc_"), "AUIntensityMetric": ("icc_", "pcc_", "mae_")}
EARLY_STOPPING_HOOKS = ("ResumableEarlyStopping", "EarlyStoppingHook")

# mmengine Runner keys that cannot work in an auzoo run, and why.
REFUSED = {
    "data_preprocessor": "normalisation lives in each backbone (its timm pretrained_cfg), and "
                         "batches reach the model as auzoo's dicts; remove the key",
    "test_dataloader": "auzoo scores the test fold itself after training (result.json) and "
                       "with `auzoo eval`; remove the key",
    "test_evaluator": "auzoo scores the test fold itself after training (result.json) and "
                      "with `auzoo eval`; remove the key",
}
# Keys mmengine reads besides its Runner's arguments.
MMENGINE_EXTRA_KEYS = ("compile", "sync_bn", "model_wrapper_cfg", "custom_imports")


def run_task(cfg: Config) -> str:
    """The config's task (:mod:`auzoo.models.tasks`), 'occurrence' by default."""
    from auzoo.models.tasks import check_task
    return check_task(cfg.get("task", "occurrence"))


def selection_key(cfg: Config) -> str:
    """The validation score the best epoch and early stopping go by; it must
    be one the run's metrics report."""
    task = run_task(cfg)
    key = cfg.get("select_by") or TASK_SELECT_BY[task]
    types = [m.get("type") for m in _as_list(cfg.get("val_evaluator")) or
             [dict(type=t) for t in TASK_EVALUATORS[task]]]
    reported = [p for t in types for p in _METRIC_KEYS.get(t, ())]
    if reported and not key.startswith(tuple(reported)):
        raise ValueError(f"select_by={key!r}, but the {task} run's metrics ({', '.join(types)}) "
                         f"report {', '.join(p + '*' for p in reported)}")
    return key


def early_stopping_hook(cfg: Config) -> Optional[Dict[str, Any]]:
    """The config's early-stopping hook in ``custom_hooks`` (None: none)."""
    hooks = [h for h in _as_list(cfg.get("custom_hooks")) if h.get("type") in EARLY_STOPPING_HOOKS]
    return hooks[0] if hooks else None


@dataclass(frozen=True)
class RunPlan:
    """What auzoo resolved for one run, beside its config: the cache (``data``),
    the model's ``aus``, the fold's subject ``split`` (train / val / test), the
    seed, the work dir, the device and launcher, whether mmengine's state is
    resumed, the file of the best epoch's predictions, and where the weights
    start (:func:`auzoo.engine.init.plan_init`)."""

    data: str
    aus: tuple
    split: Mapping[str, tuple]
    seed: int
    work_dir: Path
    device: torch.device
    launcher: str = "none"
    resume: bool = False
    predictions_file: str = "best_predictions.npz"
    init_from: Optional[dict] = None

    @property
    def distributed(self) -> bool:
        return self.launcher != "none"


def _precision(cfg: Config, device: torch.device) -> Dict[str, str]:
    """Precision of training and scoring: the config's on a GPU, fp32 on a CPU."""
    wanted = dict(cfg.get("precision") or {})
    if device.type != "cuda":
        return dict(train="fp32", eval="fp32")
    return dict(train=wanted.get("train", "bf16"), eval=wanted.get("eval", "fp32"))


def _custom_hooks(cfg: Config, plan: RunPlan) -> List[Dict[str, Any]]:
    """The config's hooks, an early-stopping hook's monitor defaulting to the
    run's selection score, then auzoo's (ScoredCheckpointHook last: it saves
    the early-stopping counters of the epoch just scored)."""
    monitor = selection_key(cfg)
    hooks = [dict(h, monitor=h.get("monitor", monitor)) if h.get("type") in EARLY_STOPPING_HOOKS
             else h for h in _as_list(cfg.get("custom_hooks"))]
    return hooks + [dict(type="BindLossHook"), dict(type="EpochSeedHook", seed=plan.seed),
                    dict(type="TrainTimeHook"),
                    dict(type="ScoredCheckpointHook", predictions_file=plan.predictions_file,
                         monitor=monitor)]


def _loaders(cfg: Config, plan: RunPlan) -> Dict[str, Any]:
    from mmengine.dist import get_world_size

    select = plan.split["val"] if cfg.get("select_on", "test") == "val" else plan.split["test"]
    world = get_world_size() if plan.distributed else 1
    common = dict(cache=plan.data, aus=tuple(plan.aus), data=dict(cfg.get("data") or {}),
                  img_size=cfg.img_size, intensity=run_task(cfg) != "occurrence")
    train = FramesSource(subjects=plan.split["train"], pipeline=pipeline_steps(cfg, "train"),
                         **common)
    val = FramesSource(subjects=select, pipeline=pipeline_steps(cfg, "test"), **common)
    return dict(train_dataloader=frames_loader_cfg(train, cfg.train_dataloader, training=True,
                                                   device=plan.device, world_size=world),
                val_dataloader=frames_loader_cfg(val, cfg.val_dataloader, training=False,
                                                 device=plan.device, world_size=world))


def runner_config(cfg: Config, plan: RunPlan) -> Config:
    """The config ``AuzooRunner.from_cfg`` builds the run from: ``cfg`` whole,
    less auzoo's own keys, plus what :class:`RunPlan` resolved."""
    from auzoo.config_check import AUZOO_KEYS, mmengine_keys

    for key, why in REFUSED.items():
        if cfg.get(key) is not None:
            raise ValueError(f"config key {key!r} cannot work in an auzoo run: {why}")
    if cfg.get("test_cfg"):
        raise ValueError("config key 'test_cfg' cannot work in an auzoo run: "
                         f"{REFUSED['test_dataloader']}")
    device = plan.device
    precision = _precision(cfg, device)
    task = run_task(cfg)
    mmengine_reads = mmengine_keys() | set(MMENGINE_EXTRA_KEYS)
    rc = {k: v for k, v in cfg.to_dict().items()
          if not (k in AUZOO_KEYS and k not in mmengine_reads) and k not in ("test_cfg",)}
    optim_wrapper = dict(rc["optim_wrapper"])
    if precision["train"] == "fp16":  # fp16 needs loss scaling; bf16 does not
        optim_wrapper.update(type="AmpOptimWrapper", dtype="float16")
    default_hooks = dict(rc.get("default_hooks") or {})
    default_hooks["checkpoint"] = None  # ScoredCheckpointHook saves after scoring
    env_cfg = dict(rc.get("env_cfg") or {})
    env_cfg["cudnn_benchmark"] = device.type == "cuda" and env_cfg.get("cudnn_benchmark", True)
    env_cfg["dist_cfg"] = dict(env_cfg.get("dist_cfg") or {},
                               backend="nccl" if device.type == "cuda" else "gloo")
    rc.update(
        model=dict(type="AUDetectorModule", model=dict(cfg.model, aus=tuple(plan.aus)),
                   loss=dict(cfg.loss), img_size=int(cfg.img_size), name=cfg.name, task=task,
                   precision=dict(precision, channels_last=device.type == "cuda" and bool(
                       cfg.get("channels_last", True))),
                   log_interval=int((default_hooks.get("logger") or {}).get("interval", 20)),
                   init=dict(run=plan.init_from, allow_random=bool(cfg.get("allow_random_init")))),
        work_dir=str(plan.work_dir), experiment_name=_experiment_name(rc.get("experiment_name") or cfg.name),
        val_evaluator=[dict(m, aus=tuple(plan.aus)) if m.get("type") in _METRIC_KEYS else m
                       for m in _as_list(cfg.get("val_evaluator"))
                       or [dict(type=t) for t in TASK_EVALUATORS[task]]],
        optim_wrapper=optim_wrapper, param_scheduler=rc.get("param_scheduler") or None,
        val_cfg=rc.get("val_cfg") or {}, default_hooks=default_hooks,
        custom_hooks=_custom_hooks(cfg, plan), launcher=plan.launcher, env_cfg=env_cfg,
        randomness=dict(rc.get("randomness") or {}, seed=plan.seed), resume=plan.resume,
        default_scope=rc.get("default_scope", "auzoo"), auzoo_device=str(device),
        **_loaders(cfg, plan))
    if plan.resume:
        # mmengine resumes from `load_from` when both are set; a run resumed in
        # its work dir continues from its own latest epoch instead
        rc["load_from"] = None
    if plan.distributed:
        rc["model_wrapper_cfg"] = dict(
            type="MMDistributedDataParallel",
            find_unused_parameters=bool(cfg.get("find_unused_parameters", False)),
            device_ids=[device.index] if device.type == "cuda" else None)
    if rc["randomness"].get("deterministic"):
        # cuBLAS is deterministic only with a fixed workspace, set before CUDA starts
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    return Config(rc)


def _as_list(value) -> list:
    if value is None:
        return []
    if isinstance(value, Mapping):
        return [dict(value)]
    return [dict(v) for v in value]


_RUNS_IN_PROCESS = itertools.count(1)


def _experiment_name(name: str) -> str:
    """A name no other run of this process has: mmengine keys its message hub,
    logger and visualizer by ``NAME_TIMESTAMP`` (to the second), and a second
    run started within the same second would take the first one's (and its
    best score)."""
    return f"{name}-{next(_RUNS_IN_PROCESS)}"
