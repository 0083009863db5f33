"""The end of a training run: the chosen epoch becomes ``best.pth``, is scored
on the test subjects (and on other datasets), and ``result.json`` and
``predictions.csv`` (every test frame's labels and predictions) are written."""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Dict, Mapping

import numpy as np
import torch
from mmengine.config import Config
from mmengine.model import is_model_wrapper

from auzoo.data.transforms import pipeline_steps
from auzoo.engine.checkpoint import (device_name, mmengine_safe_globals, save_checkpoint,
                                     software_versions)
from auzoo.engine.evaluate import (Scoring, predict_frames, score_intensity_predictions,
                                   score_other, score_predictions)
from auzoo.engine.init import init_statement
from auzoo.engine.predictions import PREDICTIONS_CSV, Predictions, write_predictions_csv
from auzoo.engine.runner import selection_key
from auzoo.engine.records import (BEST_FILE, PREDICTIONS_FILE, RESULT_FILE, Provenance, RunResult,
                                  RunSpec, Training)
from auzoo.engine.settings import schedule_record


def _load_best(runner, net) -> Dict[str, Any]:
    best_path = runner.message_hub.get_info("best_ckpt")
    if not best_path or not Path(best_path).is_file():
        raise RuntimeError(f"{runner.work_dir}: training ended without a scored epoch")
    with mmengine_safe_globals():
        mm = torch.load(best_path, map_location="cpu", weights_only=True)
    prefix = "model."
    net.load_state_dict({k[len(prefix):]: v for k, v in mm["state_dict"].items()
                         if k.startswith(prefix)})
    return dict(epoch=int(mm["meta"]["epoch"]),
                score=float(mm["message_hub"]["runtime_info"].get("best_score", float("nan"))))


def _saved_predictions(path: Path, epoch: int, dataset, aus) -> Predictions:
    """The best epoch's validation predictions of every test frame (saved when
    the epoch is chosen on the test fold: no need to score it again)."""
    with np.load(path) as npz:
        if int(npz["epoch"]) != epoch:
            raise RuntimeError(f"{path} holds epoch {int(npz['epoch'])}, not the best epoch {epoch}")
        arrays = {k: npz[k] for k in npz.files}
    index = arrays["index"]
    if "labels" not in arrays:   # an intensity run: the occurrence labels from the dataset served
        arrays["labels"], arrays["label_mask"] = dataset.labels[index], dataset.mask[index]
    return Predictions(arrays.get("logits"), arrays["labels"], arrays["label_mask"], index,
                       dataset.subjects_of(index), tuple(aus),
                       intensity=arrays.get("intensity_pred"),
                       intensity_true=arrays.get("intensity"),
                       intensity_mask=arrays.get("intensity_mask")).where(dataset)


def finish_run(runner, cfg: Config, spec: RunSpec, *, cache, split: Mapping[str, tuple],
               device) -> RunResult:
    """Score the best epoch of a trained ``runner`` on the test subjects of
    ``split`` (and ``spec.test_data``) and write its files in the runner's
    work dir: ``best.pth``, ``result.json`` and ``predictions.csv`` (from the
    best epoch's saved validation predictions where it was chosen on them)."""
    module = runner.model.module if is_model_wrapper(runner.model) else runner.model
    net = module.model
    work_dir = Path(runner.work_dir)
    best = _load_best(runner, net)
    scoring = Scoring(module.img_size, device, precision=module.eval_precision,
                      channels_last=module.channels_last,
                      batch_size=int(cfg.val_dataloader.batch_size))
    data_cfg, pipeline = dict(cfg.get("data") or {}), pipeline_steps(cfg, "test")
    started = time.perf_counter()
    saved = work_dir / PREDICTIONS_FILE
    if cfg.get("select_on", "test") == "test" and saved.is_file():
        predictions = _saved_predictions(saved, best["epoch"], runner.val_dataloader.dataset, net.aus)
    else:
        predictions = predict_frames(net, cache, split["test"], net.aus, scoring,
                                     data_cfg=data_cfg, pipeline=pipeline)
    scores, intensity = score_predictions(predictions), score_intensity_predictions(predictions)
    write_predictions_csv(work_dir / PREDICTIONS_CSV, predictions)
    cross = {str(other): score_other(net, _open(other), scoring, data_cfg=data_cfg,
                                     pipeline=pipeline)
             for other in spec.test_data}
    eval_time = time.perf_counter() - started

    provenance = Provenance(
        model=cfg.name, config=cfg.pretty_text, dataset=cache.dataset.name, data=str(spec.data),
        data_checksum=cache.checksum,
        protocol=cache.describe(spec.fold, data_cfg.get("bad_frames", "drop"),
                                data_cfg.get("threshold")),
        fold=spec.fold, train_subjects=list(split["train"]), val_subjects=list(split["val"]),
        test_subjects=list(split["test"]), bad_frames=data_cfg.get("bad_frames", "drop"),
        select_on=cfg.get("select_on", "test"), seed=spec.seed, img_size=module.img_size,
        schedule=schedule_record(cfg),
        precision=dict(train=module.train_precision, eval=module.eval_precision,
                       channels_last=str(module.channels_last), compile=str(cfg.get("compile", False))),
        backbone_init=dict(getattr(module, "backbone_init", {}) or {}),
        versions=software_versions(), device=device_name(device),
        world_size=int(runner.world_size), preset=spec.preset,
        extra=dict(applied=dict(cfg.get("applied") or {}),
                   init_from=module.init_from_record if module.init_from_record else None,
                   init=init_statement(cfg, cache.dataset.name, module.init_from_record)))
    loop = runner.train_loop
    timer = next(h for h in runner.hooks if type(h).__name__ == "TrainTimeHook")
    training = Training(
        best_epoch=best["epoch"], epochs=int(loop.epoch), iters=int(loop.iter),
        stopped_early=bool(loop.stop_training), selection_f1_mean=best["score"],
        selected_by=selection_key(cfg),
        train_time=float(timer.total), eval_time=eval_time,
        params=sum(p.numel() for p in net.parameters()),
        trainable_params=sum(p.numel() for p in net.parameters() if p.requires_grad),
        checkpoint=str(work_dir / BEST_FILE))
    result = RunResult(scores=scores, provenance=provenance, training=training, cross=cross,
                       intensity=intensity)
    best_meta = dict(epoch=best["epoch"], selected_on=provenance.select_on,
                     selected_by=training.selected_by, selection_f1_mean=best["score"])
    if scores is not None:
        best_meta.update(f1_mean=scores.f1_mean, acc_mean=scores.acc_mean)
    if intensity is not None:
        best_meta.update(icc_mean=intensity.icc_mean, pcc_mean=intensity.pcc_mean,
                         mae_mean=intensity.mae_mean)
    meta = dict(provenance.__dict__, aus=list(net.aus), task=result.task, best=best_meta)
    save_checkpoint(work_dir / BEST_FILE, net.state_dict(), meta)
    result.write(work_dir / RESULT_FILE)
    return result


def _open(path):
    from auzoo.data import open_cache
    return open_cache(path)
