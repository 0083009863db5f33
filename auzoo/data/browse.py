"""``auzoo browse``: a model's inputs, as its pipeline makes them, written to a folder.

The images are exactly what the model receives (before its backbone's
normalisation): the recipe's alignment from the cache's loose crop, its crops,
flips and jitter, and the resize to the model's ``img_size``. ``samples.json``
says, per image, which frame it is, its size, the landmarks in its pixels
(for models that use landmarks) and every step applied with what it drew.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, Mapping, Optional

import cv2
import numpy as np

SPLITS = ("train", "test")


def _uses_landmarks(cfg) -> bool:
    from auzoo.registry import MODELS, ensure_loaded

    ensure_loaded()
    cls = MODELS.get(cfg.model.get("type")) if cfg.get("model") else None
    return bool(getattr(cls, "requires_landmarks", False)
                or getattr(cls, "trains_on_landmarks", False))


def browse(model, data, out, *, split: str = "test", n: int = 16, seed: int = 0,
           fold: int = 1, cfg_options: Optional[Mapping[str, Any]] = None) -> Dict[str, Any]:
    """Write ``n`` inputs of ``model`` from ``data`` (a cache) to ``out``; returns samples.json's dict.

    The frames are drawn (seeded) from the ``split`` subjects of ``fold``; a
    training split goes through the training pipeline (its random steps seeded
    per image), the test split through the test pipeline.
    """
    from auzoo.config import apply_overrides, load_config, model_name
    from auzoo.data import open_cache
    from auzoo.data.au_frames import AUFrames
    from auzoo.data.transforms import pipeline_steps

    if split not in SPLITS:
        raise ValueError(f"--split is one of {', '.join(SPLITS)}, not {split!r}")
    if n < 1:
        raise ValueError(f"--n must be at least 1, not {n}")
    cfg = apply_overrides(load_config(model), cfg_options or {})
    cache = open_cache(data)
    train, test = cache.fold_subjects(fold)
    subjects = train if split == "train" else test
    img_size = int(cfg.get("img_size", 224))
    steps = pipeline_steps(cfg, split)
    bad_frames = (cfg.get("data") or {}).get("bad_frames", "drop")
    frames = AUFrames(cache, subjects, aus=None, bad_frames=bad_frames, pipeline=steps,
                      img_size=img_size)
    rng = np.random.default_rng(seed)
    picks = np.sort(rng.choice(len(frames), size=min(n, len(frames)), replace=False))
    with_points = _uses_landmarks(cfg)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    samples = []
    for k, i in enumerate(picks):
        result = frames.sample(int(i), np.random.default_rng([seed, int(i)]))
        subject, frame = str(frames.rows.subject[i]), int(frames.rows.frame[i])
        name = f"{k:03d}_{subject}_{frame}.png"
        cv2.imwrite(str(out / name), cv2.cvtColor(result["img"], cv2.COLOR_RGB2BGR))
        entry = dict(file=name, subject=subject, frame=frame,
                     size=list(result["img"].shape[:2]), flipped=result["flipped"],
                     pipeline=result["steps"])
        if with_points:
            pts = result["landmarks"].astype(float)
            entry["landmarks"] = [None if not np.isfinite(p).all() else [round(p[0], 3),
                                                                       round(p[1], 3)]
                                  for p in pts]
        samples.append(entry)
    doc = dict(model=model_name(cfg) if not isinstance(model, str) else model,
               data=str(cache.root), dataset=cache.dataset.name, fold=fold, split=split,
               seed=seed, img_size=img_size, landmarks_scheme="66 points (DISFA)" if with_points
               else None, pipeline=steps, samples=samples)
    (out / "samples.json").write_text(json.dumps(doc, indent=1) + "\n")
    return doc
