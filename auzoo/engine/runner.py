"""mmengine's Runner, from an mmengine-schema config, with auzoo's few additions.

:func:`runner_config` turns a run's config (model, schedule, hooks, data
options) and what the run is (cache, subjects, fold, seed, work dir) into the
config ``Runner.from_cfg`` reads; :class:`AuzooRunner` adds what mmengine does
not do by itself: auzoo's loaders over a prepared cache, loading mmengine's own
checkpoints under ``weights_only``, a quiet console, and a single process that
stays on the device it was given.
"""
from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional

import torch
from mmengine.config import Config
from mmengine.runner import Runner

from auzoo.engine.checkpoint import mmengine_safe_globals
from auzoo.data.transforms import pipeline_steps
from auzoo.engine.loaders import build_frames_loader, frames_loader_cfg


# --------------------------------------------------------------------------
# processes and devices
# --------------------------------------------------------------------------

def resolve_device(device: Optional[str]) -> torch.device:
    """``--device`` (default: cuda when there is one); under torchrun each rank
    takes the GPU of its LOCAL_RANK."""
    if device is None:
        device = "cuda" if torch.cuda.is_available() else "cpu"
    dev = torch.device(device)
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"--device {device}: this machine has no CUDA device")
        if "LOCAL_RANK" in os.environ:
            dev = torch.device("cuda", int(os.environ["LOCAL_RANK"]))
        elif dev.index is None:
            dev = torch.device("cuda", torch.cuda.current_device())
        torch.cuda.set_device(dev)
    return dev


def under_torchrun() -> bool:
    return "LOCAL_RANK" in os.environ and "WORLD_SIZE" in os.environ


def launch(device: torch.device) -> str:
    """'pytorch' under torchrun (the process group is set up here when it is
    not yet: NCCL through mmengine, gloo on CPUs, where mmengine's launcher
    would call ``torch.cuda.set_device``), else 'none'."""
    if not under_torchrun():
        return "none"
    from mmengine.dist import init_dist, is_distributed
    if not is_distributed():
        if device.type == "cuda":
            init_dist("pytorch", backend="nccl")
        else:
            torch.distributed.init_process_group(backend="gloo")
    return "pytorch"


def on_rank0(fn, *args, **kwargs):
    """``fn(*args, **kwargs)`` computed on rank 0 and handed to every rank, so
    that ranks on different nodes cannot decide differently (and hang)."""
    from mmengine.dist import broadcast_object_list, get_rank, is_distributed

    box = [fn(*args, **kwargs) if get_rank() == 0 else None]
    if is_distributed():
        broadcast_object_list(box, src=0)
    return box[0]


def global_batch_split(batch_size: int, world_size: int) -> int:
    """Per-rank share of the global batch; a clear error when it does not split."""
    if batch_size % world_size:
        fits = sorted({batch_size // world_size * world_size,
                       -(-batch_size // world_size) * world_size} - {0})
        raise ValueError(
            f"train_dataloader.batch_size={batch_size} is the global batch (the paper's 64 "
            f"frames a step), and it does not split over {world_size} processes. Use "
            f"--cfg-options train_dataloader.batch_size={' or '.join(map(str, fits))}, "
            "or run on a number of GPUs that divides it")
    return batch_size // world_size


# --------------------------------------------------------------------------
# the runner
# --------------------------------------------------------------------------

class AuzooRunner(Runner):
    """mmengine's Runner with auzoo's loaders and safe checkpoint loading."""

    def build_dataloader(self, dataloader, seed=None, diff_rank_seed=False):
        if isinstance(dataloader, Mapping) and "frames" in dataloader:
            from mmengine.dist import get_dist_info
            rank, world = get_dist_info()
            return build_frames_loader(dict(dataloader["frames"]), seed=int(self.cfg.auzoo_seed),
                                       device=torch.device(self.cfg.auzoo_device),
                                       rank=rank, world_size=world)
        return super().build_dataloader(dataloader, seed=seed, diff_rank_seed=diff_rank_seed)

    def load_checkpoint(self, filename, *args, **kwargs):
        with mmengine_safe_globals():
            return super().load_checkpoint(filename, *args, **kwargs)

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


def _auzoo_hooks(cfg: Config, seed: int, predictions_file: str) -> List[Dict[str, Any]]:
    stopping = dict(cfg.early_stopping)
    monitor = selection_key(cfg)
    return [dict(type="BindLossHook"), dict(type="EpochSeedHook", seed=seed),
            dict(type="TrainTimeHook"),
            dict(type="ResumableEarlyStopping", patience=int(stopping.get("patience", 10)),
                 min_delta=float(stopping.get("min_delta", 0.0)),
                 begin=int(stopping.get("begin", 0)), monitor=monitor),
            dict(type="ScoredCheckpointHook", predictions_file=predictions_file, monitor=monitor)]


def _precision(cfg: Config, device: torch.device) -> Dict[str, str]:
    """Precision of training and scoring: the config's on a GPU, fp32 on a CPU."""
    wanted = dict(cfg.get("precision") or {})
    if device.type != "cuda":
        return dict(train="fp32", eval="fp32")
    return dict(train=wanted.get("train", "bf16"), eval=wanted.get("eval", "fp32"))


def runner_config(cfg: Config, *, data: str, aus, split: Mapping[str, tuple], seed: int,
                  work_dir: Path, device: torch.device, launcher: str, resume: bool,
                  predictions_file: str, init_from: Optional[dict] = None) -> Config:
    """The config ``AuzooRunner.from_cfg`` builds the run from."""
    select = split["val"] if cfg.get("select_on", "test") == "val" else split["test"]
    distributed = launcher != "none"
    precision = _precision(cfg, device)
    channels_last = device.type == "cuda" and bool(cfg.get("channels_last", True))
    optim_wrapper = dict(cfg.optim_wrapper)
    if precision["train"] == "fp16":  # fp16 needs loss scaling; bf16 does not
        optim_wrapper.update(type="AmpOptimWrapper", dtype="float16")
    model_cfg = dict(cfg.model)
    model_cfg["aus"] = tuple(aus)
    default_hooks = dict(cfg.get("default_hooks") or {})
    default_hooks["checkpoint"] = None  # ScoredCheckpointHook saves after scoring
    log_interval = int((default_hooks.get("logger") or {}).get("interval", 20))
    randomness = dict(cfg.get("randomness") or {}, seed=seed)
    env_cfg = dict(cfg.get("env_cfg") or {})
    env_cfg["cudnn_benchmark"] = device.type == "cuda" and env_cfg.get("cudnn_benchmark", True)
    env_cfg["dist_cfg"] = dict(env_cfg.get("dist_cfg") or {},
                               backend="nccl" if device.type == "cuda" else "gloo")
    task = run_task(cfg)
    intensity = task != "occurrence"
    evaluators = [dict(m, aus=tuple(aus)) if m.get("type") in _METRIC_KEYS else dict(m)
                  for m in _as_list(cfg.get("val_evaluator"))
                  or [dict(type=t) for t in TASK_EVALUATORS[task]]]
    rc = dict(
        model=dict(type="AUDetectorModule", model=model_cfg, loss=dict(cfg.loss),
                   img_size=int(cfg.img_size), log_interval=log_interval, name=cfg.name, task=task,
                   precision=dict(precision, channels_last=channels_last),
                   init=dict(run=init_from, allow_random=bool(cfg.get("allow_random_init")))),
        work_dir=str(work_dir), experiment_name=f"{cfg.name}",
        train_dataloader=frames_loader_cfg(data, split["train"], aus, cfg.get("data", {}),
                                           cfg.train_dataloader, training=True,
                                           pipeline=pipeline_steps(cfg, "train"),
                                           img_size=cfg.img_size, intensity=intensity),
        val_dataloader=frames_loader_cfg(data, select, aus, cfg.get("data", {}),
                                         cfg.val_dataloader, training=False,
                                         distributed=distributed,
                                         pipeline=pipeline_steps(cfg, "test"),
                                         img_size=cfg.img_size, intensity=intensity),
        val_evaluator=evaluators, train_cfg=dict(cfg.train_cfg),
        val_cfg=dict(cfg.get("val_cfg") or {}), optim_wrapper=optim_wrapper,
        param_scheduler=list(cfg.get("param_scheduler") or []) or None,
        default_hooks=default_hooks,
        custom_hooks=_auzoo_hooks(cfg, seed, predictions_file) + _as_list(cfg.get("custom_hooks")),
        launcher=launcher, env_cfg=env_cfg, randomness=randomness, resume=resume,
        log_level=cfg.get("log_level", "INFO"), default_scope=cfg.get("default_scope", "auzoo"),
        compile=cfg.get("compile", False), sync_bn=cfg.get("sync_bn"),
        auzoo_device=str(device), auzoo_seed=seed)
    if distributed:
        rc["model_wrapper_cfg"] = dict(
            type="MMDistributedDataParallel",
            find_unused_parameters=bool(cfg.get("find_unused_parameters", False)),
            device_ids=[device.index] if device.type == "cuda" else None)
    if randomness.get("deterministic"):
        # cuBLAS is deterministic only with a fixed workspace, set before CUDA starts
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    return Config(rc)


def _as_list(value) -> list:
    if value is None:
        return []
    if isinstance(value, Mapping):
        return [dict(value)]
    return [dict(v) for v in value]
