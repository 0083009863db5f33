"""``auzoo train`` and ``auzoo eval``: one model, one fold, the paper's protocol.

Training runs on mmengine's Runner: an epoch is ``iters_per_epoch`` batches
drawn by the AU-weighted sampler, the model is scored after every epoch (on
the test fold, as the paper does, or on held-out training subjects with
``--select-on val``), the best epoch by mean F1 is kept, and training stops
after ``patience`` epochs without a better one. The run writes into its work
dir:

* ``best.pth``     the chosen model, an auzoo checkpoint that says what it is
* ``result.json``  its scores on the test fold and everything that produced them
* ``run.json``     the run's settings (``--resume`` refuses different ones)
* ``epoch_N.pth``, ``best_f1_mean_epoch_N.pth``, ``last_checkpoint``: mmengine's
  resume state, removed once the run is finished

Under ``torchrun`` the same command trains with DistributedDataParallel through
mmengine's ``pytorch`` launcher: the sampler draws the same global batches and
each rank takes its slice.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import time
from pathlib import Path
from typing import Any, Dict, Mapping, Optional, Sequence, Tuple

import numpy as np
import torch
from mmengine.config import Config

from auzoo.engine.checkpoint import (CheckpointError, atomic_write, build_from_checkpoint,
                                     device_name, load_checkpoint, mmengine_safe_globals,
                                     plain, save_checkpoint, software_versions)

RESULT_FILE = "result.json"
PREDICTIONS_FILE = "best_predictions.npz"
RUN_FILE = "run.json"
BEST_FILE = "best.pth"

# Command-line options and the config keys they set.
OPTION_KEYS = {
    "max_epochs": "train.max_epochs",
    "iters_per_epoch": "train.iters_per_epoch",
    "batch_size": "train.batch_size",
    "img_size": "img_size",
    "select_on": "train.select_on",
}


# --------------------------------------------------------------------------
# settings
# --------------------------------------------------------------------------

def resolve_config(model, cfg_options: Optional[Mapping[str, Any]] = None,
                   **options: Any) -> Config:
    """The model's config with ``--cfg-options`` and then the named command-line
    options (``max_epochs``, ``batch_size`` … ; None = unset) merged in."""
    from auzoo import registry
    from auzoo.config import load_config, model_name

    registry.ensure_loaded()
    cfg = load_config(model)
    name = model_name(cfg)
    if cfg_options:
        cfg.merge_from_dict(dict(cfg_options))
    unknown = set(options) - set(OPTION_KEYS)
    if unknown:
        raise TypeError(f"unknown training option(s): {', '.join(sorted(unknown))}")
    cfg.merge_from_dict({OPTION_KEYS[k]: v for k, v in options.items() if v is not None})
    for section in ("model", "train", "data"):
        if section not in cfg:
            raise KeyError(f"config of '{name}' has no '{section}' section "
                           "(model configs inherit _base_/disfa.py and _base_/schedule_paper.py)")
    if cfg.train.get("select_on", "test") not in ("test", "val"):
        raise ValueError(f"train.select_on must be 'test' or 'val', not {cfg.train.select_on!r}")
    cfg.name = name
    return cfg


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


def _launcher(device: torch.device) -> str:
    """'pytorch' under torchrun (the process group is set up here when it is
    not yet), else 'none'."""
    if "LOCAL_RANK" not in os.environ or "WORLD_SIZE" not in os.environ:
        return "none"
    import torch.distributed as dist
    if not dist.is_initialized():
        if device.type == "cuda":
            from mmengine.dist import init_dist
            init_dist("pytorch", backend="nccl")
        else:  # mmengine's pytorch launcher calls torch.cuda.set_device; gloo needs no GPU
            dist.init_process_group(backend="gloo")
    return "pytorch"


def _world() -> Tuple[int, int]:
    from mmengine.dist import get_dist_info
    return get_dist_info()


def _barrier() -> None:
    import torch.distributed as dist
    if dist.is_available() and dist.is_initialized():
        dist.barrier()


def _digest(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:16]


# --------------------------------------------------------------------------
# data
# --------------------------------------------------------------------------

def fold_split(cfg: Config, fold: int, seed: int) -> Dict[str, Tuple[str, ...]]:
    """Train / val / test subjects of a fold under the config's protocol.
    ``select_on='val'`` holds ``train.val_subjects`` training subjects out."""
    from auzoo.data.protocol import get_protocol, val_split

    protocol = get_protocol(cfg.data.get("protocol", "disfa"))
    train, test = protocol.fold_subjects(fold)
    val: Tuple[str, ...] = ()
    if cfg.train.get("select_on", "test") == "val":
        train, val = val_split(train, n_val=int(cfg.train.get("val_subjects", 3)), seed=seed)
    return dict(train=tuple(train), val=tuple(val), test=tuple(test))


def _check_subjects(cache, subjects: Sequence[str], data_path) -> None:
    have = set(cache.subjects)
    missing = [s for s in subjects if s not in have]
    if missing:
        raise ValueError(f"{data_path}: the cache has no frames of subject(s) {', '.join(missing)} "
                         f"that this fold needs (it holds {len(have)} subjects)")


def _loader_workers(device: torch.device, world_size: int, requested: Optional[int]) -> int:
    if requested is not None:
        return int(requested)
    if device.type != "cuda":
        return 0  # on a CPU the model needs every core; reading the memmap is cheap
    return max(1, min(8, (os.cpu_count() or 2) // max(1, world_size) - 1))


def _frames(cache, cfg: Config, subjects, hflip: bool):
    """The data engineer's :class:`~auzoo.data.dataset.DisfaFrames`, with each
    batch also carrying the dataset ``index`` of its frames (the metric
    de-duplicates a distributed sampler's padding by it)."""
    from auzoo.data.dataset import DisfaFrames

    class IndexedFrames(DisfaFrames):
        def __getitems__(self, indices):
            batch = super().__getitems__(indices)
            batch["index"] = torch.as_tensor(np.asarray(indices, dtype=np.int64))
            return batch

        def subjects_of(self, index) -> np.ndarray:
            return np.asarray(self.subjects, dtype=object)[self.subject_code[np.asarray(index)]]

    return IndexedFrames(cache, subjects, bad_frames=cfg.data.get("bad_frames", "drop"),
                         hflip=hflip, protocol=cfg.data.get("protocol", "disfa"))


def build_train_loader(cache, cfg: Config, subjects, *, seed: int, device: torch.device,
                       num_workers: Optional[int] = None):
    """AU-weighted batches: ``iters_per_epoch`` global batches of ``batch_size``
    frames per epoch; under DDP each rank loads its slice of every batch.

    Workers (on a GPU) persist across epochs; on a CPU the batches are read in
    the main process, whose RNG the epoch seed fixes, so a resumed run flips
    exactly the frames an uninterrupted one does."""
    from torch.utils.data import DataLoader

    from auzoo.data.dataset import collate_batch
    from auzoo.data.sampler import AUWeightedBatchSampler

    rank, world_size = _world()
    dataset = _frames(cache, cfg, subjects, hflip=bool(cfg.data.get("hflip", True)))
    sampler = AUWeightedBatchSampler(dataset.labels, batch_size=int(cfg.train.batch_size),
                                     iters_per_epoch=int(cfg.train.iters_per_epoch), seed=seed,
                                     world_size=world_size, rank=rank, aus=dataset.aus)
    workers = _loader_workers(device, world_size, num_workers)
    return DataLoader(dataset, batch_sampler=sampler, collate_fn=collate_batch,
                      num_workers=workers, persistent_workers=workers > 0,
                      pin_memory=device.type == "cuda")


def build_eval_loader(cache, cfg: Config, subjects, *, batch_size: int, device: torch.device,
                      distributed: bool = False, num_workers: Optional[int] = None):
    """Every frame of ``subjects`` once, in index order, without augmentation;
    under DDP each rank scores a share (mmengine's DefaultSampler)."""
    from mmengine.dataset import DefaultSampler
    from torch.utils.data import DataLoader

    from auzoo.data.dataset import collate_batch

    world_size = _world()[1] if distributed else 1
    dataset = _frames(cache, cfg, subjects, hflip=False)
    sampler = DefaultSampler(dataset, shuffle=False) if distributed else None
    workers = _loader_workers(device, world_size, num_workers)
    return DataLoader(dataset, batch_size=max(1, batch_size // world_size), sampler=sampler,
                      shuffle=False, collate_fn=collate_batch, num_workers=workers,
                      persistent_workers=workers > 0, pin_memory=device.type == "cuda")


# --------------------------------------------------------------------------
# the runner
# --------------------------------------------------------------------------

def _runner_class():
    import logging

    from mmengine.model.utils import revert_sync_batchnorm
    from mmengine.runner import Runner

    class AuzooRunner(Runner):
        """mmengine's Runner with two fixes: its checkpoints load under
        torch's ``weights_only`` with an allow-list of what mmengine writes,
        and a single-process run stays on the device it was given."""

        auzoo_device: torch.device = torch.device("cpu")

        def load_checkpoint(self, filename, *args, **kwargs):
            with mmengine_safe_globals():
                return super().load_checkpoint(filename, *args, **kwargs)

        def build_logger(self, *args, **kwargs):
            # Every INFO line goes to the run's log file; the console shows
            # only errors, next to the progress bar and the per-epoch lines.
            logger = super().build_logger(*args, **kwargs)
            for handler in logger.handlers:
                if type(handler) is logging.StreamHandler:
                    handler.setLevel(logging.ERROR)
            return logger

        def wrap_model(self, model_wrapper_cfg, model):
            if self.distributed:
                return super().wrap_model(model_wrapper_cfg, model)
            return revert_sync_batchnorm(model.to(self.auzoo_device))

    return AuzooRunner


# --------------------------------------------------------------------------
# train
# --------------------------------------------------------------------------

def train(model, data, fold: int, *, work_dir=None, resume: bool = False, seed: int = 0,
          max_epochs: Optional[int] = None, iters_per_epoch: Optional[int] = None,
          batch_size: Optional[int] = None, img_size: Optional[int] = None,
          device: Optional[str] = None, select_on: Optional[str] = None,
          cfg_options: Optional[Mapping[str, Any]] = None, preset: Optional[str] = None,
          label: Optional[str] = None, progress=None, num_workers: Optional[int] = None,
          extra_meta: Optional[Mapping[str, Any]] = None) -> Dict[str, Any]:
    """Train ``model`` (name, config file, dict or Config) on fold ``fold`` of
    the prepared cache ``data``; returns the result record (also written to
    ``WORK_DIR/result.json``). With ``resume=True`` an interrupted run in
    ``work_dir`` continues where it stopped, and a finished one is returned
    as it is."""
    import auzoo
    from auzoo.data import open_cache

    cfg = resolve_config(model, cfg_options, max_epochs=max_epochs, iters_per_epoch=iters_per_epoch,
                         batch_size=batch_size, img_size=img_size, select_on=select_on)
    name = cfg.name
    dev = resolve_device(device)
    launcher = _launcher(dev)
    rank, world_size = _world()
    work_dir = Path(work_dir or Path("work_dirs") / name / f"fold{fold}").resolve()
    label = label or f"{name} fold {fold}"

    cache = open_cache(data)
    split = fold_split(cfg, fold, seed)
    for subjects in split.values():
        _check_subjects(cache, subjects, data)
    tcfg = cfg.train
    select_on = tcfg.get("select_on", "test")
    size = int(cfg.get("img_size", cache.size))
    batch = int(tcfg.batch_size)
    if batch % world_size:
        raise ValueError(f"batch size {batch} does not split over {world_size} processes")
    amp = dev.type == "cuda" and bool(tcfg.get("amp", True))
    channels_last = dev.type == "cuda" and bool(tcfg.get("channels_last", True))

    settings = dict(model=name, config_digest=_digest(cfg.to_dict()), fold=fold,
                    data_checksum=cache.checksum, seed=seed, img_size=size, batch_size=batch,
                    iters_per_epoch=int(tcfg.iters_per_epoch), max_epochs=int(tcfg.max_epochs),
                    patience=int(tcfg.patience), select_on=select_on, split=split,
                    world_size=world_size, preset=preset)
    finished = _finished_result(work_dir, settings) if resume else None
    if finished is not None:
        return finished
    if resume:
        _check_same_run(work_dir, settings)
    if rank == 0:
        work_dir.mkdir(parents=True, exist_ok=True)
        atomic_write(work_dir / RUN_FILE, lambda tmp: Path(tmp).write_text(
            json.dumps(plain(settings), indent=2)))
    _barrier()

    from mmengine.evaluator import Evaluator
    from mmengine.optim import AmpOptimWrapper, OptimWrapper
    from mmengine.registry import OPTIMIZERS
    from mmengine.runner import set_random_seed

    from auzoo.engine.hooks import (EpochSeedHook, ProgressHook, ResumableEarlyStopping,
                                    ScoredCheckpointHook, TrainTimeHook)
    from auzoo.engine.metrics import AUMetric
    from auzoo.engine.model import AUDetectorModule

    set_random_seed(seed)  # the initial weights
    net = auzoo.build_model(cfg)
    net.name = name
    module = AUDetectorModule(net, size, channels_last=channels_last,
                              eval_dtype=torch.bfloat16 if amp else None)
    if channels_last:
        module = module.to(memory_format=torch.channels_last)
    trainable = [p for p in net.parameters() if p.requires_grad]
    optimizer = OPTIMIZERS.build(dict(tcfg.optimizer, params=trainable))
    optim_wrapper = (AmpOptimWrapper(optimizer=optimizer, dtype="bfloat16") if amp
                     else OptimWrapper(optimizer=optimizer))

    if num_workers is None:
        num_workers = tcfg.get("num_workers", None)
    train_loader = build_train_loader(cache, cfg, split["train"], seed=seed, device=dev,
                                      num_workers=num_workers)
    select_subjects = split["val"] if select_on == "val" else split["test"]
    eval_batch = int(tcfg.get("eval_batch_size", 2 * batch))
    val_loader = build_eval_loader(cache, cfg, select_subjects, batch_size=eval_batch, device=dev,
                                   distributed=launcher != "none", num_workers=num_workers)

    wrapper_cfg = None
    if launcher != "none":
        wrapper_cfg = dict(type="MMDistributedDataParallel",
                           find_unused_parameters=bool(tcfg.get("find_unused_parameters", False)),
                           device_ids=[dev.index] if dev.type == "cuda" else None)
    timer = TrainTimeHook()
    hooks = [EpochSeedHook(seed), timer,
             ResumableEarlyStopping(patience=int(tcfg.patience),
                                    min_delta=float(tcfg.get("min_delta", 0.0))),
             ScoredCheckpointHook(predictions_file=PREDICTIONS_FILE),
             ProgressHook(label, progress=progress)]
    hooks += list(tcfg.get("custom_hooks", []))

    Runner = _runner_class()
    Runner.auzoo_device = dev
    runner_cfg = cfg.copy()
    runner_cfg.merge_from_dict(dict(fold=fold, seed=seed, model_wrapper_cfg=wrapper_cfg,
                                    split={k: list(v) for k, v in split.items()},
                                    compile=tcfg.get("compile", False)))
    runner = Runner(
        model=module, work_dir=str(work_dir), experiment_name=f"{name}_fold{fold}",
        train_dataloader=train_loader, val_dataloader=val_loader,
        val_evaluator=Evaluator([AUMetric(net.aus)]),
        train_cfg=dict(by_epoch=True, max_epochs=int(tcfg.max_epochs), val_interval=1),
        val_cfg=dict(), optim_wrapper=optim_wrapper,
        default_hooks=dict(timer=dict(type="IterTimerHook"),
                           logger=dict(type="LoggerHook", interval=int(tcfg.get("log_interval", 20))),
                           param_scheduler=dict(type="ParamSchedulerHook"),
                           checkpoint=None, sampler_seed=None),
        custom_hooks=hooks, launcher=launcher,
        env_cfg=dict(cudnn_benchmark=dev.type == "cuda",
                     dist_cfg=dict(backend="nccl" if dev.type == "cuda" else "gloo")),
        randomness=dict(seed=seed, deterministic=bool(tcfg.get("deterministic", False))),
        resume=resume and (work_dir / "last_checkpoint").is_file(), cfg=runner_cfg,
        log_level="INFO", default_scope="auzoo")
    runner.train()

    result = None
    if rank == 0:
        best_path = runner.message_hub.get_info("best_ckpt")
        if not best_path or not Path(best_path).is_file():
            raise RuntimeError(f"{work_dir}: training ended without a scored epoch")
        result = _finish(cfg, net, best_path, work_dir=work_dir, cache=cache, data=data, fold=fold,
                         split=split, settings=settings, device=dev, amp=amp,
                         channels_last=channels_last, eval_batch=eval_batch,
                         train_time=timer.total, epochs=runner.train_loop.epoch,
                         iters=runner.train_loop.iter,
                         stopped_early=bool(runner.train_loop.stop_training),
                         num_workers=num_workers, extra_meta=extra_meta)
        if not tcfg.get("keep_resume_checkpoints", False):
            _remove_resume_state(work_dir)
    return _from_rank0(result)


def _from_rank0(obj):
    """``obj`` of rank 0 on every rank (each node may have its own work dir)."""
    import torch.distributed as dist
    if not (dist.is_available() and dist.is_initialized()):
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def _finished_result(work_dir: Path, settings: Mapping[str, Any]) -> Optional[Dict[str, Any]]:
    """The result of a finished run with these settings in ``work_dir``."""
    path = work_dir / RESULT_FILE
    if not path.is_file() or not (work_dir / BEST_FILE).is_file():
        return None
    _check_same_run(work_dir, settings)
    return json.loads(path.read_text())


def _check_same_run(work_dir: Path, settings: Mapping[str, Any]) -> None:
    path = work_dir / RUN_FILE
    if not path.is_file():
        return
    before = json.loads(path.read_text())
    now = plain(dict(settings))
    changed = [k for k in sorted(set(before) | set(now)) if before.get(k) != now.get(k)]
    if changed:
        detail = "; ".join(f"{k}: {before.get(k)!r} -> {now.get(k)!r}" for k in changed
                           if k != "split")
        raise ValueError(f"{path}: the run in this work dir was started with other settings "
                         f"({detail or 'subject split'}); resume it with the same ones, or use "
                         "another --work-dir")


def _remove_resume_state(work_dir: Path) -> None:
    for path in list(work_dir.glob("epoch_*.pth")) + list(work_dir.glob("best_*_epoch_*.pth")):
        path.unlink(missing_ok=True)
    (work_dir / "last_checkpoint").unlink(missing_ok=True)
    (work_dir / PREDICTIONS_FILE).unlink(missing_ok=True)


def _finish(cfg: Config, net, best_path, *, work_dir: Path, cache, data, fold: int, split,
            settings, device, amp, channels_last, eval_batch, train_time, epochs, iters,
            stopped_early, num_workers, extra_meta) -> Dict[str, Any]:
    """Export the best epoch as ``best.pth``, score it on the test fold and
    write ``result.json``."""
    with mmengine_safe_globals():
        mm = torch.load(best_path, map_location="cpu", weights_only=True)
    prefix = "model."
    state = {k[len(prefix):]: v for k, v in mm["state_dict"].items() if k.startswith(prefix)}
    net.load_state_dict(state)
    best_epoch = int(mm["meta"]["epoch"])
    selection_score = float(mm["message_hub"]["runtime_info"].get("best_score", float("nan")))

    started = time.perf_counter()
    saved = work_dir / PREDICTIONS_FILE
    if settings["select_on"] == "test" and saved.is_file():
        # The epoch was chosen on the test fold: its validation already
        # scored every test frame with these weights.
        with np.load(saved) as npz:
            if int(npz["epoch"]) != best_epoch:
                raise RuntimeError(f"{saved} holds epoch {int(npz['epoch'])}, not the best "
                                   f"epoch {best_epoch}")
            dataset = _frames(cache, cfg, split["test"], hflip=False)
            scores = score_predictions(npz["logits"], npz["labels"], npz["index"], dataset, net.aus)
    else:
        scores = evaluate(net, cache, split["test"], cfg=cfg, img_size=settings["img_size"],
                          device=device, batch_size=eval_batch, amp=amp,
                          channels_last=channels_last, num_workers=num_workers)
    eval_time = time.perf_counter() - started
    from auzoo.data.protocol import get_protocol
    protocol = get_protocol(cfg.data.get("protocol", "disfa"))
    meta = dict(
        model=cfg.name, config=cfg.pretty_text, aus=list(net.aus), fold=fold,
        protocol=protocol.describe(fold, cfg.data.get("bad_frames", "drop")),
        train_subjects=list(split["train"]), val_subjects=list(split["val"]),
        test_subjects=list(split["test"]), bad_frames=cfg.data.get("bad_frames", "drop"),
        select_on=settings["select_on"], data=str(data), data_checksum=cache.checksum,
        img_size=settings["img_size"], cache_size=int(cache.size), seed=settings["seed"],
        batch_size=settings["batch_size"], iters_per_epoch=settings["iters_per_epoch"],
        max_epochs=settings["max_epochs"], patience=settings["patience"],
        preset=settings["preset"], world_size=settings["world_size"],
        versions=software_versions(), device=device_name(device),
        precision="bf16 autocast" if amp else "fp32", channels_last=channels_last,
        cudnn_benchmark=device.type == "cuda", compile=plain(cfg.train.get("compile", False)),
        best=dict(epoch=best_epoch, selection_f1_mean=selection_score,
                  selected_on=settings["select_on"],
                  f1_mean=100 * scores["f1_mean"], acc_mean=100 * scores["acc_mean"]),
        **dict(extra_meta or {}))
    save_checkpoint(work_dir / BEST_FILE, net.state_dict(), meta)
    result = result_record(meta, scores, train_time=train_time, eval_time=eval_time,
                           epochs=epochs, iters=iters, stopped_early=stopped_early,
                           params=sum(p.numel() for p in net.parameters()),
                           trainable_params=sum(p.numel() for p in net.parameters() if p.requires_grad),
                           checkpoint=str(work_dir / BEST_FILE))
    atomic_write(work_dir / RESULT_FILE,
                 lambda tmp: Path(tmp).write_text(json.dumps(plain(result), indent=2)))
    return result


def result_record(meta: Mapping[str, Any], scores: Mapping[str, Any], **extra: Any) -> Dict[str, Any]:
    """One (model, fold) result as plain data: scores in percent, per subject,
    the always-present baseline, and what produced them."""
    aus = list(meta["aus"])
    record = {k: v for k, v in meta.items() if k != "config"}
    record.update(
        f1={f"AU{a}": 100 * float(v) for a, v in zip(aus, scores["f1"])},
        acc={f"AU{a}": 100 * float(v) for a, v in zip(aus, scores["acc"])},
        f1_mean=100 * float(scores["f1_mean"]), acc_mean=100 * float(scores["acc_mean"]),
        frames=int(scores["frames"]),
        counts={f"AU{a}": dict(zip(("tn", "fp", "fn", "tp"), map(int, c)))
                for a, c in zip(aus, scores["counts"])},
        per_subject_f1={s: {k: (None if np.isnan(v) else 100 * float(v)) for k, v in row.items()}
                        for s, row in scores["per_subject"].to_dict(orient="index").items()},
        baseline_f1={f"AU{a}": 100 * float(v) for a, v in zip(aus, scores["baseline"]["f1"])},
        baseline_acc={f"AU{a}": 100 * float(v) for a, v in zip(aus, scores["baseline"]["acc"])},
        **extra)
    return record


# --------------------------------------------------------------------------
# evaluation
# --------------------------------------------------------------------------

@torch.no_grad()
def predict_logits(net, loader, *, img_size: int, device, amp: bool = False,
                   channels_last: bool = False) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(logits, labels, index)`` of every frame the loader yields."""
    from auzoo.engine.model import AUFramePreprocessor

    prep = AUFramePreprocessor(img_size, channels_last=channels_last).to(device)
    net = net.to(device).eval()
    needs_landmarks = bool(getattr(net, "requires_landmarks", False))
    logits, labels, index = [], [], []
    autocast = (torch.autocast(device_type=torch.device(device).type, dtype=torch.bfloat16)
                if amp else contextlib.nullcontext())
    for batch in loader:
        inputs = prep(batch)
        with autocast:
            out = net(inputs["images"], inputs["landmarks"]) if needs_landmarks else net(inputs["images"])
        logits.append(out.float().cpu().numpy())
        labels.append(np.asarray(batch["labels"]))
        index.append(np.asarray(batch["index"]))
    return np.concatenate(logits), np.concatenate(labels), np.concatenate(index)


def evaluate(net, cache, subjects: Sequence[str], *, cfg: Config, img_size: int, device,
             batch_size: int = 128, amp: bool = False, channels_last: bool = False,
             num_workers: Optional[int] = None) -> Dict[str, Any]:
    """Score ``net`` on every frame of ``subjects``: per-AU F1 and accuracy
    (fractions), per-subject F1, and the always-present baseline."""
    loader = build_eval_loader(cache, cfg, subjects, batch_size=batch_size,
                               device=torch.device(device), num_workers=num_workers)
    logits, labels, index = predict_logits(net, loader, img_size=img_size, device=device, amp=amp,
                                           channels_last=channels_last)
    return score_predictions(logits, labels, index, loader.dataset, net.aus)


def score_predictions(logits: np.ndarray, labels: np.ndarray, index: np.ndarray, dataset,
                      aus: Sequence[int]) -> Dict[str, Any]:
    """:func:`~auzoo.engine.metrics.au_scores` plus per-subject F1 and the
    always-present baseline, for predictions on ``dataset``'s frames."""
    from auzoo.engine.metrics import au_scores, binarize, constant_baseline, per_subject_f1

    if len(np.unique(index)) != len(dataset) or len(index) != len(dataset):
        raise ValueError(f"predictions cover {len(np.unique(index))} of {len(dataset)} frames")
    scores = au_scores(labels, logits, aus)
    scores["per_subject"] = per_subject_f1(labels, binarize(logits), dataset.subjects_of(index), aus)
    scores["baseline"] = constant_baseline(labels)
    return scores


# --------------------------------------------------------------------------
# command line
# --------------------------------------------------------------------------

@contextlib.contextmanager
def distributed_session():
    """Leave the process group together at the end of a command: a rank that
    exits while another still holds its gloo connections can abort that one.
    (After an error, no barrier: the other ranks may never reach it.)"""
    import torch.distributed as dist
    try:
        yield
    except BaseException:
        if dist.is_available() and dist.is_initialized():
            dist.destroy_process_group()
        raise
    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def cli_cfg_options(args) -> Dict[str, Any]:
    """``--cfg-options`` plus the command-line flags that are config keys."""
    options = dict(args.cfg_options or {})
    if getattr(args, "compile", None):
        options["train.compile"] = True
    return options


def train_cli(args) -> int:
    with distributed_session():
        result = train(args.model, args.data, args.fold, work_dir=args.work_dir,
                       resume=args.resume, seed=args.seed, max_epochs=args.max_epochs,
                       iters_per_epoch=args.iters_per_epoch, batch_size=args.batch_size,
                       img_size=args.img_size, device=args.device, select_on=args.select_on,
                       cfg_options=cli_cfg_options(args))
        if _world()[0] == 0:
            print_result(result)
    return 0


def print_result(result: Mapping[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{result['model']} fold {result['fold']}: test subjects "
                        f"{', '.join(result['test_subjects'])} ({result['frames']} frames)")
    table.add_column("")
    aus = list(result["f1"])
    for au in aus:
        table.add_column(au, justify="right")
    table.add_column("mean", justify="right")
    table.add_row("F1", *(f"{result['f1'][a]:.1f}" for a in aus), f"{result['f1_mean']:.1f}")
    table.add_row("accuracy", *(f"{result['acc'][a]:.1f}" for a in aus), f"{result['acc_mean']:.1f}")
    base = result.get("baseline_f1")
    if base:
        table.add_row("F1 always present", *(f"{base[a]:.1f}" for a in aus),
                      f"{np.mean(list(base.values())):.1f}", style="dim")
    console = Console()
    console.print(table)
    best = result.get("best", {})
    console.print(f"best epoch {best.get('epoch')} of {result.get('epochs')} "
                  f"(chosen on {result.get('select_on')}); checkpoint {result.get('checkpoint')}")


def eval_cli(args) -> int:
    import warnings

    from auzoo.data import open_cache
    from auzoo.data.protocol import get_protocol

    meta, _ = load_checkpoint(args.weights)
    cfg = Config.fromstring(meta["config"], file_format=".py")
    cfg.name = meta.get("model", "custom")
    protocol = get_protocol(cfg.data.get("protocol", "disfa"))
    _, test = protocol.fold_subjects(args.fold)
    seen = sorted(set(test) & (set(meta.get("train_subjects", [])) | set(meta.get("val_subjects", []))))
    if seen:
        raise CheckpointError(
            f"{args.weights}: refusing to score fold {args.fold}: the checkpoint (fold "
            f"{meta.get('fold')}) was trained on its test subject(s) {', '.join(seen)}. "
            f"Score it on fold {meta.get('fold')}, the fold it held out.")
    cache = open_cache(args.data)
    if meta.get("data_checksum") and cache.checksum != meta["data_checksum"]:
        warnings.warn(f"{args.data}: data checksum {cache.checksum} differs from the one "
                      f"{args.weights} was trained on ({meta['data_checksum']}); the scores are "
                      "not comparable to its training result", RuntimeWarning, stacklevel=2)
    _check_subjects(cache, test, args.data)
    net = build_from_checkpoint(args.weights, model=args.model)
    dev = resolve_device(args.device)
    amp = dev.type == "cuda"
    scores = evaluate(net, cache, test, cfg=cfg, img_size=int(meta["img_size"]), device=dev,
                      batch_size=args.batch_size, amp=amp, channels_last=amp)
    meta = dict(meta, fold=args.fold, test_subjects=list(test), device=device_name(dev),
                data=str(args.data), data_checksum=cache.checksum)
    result = result_record(meta, scores, checkpoint=str(args.weights))
    if getattr(args, "out", None):
        import pandas as pd
        rows = [dict(AU=au, f1=result["f1"][au], accuracy=result["acc"][au], **result["counts"][au])
                for au in result["f1"]]
        rows.append(dict(AU="mean", f1=result["f1_mean"], accuracy=result["acc_mean"]))
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        pd.DataFrame(rows).to_csv(args.out, index=False)
    print_result(result)
    return 0
