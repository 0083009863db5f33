"""A stand-in for ``auzoo.engine.train.train`` that keeps its contract (work dir,
settings file, resume, result.json, cross-dataset scores) and trains nothing,
so the grid, the Slurm path and the reports are tested in seconds.

Scores come from :func:`fake_f1`, which the tests use for hand computations.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

from auzoo.engine.records import (AUScores, Provenance, RESULT_FILE, RunResult, Training,
                                  read_result)

DATASETS = {"disfa": (1, 2, 4, 6, 9, 12, 25, 26),
            "bp4d": (1, 2, 4, 6, 7, 10, 12, 14, 15, 17, 23, 24)}
SUBJECTS = 4  # test subjects per fold
FAIL_ENV = "FAKE_TRAIN_FAIL"   # "model:fold:seed": that cell fails before training


def dataset_of(data) -> str:
    return "bp4d" if "bp4d" in Path(data).name else "disfa"


def fake_f1(model: str, fold: int, seed: int, au: int) -> float:
    return float((len(model) * 7 + fold * 5 + seed * seed * 3 + au * 2) % 80 + 10)


def subject_f1(model: str, fold: int, seed: int, i: int) -> float:
    return float(len(model) * 3 + fold + seed * 2 + i * 4)


def baseline_f1(fold: int, au: int) -> float:
    return float(20 + fold + au % 5)


def test_subjects(fold: int):
    return [f"S{fold}{i}" for i in range(SUBJECTS)]


def scores(model, fold, seed, aus, frames=100) -> AUScores:
    f1 = {f"AU{a}": fake_f1(model, fold, seed, a) for a in aus}
    return AUScores(aus=tuple(aus), f1=f1, acc={k: 100 - v / 2 for k, v in f1.items()}, frames=frames,
                    counts={k: dict(tn=1, fp=1, fn=1, tp=1) for k in f1},
                    per_subject_f1={s: {"mean": subject_f1(model, fold, seed, i)}
                                    for i, s in enumerate(test_subjects(fold))},
                    baseline_f1={f"AU{a}": baseline_f1(fold, a) for a in aus},
                    baseline_acc={f"AU{a}": 30.0 for a in aus})


def settings(spec) -> dict:
    return dict(model=spec.model, data=spec.data, fold=spec.fold, seed=spec.seed,
                preset=spec.preset, cfg_options=spec.cfg_options, test_data=list(spec.test_data))


def fake_train(spec, progress=None) -> RunResult:
    work = Path(spec.work_dir)
    work.mkdir(parents=True, exist_ok=True)
    run = work / "run.json"
    if run.is_file() and json.loads(run.read_text()) != settings(spec):
        raise ValueError(f"{run}: the run in this work dir was started with other settings; "
                         "resume it with the same ones, or use another --work-dir")
    run.write_text(json.dumps(settings(spec)))
    done = read_result(work / RESULT_FILE)
    if done is not None:
        return done
    name = Path(spec.model).stem
    if os.environ.get(FAIL_ENV) == f"{name}:{spec.fold}:{spec.seed}":
        raise RuntimeError("the model cannot be built (a failure before training)")
    dataset = dataset_of(spec.data)
    aus = DATASETS[dataset]
    cross = {}
    for other in spec.test_data:
        shared = [a for a in aus if a in DATASETS[dataset_of(other)]]
        cross[str(other)] = dict(
            dataset=dataset_of(other), data_checksum="other", shared_aus=shared,
            left_out=dict(model_only=[a for a in aus if a not in shared],
                          data_only=[a for a in DATASETS[dataset_of(other)] if a not in aus]),
            scores=scores(name, 0, spec.seed, shared, frames=50).to_dict())
    provenance = Provenance(
        model=name, config=f"published = {name!r}\n" if name == "pinned" else "",
        dataset=dataset, data=str(spec.data), data_checksum="abc123",
        protocol=dict(aus=list(aus), synthetic="synth" in Path(spec.data).name), fold=spec.fold,
        train_subjects=[s for f in (1, 2, 3) if f != spec.fold for s in test_subjects(f)],
        val_subjects=[], test_subjects=test_subjects(spec.fold), bad_frames="drop",
        select_on="test", seed=spec.seed, img_size=64,
        schedule=dict(batch_size=32, iters_per_epoch=20), precision=dict(train="fp32"),
        backbone_init=dict(weights="random"), versions=dict(auzoo="test"), device="cpu",
        preset=spec.preset, extra=dict(demo={"optim_wrapper.optimizer.lr": 1e-4}) if spec.preset else {})
    training = Training(best_epoch=2, epochs=3, iters=60, stopped_early=False,
                        selection_f1_mean=50.0, train_time=1.0, eval_time=0.5, params=10,
                        trainable_params=8, checkpoint=str(work / "best.pth"))
    result = RunResult(scores=scores(name, spec.fold, spec.seed, aus), provenance=provenance,
                       training=training, cross=cross)
    (work / "best.pth").write_bytes(b"checkpoint")
    result.write(work / RESULT_FILE)
    return result


def ddp_fake_train(spec, progress=None):
    """Each process of a DDP cell notes the environment torch.distributed would
    read; rank 0 writes the result, as the engine does."""
    work = Path(spec.work_dir)
    work.mkdir(parents=True, exist_ok=True)
    keys = ("RANK", "LOCAL_RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")
    rank = os.environ.get("RANK", "none")
    (work / f"env_rank{rank}.json").write_text(json.dumps({k: os.environ.get(k) for k in keys}))
    return fake_train(spec, progress) if rank in ("0", "none") else None
