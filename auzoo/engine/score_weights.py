"""A bench cell that scores given weights instead of training them.

``auzoo bench MODEL --weights 'PATTERN'`` makes one such cell per fold: the
weights of fold K (an auzoo checkpoint, or the official files of a published
model, see :mod:`auzoo.engine.weight_formats`) are scored on fold K's test
subjects, refused where they trained on any of them, and the record is
written as a training run's is (``WORK_DIR/result.json`` and
``predictions.csv``), with no training part and with what was loaded in
``provenance.extra['weights']``.
"""
from __future__ import annotations

import time
from pathlib import Path

from auzoo.engine.predictions import PREDICTIONS_CSV, write_predictions_csv
from auzoo.engine.records import RESULT_FILE, Provenance, RunResult, RunSpec

# How a bench names a model scored from given weights (its cells, its rows).
WEIGHTS_SUFFIX = "@weights"


def score_weights(spec: RunSpec, progress=None) -> RunResult:
    """Score ``spec.weights`` on fold ``spec.fold`` of ``spec.data`` (and on
    ``spec.test_data``); returns the record, also written to the work dir.
    (``progress``: the bench's, unused: scoring one fold is quick.)"""
    from auzoo.data import open_cache
    from auzoo.engine.checkpoint import device_name, software_versions
    from auzoo.engine.dist import resolve_device
    from auzoo.engine.evaluate import Scoring, evaluate_loaded, score_other
    from auzoo.engine.weight_formats import load_weights

    if not spec.weights:
        raise ValueError("score_weights needs spec.weights")
    if spec.work_dir is None:
        raise ValueError("score_weights needs spec.work_dir")
    started = time.perf_counter()
    net = load_weights(list(spec.weights), model=spec.model, cfg_options=spec.cfg_options or None)
    meta = net.checkpoint_meta
    dev = resolve_device(spec.device)
    shown = ", ".join(map(str, spec.weights))
    out = evaluate_loaded(net, spec.data, fold=spec.fold, device=dev, source=shown)
    cross = {}
    for other in spec.test_data:
        cross[str(other)] = score_other(net, open_cache(other), Scoring(
            int(meta["img_size"]), dev, channels_last=dev.type == "cuda"))
    loaded = dict(meta.get("loaded_from") or {}, model=meta.get("model"),
                  fold_checked=out["fold_checked"], eval_time=time.perf_counter() - started)
    provenance = Provenance(
        model=f"{meta.get('model')}{WEIGHTS_SUFFIX}", config=str(meta.get("config", "")),
        dataset=out["dataset"], data=str(spec.data), data_checksum=out["data_checksum"],
        protocol=out["protocol"], fold=spec.fold,
        train_subjects=list(meta.get("train_subjects") or []),
        val_subjects=list(meta.get("val_subjects") or []), test_subjects=list(out["subjects"]),
        bad_frames=meta.get("bad_frames", "drop"), select_on="given weights", seed=spec.seed,
        img_size=int(meta["img_size"]), schedule={}, precision=dict(eval="fp32"),
        backbone_init={"weights": ", ".join(Path(f["file"]).name
                                            for f in loaded.get("files", []))},
        versions=software_versions(), device=device_name(dev), preset=None,
        extra=dict(weights=loaded))
    result = RunResult(scores=out["scores"], provenance=provenance, training=None, cross=cross,
                       intensity=out.get("intensity"))
    write_predictions_csv(Path(spec.work_dir) / PREDICTIONS_CSV, out["predictions"])
    result.write(Path(spec.work_dir) / RESULT_FILE)
    return result


__all__ = ["WEIGHTS_SUFFIX", "score_weights"]
