"""Scoring a model on frames of a prepared cache, through the one inference path.

:func:`predict_frames` runs :class:`~auzoo.engine.inference.Inference` over
every frame of some subjects, fed as a :class:`Scoring` says; :func:`score`
turns logits and labels into :class:`~auzoo.engine.records.AUScores` (per-AU F1 and accuracy over coded
frames, per subject, and the always-present baseline), :func:`score_intensity`
intensities into :class:`~auzoo.engine.records.IntensityScores` (ICC(3,1),
PCC, MAE, per-subject ICC, and the zero predictor). :func:`score_other`
scores a model on a dataset it was not trained on: every subject, on the AUs
both share, saying which were left out on either side.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, Optional, Sequence, Union

import numpy as np
import torch

from auzoo.data.transforms import pipeline_steps
from auzoo.engine.inference import Inference
from auzoo.engine.loaders import FramesSource, build_frames_loader, frames_loader_cfg
from auzoo.engine.predictions import Predictions
from auzoo.engine.records import AUScores, IntensityScores
from auzoo.models.tasks import has_intensity, model_task, split_output


@dataclass(frozen=True)
class Scoring:
    """How frames reach a model when it is scored.

    Args:
        img_size: the model's input size.
        device: where the model runs (a name or a ``torch.device``).
        precision: 'fp32' (default), 'bf16' or 'fp16' autocast.
        channels_last: channels-last inputs and weights (pays on a GPU).
        batch_size: frames per model call.
        num_workers: the loader's worker processes (default: the loader's).
    """

    img_size: int
    device: Union[str, torch.device] = "cpu"
    precision: str = "fp32"
    channels_last: bool = False
    batch_size: int = 256
    num_workers: Optional[int] = None


def predict_frames(model, cache, subjects: Sequence[str], aus: Sequence[int], scoring: Scoring, *,
                   data_cfg: Optional[dict] = None, columns: Optional[Sequence[int]] = None,
                   pipeline: Optional[Sequence[dict]] = None) -> Predictions:
    """Outputs of ``model`` on every frame of ``subjects`` through its test
    ``pipeline`` (steps; default: the model's config's, else TRA-Net's), split
    by its task into occurrence logits and 0-5 intensities, fed as ``scoring`` says.

    ``aus`` are the label columns read from the cache; ``columns`` (indices
    into ``model.aus``) picks the outputs that match them (default: all)."""
    device = torch.device(scoring.device)
    task = model_task(model)
    if pipeline is None:
        pipeline = pipeline_steps(getattr(model, "cfg", None), "test")
    loader = build_frames_loader(frames_loader_cfg(
        FramesSource(str(cache.root), subjects, aus, dict(data_cfg or {}), pipeline,
                     scoring.img_size, has_intensity(task)),
        dict(batch_size=scoring.batch_size, num_workers=scoring.num_workers), training=False,
        device=device))
    inference = Inference(model.to(device), scoring.img_size, precision=scoring.precision,
                          channels_last=scoring.channels_last)
    cols = None if columns is None else torch.as_tensor(list(columns), device=device)
    parts: Dict[str, list] = {k: [] for k in ("logits", "intensity", "labels", "label_mask",
                                              "index", "intensity_true", "intensity_mask")}
    for batch in loader:
        logits, intensity = split_output(inference(batch["image"], batch.get("landmarks")), task,
                                         len(model.aus))
        for key, out in (("logits", logits), ("intensity", intensity)):
            if out is not None:
                parts[key].append((out if cols is None else out[:, cols]).cpu().numpy())
        for key, name in (("labels", "labels"), ("label_mask", "label_mask"), ("index", "index"),
                          ("intensity_true", "intensity"), ("intensity_mask", "intensity_mask")):
            if batch.get(name) is not None:
                parts[key].append(np.asarray(batch[name]))
    arrays = {k: np.concatenate(v) if v else None for k, v in parts.items()}
    index_all = arrays["index"]
    return Predictions(arrays["logits"], arrays["labels"], arrays["label_mask"], index_all,
                       loader.dataset.subjects_of(index_all), tuple(aus),
                       intensity=arrays["intensity"], intensity_true=arrays["intensity_true"],
                       intensity_mask=arrays["intensity_mask"]).where(loader.dataset)


def score(logits: np.ndarray, labels: np.ndarray, mask: Optional[np.ndarray],
          subjects: Sequence[str], aus: Sequence[int]) -> AUScores:
    """Per-AU F1 / accuracy (percent) over coded frames, per subject, and the
    always-present baseline on the same frames."""
    from auzoo.engine.metrics import au_scores, binarize, constant_baseline, per_subject_f1

    s = au_scores(labels, logits, aus, mask)
    per_subject = per_subject_f1(labels, binarize(logits), subjects, aus, mask)
    base = constant_baseline(labels, mask)
    names = [f"AU{a}" for a in aus]
    pct = lambda values: {n: 100 * float(v) for n, v in zip(names, values)}  # noqa: E731
    return AUScores(
        aus=tuple(int(a) for a in aus), f1=pct(s["f1"]), acc=pct(s["acc"]), frames=s["frames"],
        counts={n: dict(zip(("tn", "fp", "fn", "tp"), map(int, c))) for n, c in zip(names, s["counts"])},
        per_subject_f1={subj: {k: (None if np.isnan(v) else 100 * float(v)) for k, v in row.items()}
                        for subj, row in per_subject.to_dict(orient="index").items()},
        baseline_f1=pct(base["f1"]), baseline_acc=pct(base["acc"]))


def _optional(values: np.ndarray, names) -> Dict[str, Optional[float]]:
    return {n: (None if not np.isfinite(v) else float(v)) for n, v in zip(names, values)}


def score_intensity(intensity: np.ndarray, labels: np.ndarray, mask: Optional[np.ndarray],
                    subjects: Sequence[str], aus: Sequence[int]) -> IntensityScores:
    """Per-AU ICC(3,1), PCC and MAE over coded frames, per-subject ICC, and the
    zero predictor on the same frames."""
    from auzoo.engine.intensity_metrics import intensity_scores, per_subject_icc, zero_baseline

    s = intensity_scores(labels, intensity, aus, mask)
    base = zero_baseline(labels, mask)
    names = [f"AU{a}" for a in aus]
    per_subject = per_subject_icc(labels, intensity, subjects, aus, mask)
    return IntensityScores(
        aus=tuple(int(a) for a in aus), icc=_optional(s["icc"], names),
        pcc=_optional(s["pcc"], names), mae=_optional(s["mae"], names),
        frames={n: int(c) for n, c in zip(names, s["frames"])},
        per_subject_icc={subj: {k: (None if np.isnan(v) else float(v)) for k, v in row.items()}
                         for subj, row in per_subject.to_dict(orient="index").items()},
        baseline_icc=_optional(base["icc"], names), baseline_pcc=_optional(base["pcc"], names),
        baseline_mae=_optional(base["mae"], names))


def score_predictions(p: Predictions) -> Optional[AUScores]:
    """Occurrence scores of ``p`` (None for a model without an occurrence head)."""
    if len(np.unique(p.index)) != len(p.index):
        raise ValueError("predictions count a frame twice")
    if p.logits is None:
        return None
    return score(p.logits, p.labels, p.mask, p.subjects, p.aus)


def score_intensity_predictions(p: Predictions) -> Optional[IntensityScores]:
    """Intensity scores of ``p`` (None for a model without an intensity head)."""
    if len(np.unique(p.index)) != len(p.index):
        raise ValueError("predictions count a frame twice")
    if p.intensity is None:
        return None
    return score_intensity(p.intensity, p.intensity_true, p.intensity_mask, p.subjects, p.aus)


def protocol_aus(dataset, task: str = "occurrence") -> tuple:
    """The AUs a dataset scores a model of ``task`` on: its occurrence
    protocol's, its intensity AUs, or (both) those in both lists."""
    if task == "occurrence":
        return tuple(dataset.aus)
    if task == "intensity":
        return tuple(dataset.intensity_aus)
    return tuple(a for a in dataset.aus if a in set(dataset.intensity_aus))


def shared_aus(model_aus: Sequence[int], dataset, task: str = "occurrence") -> Dict[str, Any]:
    """AUs a model and another dataset's protocol share, and what each side
    leaves out. The protocol's AUs, not every column the data carries: BP4D's
    files hold more AU columns than its 12, coded only in parts of it."""
    scored = protocol_aus(dataset, task)
    shared = [a for a in model_aus if a in set(scored)]
    return dict(shared_aus=shared,
                left_out=dict(model_only=[a for a in model_aus if a not in set(scored)],
                              data_only=[a for a in scored if a not in set(model_aus)]))


def score_other(model, cache, scoring: Scoring, *, data_cfg: Optional[dict] = None,
                pipeline: Optional[Sequence[dict]] = None) -> Dict[str, Any]:
    """Scores of ``model`` on every subject of a cache of another dataset, on
    the AUs both share, fed as ``scoring`` says. Raises when they share none."""
    model_aus = tuple(int(a) for a in model.aus)
    task = model_task(model)
    share = shared_aus(model_aus, cache.dataset, task)
    if not share["shared_aus"]:
        raise ValueError(f"{cache.root}: the model predicts AUs {model_aus} ({task}) and "
                         f"{cache.dataset.name} scores {protocol_aus(cache.dataset, task)}: "
                         "none shared")
    columns = [model_aus.index(a) for a in share["shared_aus"]]
    data_cfg = dict(data_cfg or {}, bad_frames=_default_policy(cache.dataset))
    predictions = predict_frames(model, cache, cache.subjects, share["shared_aus"], scoring,
                                 data_cfg=data_cfg, columns=columns, pipeline=pipeline)
    scores, intensity = score_predictions(predictions), score_intensity_predictions(predictions)
    return dict(dataset=cache.dataset.name, data=str(cache.root), data_checksum=cache.checksum,
                subjects=list(cache.subjects), **share,
                scores=scores.to_dict() if scores is not None else None,
                intensity=intensity.to_dict() if intensity is not None else None)


def _default_policy(dataset) -> str:
    policies = list(getattr(dataset, "bad_frame_policies", {"drop": ""}))
    return "drop" if "drop" in policies else policies[0]


def evaluate_checkpoint(weights, data, *, fold: Optional[int] = None, model=None,
                        device: Optional[str] = None, batch_size: int = 256,
                        precision: str = "fp32", cfg_options: Optional[dict] = None
                        ) -> Dict[str, Any]:
    """Score weights on a prepared cache: an auzoo checkpoint, or (with
    ``model`` named) a published model's official files
    (:mod:`auzoo.engine.weight_formats`).

    On the dataset they were trained on: one fold (default: the weights' own),
    refused when they trained on any of that fold's test subjects.
    On another dataset: every subject, on the AUs both share.
    Returns a dict with ``scores`` (:class:`AUScores`, None for an intensity
    model), ``intensity`` (:class:`IntensityScores`, None for an occurrence
    model), ``mode`` ('fold' / 'cross'), ``meta`` (what the weights are;
    ``meta['loaded_from']`` names the files, their format and SHA-256) and
    what was scored."""
    from auzoo.engine.weight_formats import load_weights

    net = load_weights(weights, model=model, cfg_options=cfg_options)  # read once
    shown = ", ".join(map(str, weights)) if isinstance(weights, (list, tuple)) else str(weights)
    return evaluate_loaded(net, data, fold=fold, device=device, batch_size=batch_size,
                           precision=precision, source=shown)


def evaluate_loaded(net, data, *, fold: Optional[int] = None, device: Optional[str] = None,
                    batch_size: int = 256, precision: str = "fp32", source: str = "the weights"
                    ) -> Dict[str, Any]:
    """:func:`evaluate_checkpoint` for a model already loaded (``net.checkpoint_meta``)."""
    import warnings

    from auzoo.data import open_cache
    from auzoo.engine.checkpoint import CheckpointError
    from auzoo.engine.dist import resolve_device

    meta = net.checkpoint_meta
    cache = open_cache(data)
    dev = resolve_device(device)
    img_size = int(meta["img_size"])
    # channels-last on a GPU: model and inputs alike (Inference)
    scoring = Scoring(img_size, dev, precision=precision, channels_last=dev.type == "cuda",
                      batch_size=batch_size)
    trained_on = set(meta.get("train_subjects", [])) | set(meta.get("val_subjects", []))
    # official weights whose dataset nothing says are scored only on a fold asked for
    own_dataset = meta.get("dataset", "disfa") in (cache.dataset.name, None)
    if own_dataset and not trained_on and fold is None:
        raise CheckpointError(
            f"{source}: the weights do not say which {cache.dataset.name} subjects they were "
            "trained on; give --fold K to score fold K (auzoo cannot then check that they did "
            "not train on its test subjects)")
    same_dataset = own_dataset and bool(trained_on & set(cache.subjects)) or fold is not None
    if not same_dataset:
        other = score_other(net, cache, scoring)
        other["scores"] = AUScores.from_dict(other["scores"]) if other["scores"] else None
        other["intensity"] = (IntensityScores.from_dict(other["intensity"])
                              if other["intensity"] else None)
        return dict(mode="cross", meta=meta, **other)
    fold = int(fold if fold is not None else meta.get("fold"))
    _, test = cache.fold_subjects(fold)
    seen = sorted(set(test) & trained_on)
    if seen:
        raise CheckpointError(
            f"{source}: refusing to score fold {fold}: the weights (fold {meta.get('fold')}) "
            f"were trained on its test subject(s) {', '.join(seen)}. Score them on fold "
            f"{meta.get('fold')}, the fold they held out.")
    if meta.get("data_checksum") and cache.checksum != meta["data_checksum"]:
        warnings.warn(f"{data}: data checksum {cache.checksum} differs from the one {source} "
                      f"was trained on ({meta['data_checksum']}); the scores are not comparable "
                      "to its training result", RuntimeWarning, stacklevel=2)
    aus = tuple(int(a) for a in net.aus)
    data_cfg = dict(bad_frames=meta.get("bad_frames", "drop"),
                    threshold=(meta.get("protocol") or {}).get("threshold"))
    pipeline = pipeline_steps(getattr(net, "cfg", None), "test")  # the model's own test view
    predictions = predict_frames(net, cache, test, aus, scoring, data_cfg=data_cfg,
                                 pipeline=pipeline)
    return dict(mode="fold", meta=meta, fold=fold, dataset=cache.dataset.name, data=str(data),
                img_size=img_size, pipeline=pipeline,
                data_checksum=cache.checksum, subjects=list(test), fold_checked=bool(trained_on),
                protocol=cache.describe(fold, data_cfg["bad_frames"], data_cfg["threshold"]),
                scores=score_predictions(predictions),
                intensity=score_intensity_predictions(predictions), predictions=predictions)
