"""``auzoo train``: one model on one fold of a prepared cache, by mmengine's Runner.

:func:`train` takes a :class:`~auzoo.engine.records.RunSpec` and returns a
:class:`~auzoo.engine.records.RunResult`. The Runner is built by
``Runner.from_cfg`` from the model's mmengine-schema config (optimizer
wrapper, schedulers, hooks, randomness, environment): an epoch is
``iters_per_epoch`` batches drawn by the AU-weighted sampler, the model is
scored after every epoch (on the test fold, as the paper does, or on held-out
training subjects with ``select_on='val'``), the best epoch by mean F1 is
kept, and training stops after ``patience`` epochs without a better one
(counted from ``begin``) by the ``ResumableEarlyStopping`` hook in
``custom_hooks``. The work dir holds:

* ``best.pth``     the chosen model, an auzoo checkpoint that says what it is
* ``result.json``  its scores and everything that produced them
* ``run.json``     the run's settings (a resume refuses different ones)
* mmengine's resume state (``epoch_N.pth``, the latest epoch with the
  optimizer's state; ``best_f1_mean_epoch_K.pth``, the best epoch's weights;
  ``last_checkpoint``), removed once the run has finished

A rerun into the same work dir resumes an interrupted run, or returns a
finished one, as ``auzoo bench`` does for its cells; other settings are
refused, and ``force`` starts over.

Under ``torchrun`` the same call trains with DistributedDataParallel.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import warnings
from pathlib import Path
from typing import Any, Dict, Mapping, Optional

from mmengine.config import Config

from auzoo.engine.checkpoint import (plain)
from auzoo.engine.records import (BEST_FILE, PREDICTIONS_FILE, RESULT_FILE, RUN_FILE, RunResult,
                                  RunSpec, read_result)
from auzoo.utils.io import atomic_write_text



def _digest(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:16]


def default_work_dir(name: str, fold: int, seed: int = 0) -> Path:
    return Path("work_dirs") / name / (f"fold{fold}" if seed == 0 else f"fold{fold}-seed{seed}")


def fold_split(cfg: Config, cache, fold: int, seed: int) -> Dict[str, tuple]:
    """Train / val / test subjects of a fold; ``select_on='val'`` holds
    ``val_subjects`` training subjects out (the same seed, the same ones)."""
    from auzoo.data.datasets.base import val_split

    train, test = cache.fold_subjects(fold)
    val: tuple = ()
    if cfg.get("select_on", "test") == "val":
        train, val = val_split(train, n_val=int(cfg.get("val_subjects", 3)), seed=seed)
    have = set(cache.subjects)
    missing = [s for s in (*train, *val, *test) if s not in have]
    if missing:
        raise ValueError(f"{cache.root}: the cache has no frames of subject(s) {', '.join(missing)} "
                         f"that fold {fold} needs (it holds {len(have)} subjects)")
    return dict(train=tuple(train), val=tuple(val), test=tuple(test))


def model_aus(cfg: Config, dataset) -> tuple:
    """The model's AUs: the config's where it pins them, else the dataset's
    protocol AUs for the run's task (an intensity model: every AU the dataset
    codes with intensities, DISFA's 12, BP4D's FERA 2015 five). Every one must
    be coded by the dataset, with intensities where the task needs them."""
    from auzoo.engine.evaluate import protocol_aus
    from auzoo.engine.runner import run_task

    task = run_task(cfg)
    pinned = cfg.model.get("aus")
    aus = tuple(int(a) for a in (pinned if pinned is not None else protocol_aus(dataset, task)))
    missing = [a for a in aus if a not in set(dataset.coded_aus)]
    if missing:
        raise ValueError(f"model '{cfg.name}' predicts AUs {aus}, but {dataset.name} codes only "
                         f"{tuple(dataset.coded_aus)}: AU {', '.join(map(str, missing))} cannot be "
                         "trained or scored (set model.aus to AUs the data codes)")
    if task != "occurrence":
        no_intensity = [a for a in aus if a not in set(dataset.intensity_aus)]
        if no_intensity or not aus:
            raise ValueError(f"model '{cfg.name}' predicts the intensity of AUs {aus}, but "
                             f"{dataset.name} codes intensities of "
                             f"{tuple(dataset.intensity_aus) or 'no AU'}: AU "
                             f"{', '.join(map(str, no_intensity))} cannot be trained or scored "
                             "(set model.aus to AUs the data codes with intensities)")
    return aus


# --------------------------------------------------------------------------
# train
# --------------------------------------------------------------------------

def train(spec: RunSpec, progress=None) -> RunResult:
    """Train ``spec.model`` on fold ``spec.fold`` of ``spec.data``; returns the
    result (also written to ``WORK_DIR/result.json``). A run already in the work
    dir, started with the same settings, continues where it stopped, or is
    returned when it finished (``spec.resume=False``: only if it finished);
    ``spec.force`` discards it first."""
    from mmengine.dist import barrier, get_rank

    from auzoo.data import open_cache
    from auzoo.engine.dist import launcher as dist_launcher, on_rank0, resolve_device
    from auzoo.engine.runner import AuzooRunner, RunPlan, run_task, runner_config, selection_key
    from auzoo.engine.settings import preset_piece, resolve_config

    spec = dataclasses.replace(spec, preset=preset_piece(spec.preset))  # 'cpu-demo' = 'cpu_demo'
    cfg = resolve_config(spec.model, spec.cfg_options, preset=spec.preset)
    if spec.allow_random_init:
        cfg.allow_random_init = True
    dev = resolve_device(spec.device)
    launcher = dist_launcher(dev)
    work_dir = Path(spec.work_dir or default_work_dir(cfg.name, spec.fold, spec.seed)).resolve()
    cache = open_cache(spec.data)
    aus = model_aus(cfg, cache.dataset)
    cfg.model.aus = aus  # concrete in the saved config, so the checkpoint rebuilds the same model
    split = fold_split(cfg, cache, spec.fold, spec.seed)
    if "train_subjects" in cfg.model:
        # a model that declares it (an identity-adversarial head) is sized by
        # the fold's training subjects; saved with the config, like the AUs
        cfg.model.train_subjects = tuple(split["train"])
    _check_batch(cfg, launcher)
    from auzoo.engine.init import plan_init
    init_plan = plan_init(cfg, cache.dataset.name)  # refuses a missing source run now
    settings = dict(model=cfg.name, config_digest=_digest(cfg.to_dict()), fold=spec.fold,
                    data_checksum=cache.checksum, seed=spec.seed, aus=list(aus), split=split,
                    test_data=list(map(str, spec.test_data)), preset=spec.preset)
    if run_task(cfg) != "occurrence":
        settings["task"] = run_task(cfg)
    if spec.force and get_rank() == 0:
        _discard_run(work_dir)
    barrier()
    finished = on_rank0(_finished_result, work_dir, settings)
    if finished is not None:
        if progress is None and get_rank() == 0:
            _note(f"{spec.label or cfg.name}: this run finished already in {work_dir}; its "
                  "result follows (--force trains it again)")
        return finished
    resume = bool(on_rank0(_resumable, work_dir, settings, spec.resume))
    if get_rank() == 0:
        atomic_write_text(work_dir / RUN_FILE, json.dumps(plain(settings), indent=2))
    barrier()

    init_from = _initialisation(init_plan, spec, work_dir, progress, cfg.name)
    rc = runner_config(cfg, RunPlan(data=str(spec.data), aus=aus, split=split, seed=spec.seed,
                                    work_dir=work_dir, device=dev, launcher=launcher,
                                    resume=resume, predictions_file=PREDICTIONS_FILE,
                                    init_from=init_from))
    with warnings.catch_warnings():
        # mmengine says when it switches the start method to the config's
        # forkserver; that switch is the point (docs/training.md), not news
        warnings.filterwarnings("ignore", message="Multi-processing start method")
        runner = AuzooRunner.from_cfg(rc)
    from auzoo.engine.progress import ProgressHook
    progress_hook = ProgressHook(spec.label or f"{cfg.name} fold {spec.fold}", progress=progress,
                                 monitor=selection_key(cfg))
    runner.register_hook(progress_hook, priority="BELOW_NORMAL")
    if cfg.get("keep_epochs"):
        from auzoo.engine.init import KeepEpochWeights
        runner.register_hook(KeepEpochWeights(cfg.keep_epochs, _weights_meta(
            cfg, spec, cache, split, aus)))
    try:
        runner.train()
    finally:
        progress_hook.close()  # an interrupt leaves no live progress bar behind

    result = None
    if get_rank() == 0:
        from auzoo.engine.finish import finish_run
        result = finish_run(runner, cfg, spec, cache=cache, split=split, device=dev)
        _remove_resume_state(work_dir)
    return on_rank0(lambda: result)


def _check_batch(cfg: Config, launcher: str) -> None:
    from mmengine.dist import get_world_size

    from auzoo.engine.dist import global_batch_split
    if launcher != "none":
        global_batch_split(int(cfg.train_dataloader.batch_size), get_world_size())


def _initialisation(plan: Optional[dict], spec: RunSpec, work_dir: Path, progress,
                    name: str) -> Optional[dict]:
    """Where the run's weights start (:func:`auzoo.engine.init.plan_init`): a
    first stage or a source run this run trains first (resumable, in
    WORK_DIR/init_from/), or a given checkpoint."""
    from auzoo.engine.init import is_first_stage, source_checkpoint, source_spec

    if plan is None or plan.get("checkpoint"):
        return plan
    if is_first_stage(plan):
        stage = dataclasses.replace(spec, model=str(plan["config"]), work_dir=str(
            work_dir / "init_from" / Path(str(plan["config"])).stem), resume=True, test_data=(),
            label=f"{spec.label or name} (stage 1: {plan['config']})")
        first = train(stage, progress=progress)
        return dict(plan, checkpoint=first.training.checkpoint,
                    result=str(Path(stage.work_dir) / RESULT_FILE))
    src = source_spec(plan)
    stage = dataclasses.replace(spec, model=src["model"], data=src["data"], fold=src["fold"],
                                cfg_options=src["cfg_options"], resume=True, test_data=(),
                                work_dir=str(work_dir / "init_from" / src["folder"]),
                                label=f"{spec.label or name} (source: {src['folder']})")
    train(stage, progress=progress)
    return dict(plan, checkpoint=source_checkpoint(stage.work_dir, plan["source"]),
                result=str(Path(stage.work_dir) / RESULT_FILE))


def _weights_meta(cfg: Config, spec: RunSpec, cache, split: Mapping[str, tuple], aus) -> dict:
    """What a kept epoch's checkpoint says about the run that made it."""
    from auzoo.engine.checkpoint import software_versions
    return dict(model=cfg.name, config=cfg.pretty_text, dataset=cache.dataset.name,
                data=str(spec.data), data_checksum=cache.checksum, fold=spec.fold,
                train_subjects=list(split["train"]), val_subjects=list(split["val"]),
                test_subjects=list(split["test"]), seed=spec.seed, preset=spec.preset,
                img_size=int(cfg.get("img_size", 224)), aus=list(aus),
                versions=software_versions())


def _finished_result(work_dir: Path, settings: Mapping[str, Any]) -> Optional[RunResult]:
    """The result of a finished run with these settings in ``work_dir``."""
    if not (work_dir / BEST_FILE).is_file():
        return None
    result = read_result(work_dir / RESULT_FILE)
    if result is not None:
        _check_same_run(work_dir, settings)
    return result


def _resumable(work_dir: Path, settings: Mapping[str, Any], resume: bool = True) -> bool:
    """Whether to resume mmengine's state: there is one, and it was started
    with the same settings (else a clear error). ``resume=False``: a run found
    there is refused, naming the two ways on."""
    if not (work_dir / "last_checkpoint").is_file():
        return False
    if not resume:
        raise ValueError(f"{work_dir} holds an unfinished run; resume it (the default), or "
                         "start over with --force")
    _check_same_run(work_dir, settings)
    return True


def _discard_run(work_dir: Path) -> None:
    """``--force``: what a run left in ``work_dir`` goes, so training starts over."""
    _remove_resume_state(work_dir)
    for name in (BEST_FILE, RESULT_FILE, RUN_FILE):
        (work_dir / name).unlink(missing_ok=True)


def _note(text: str) -> None:
    from auzoo.utils.console import make_console

    make_console(stderr=True).print(text, markup=False, highlight=False, soft_wrap=True)


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
        raise ValueError(f"{path}: the run in this folder was started with other settings "
                         f"({detail or 'subject split'}); resume it with the same ones, "
                         "start it over with --force, or train into another folder "
                         "(auzoo train --work-dir, auzoo bench --out)")


def _remove_resume_state(work_dir: Path) -> None:
    for path in list(work_dir.glob("epoch_*.pth")) + list(work_dir.glob("best_*_epoch_*.pth")):
        path.unlink(missing_ok=True)
    (work_dir / "last_checkpoint").unlink(missing_ok=True)
    (work_dir / PREDICTIONS_FILE).unlink(missing_ok=True)
