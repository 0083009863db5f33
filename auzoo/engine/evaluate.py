"""Scoring a model on frames of a prepared cache, through the one inference path.

:func:`predict_frames` runs :class:`~auzoo.engine.inference.Inference` over
every frame of some subjects; :func:`score` turns logits and labels into
:class:`~auzoo.engine.records.AUScores` (per-AU F1 and accuracy over coded
frames, per subject, and the always-present baseline). :func:`score_other`
scores a model on a dataset it was not trained on: every subject, on the AUs
both share, saying which were left out on either side.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, Optional, Sequence

import numpy as np
import torch

from auzoo.data.transforms import pipeline_steps
from auzoo.engine.inference import Inference
from auzoo.engine.loaders import build_frames_loader, frames_loader_cfg
from auzoo.engine.records import AUScores


@dataclass
class Predictions:
    logits: np.ndarray      # (n, A) float32, in ``aus`` order
    labels: np.ndarray      # (n, A) 0/1
    mask: np.ndarray        # (n, A) bool, False = not coded
    index: np.ndarray       # (n,) dataset rows
    subjects: np.ndarray    # (n,) subject of each row
    aus: tuple


def predict_frames(model, cache, subjects: Sequence[str], aus: Sequence[int], *, img_size: int,
                   device, precision: str = "fp32", channels_last: bool = False,
                   batch_size: int = 256, data_cfg: Optional[dict] = None,
                   num_workers: Optional[int] = None, columns: Optional[Sequence[int]] = None,
                   pipeline: Optional[Sequence[dict]] = None) -> Predictions:
    """Logits of ``model`` on every frame of ``subjects`` through its test ``pipeline``
    (steps; default: the model's config's, else TRA-Net's).

    ``aus`` are the label columns read from the cache; ``columns`` (indices
    into ``model.aus``) picks the logits that match them (default: all)."""
    device = torch.device(device)
    if pipeline is None:
        pipeline = pipeline_steps(getattr(model, "cfg", None), "test")
    loader = build_frames_loader(
        frames_loader_cfg(str(cache.root), subjects, aus, dict(data_cfg or {}),
                          dict(batch_size=batch_size, num_workers=num_workers), training=False,
                          pipeline=pipeline, img_size=img_size)
        ["frames"], seed=0, device=device)
    inference = Inference(model.to(device), img_size, precision=precision,
                          channels_last=channels_last)
    cols = None if columns is None else torch.as_tensor(list(columns), device=device)
    logits, labels, mask, index = [], [], [], []
    for batch in loader:
        out = inference(batch["image"], batch.get("landmarks"))
        if cols is not None:
            out = out[:, cols]
        logits.append(out.cpu().numpy())
        labels.append(np.asarray(batch["labels"]))
        mask.append(np.asarray(batch["label_mask"]))
        index.append(np.asarray(batch["index"]))
    index_all = np.concatenate(index)
    return Predictions(np.concatenate(logits), np.concatenate(labels), np.concatenate(mask),
                       index_all, loader.dataset.subjects_of(index_all), tuple(aus))


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


def score_predictions(p: Predictions) -> AUScores:
    if len(np.unique(p.index)) != len(p.index):
        raise ValueError("predictions count a frame twice")
    return score(p.logits, p.labels, p.mask, p.subjects, p.aus)


def shared_aus(model_aus: Sequence[int], dataset) -> Dict[str, Any]:
    """AUs a model and another dataset's protocol share, and what each side
    leaves out. The protocol's AUs, not every column the data carries: BP4D's
    files hold more AU columns than its 12, coded only in parts of it."""
    coded = set(dataset.aus)
    shared = [a for a in model_aus if a in coded]
    return dict(shared_aus=shared,
                left_out=dict(model_only=[a for a in model_aus if a not in coded],
                              data_only=[a for a in dataset.aus if a not in set(model_aus)]))


def score_other(model, cache, *, img_size: int, device, precision: str = "fp32",
                channels_last: bool = False, batch_size: int = 256,
                data_cfg: Optional[dict] = None,
                pipeline: Optional[Sequence[dict]] = None) -> Dict[str, Any]:
    """Scores of ``model`` on every subject of a cache of another dataset, on
    the AUs both share. Raises when they share none."""
    model_aus = tuple(int(a) for a in model.aus)
    share = shared_aus(model_aus, cache.dataset)
    if not share["shared_aus"]:
        raise ValueError(f"{cache.root}: the model predicts AUs {model_aus} and "
                         f"{cache.dataset.name} scores {tuple(cache.dataset.aus)}: none shared")
    columns = [model_aus.index(a) for a in share["shared_aus"]]
    data_cfg = dict(data_cfg or {}, bad_frames=_default_policy(cache.dataset))
    predictions = predict_frames(model, cache, cache.subjects, share["shared_aus"],
                                 img_size=img_size, device=device, precision=precision,
                                 channels_last=channels_last, batch_size=batch_size,
                                 data_cfg=data_cfg, columns=columns, pipeline=pipeline)
    return dict(dataset=cache.dataset.name, data=str(cache.root), data_checksum=cache.checksum,
                subjects=list(cache.subjects), **share,
                scores=score_predictions(predictions).to_dict())


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
    Returns a dict with ``scores`` (:class:`AUScores`), ``mode``
    ('fold' / 'cross'), ``meta`` (what the weights are; ``meta['loaded_from']``
    names the files, their format and SHA-256) and what was scored."""
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
    from auzoo.engine.runner import resolve_device

    meta = net.checkpoint_meta
    cache = open_cache(data)
    dev = resolve_device(device)
    img_size = int(meta["img_size"])
    channels_last = dev.type == "cuda"  # model and inputs alike (Inference)
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
        other = score_other(net, cache, img_size=img_size, device=dev, precision=precision,
                            channels_last=channels_last, batch_size=batch_size)
        other["scores"] = AUScores.from_dict(other["scores"])
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
    predictions = predict_frames(net, cache, test, aus, img_size=img_size, device=dev,
                                 precision=precision, channels_last=channels_last,
                                 batch_size=batch_size, data_cfg=data_cfg, pipeline=pipeline)
    return dict(mode="fold", meta=meta, fold=fold, dataset=cache.dataset.name, data=str(data),
                img_size=img_size, pipeline=pipeline,
                data_checksum=cache.checksum, subjects=list(test), fold_checked=bool(trained_on),
                protocol=cache.describe(fold, data_cfg["bad_frames"], data_cfg["threshold"]),
                scores=score_predictions(predictions))
