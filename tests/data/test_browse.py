"""``auzoo browse``: the images a model receives, and what made them."""
from __future__ import annotations

import json

import cv2
import numpy as np

from auzoo.cli import main
from auzoo.data.align import five_points


def _read(out):
    doc = json.loads((out / "samples.json").read_text())
    images = [cv2.imread(str(out / s["file"]))[..., ::-1] for s in doc["samples"]]
    return doc, images


def test_browse_jaanet_test_view_shows_its_geometry(cache_dir, tmp_path):
    out = tmp_path / "jaanet"
    assert main(["browse", "jaanet", "--data", str(cache_dir), "--split", "test", "--n", "6",
                 "--out", str(out)]) == 0
    doc, images = _read(out)
    assert doc["split"] == "test" and doc["img_size"] == 176 and len(images) == 6
    assert [s["type"] for s in doc["pipeline"]] == ["AlignEyeBox", "CenterCrop"]
    for sample, img in zip(doc["samples"], images):
        assert img.shape == (176, 176, 3) and sample["size"] == [176, 176]
        steps = [s["type"] for s in sample["pipeline"]]
        assert steps == ["AlignEyeBox", "CenterCrop", "Resize"]
        pts = np.array([[np.nan, np.nan] if p is None else p for p in sample["landmarks"]])
        p = five_points(pts)
        assert abs(p[1, 1] - p[0, 1]) < 1e-2                       # eye line level
        lo, hi = p.min(0), p.max(0)
        assert abs(max(hi - lo) - 199 / 2.9) < 1e-2                # the 5-point box, 200/2.9 px
        np.testing.assert_allclose((lo + hi) / 2, [87.5, 87.5], atol=1e-2)   # centred
    # test views are deterministic
    again = tmp_path / "again"
    main(["browse", "jaanet", "--data", str(cache_dir), "--n", "6", "--out", str(again)])
    assert _read(again)[0]["samples"] == doc["samples"]


def test_browse_train_views_jitter_and_tranet_has_no_landmarks(cache_dir, tmp_path):
    out = tmp_path / "mg"
    assert main(["browse", "megraphau_r50", "--data", str(cache_dir), "--split", "train",
                 "--n", "12", "--seed", "3", "--out", str(out)]) == 0
    doc, images = _read(out)
    offsets = [s["pipeline"][1]["offset"] for s in doc["samples"]]
    assert all(0 <= o <= 32 for off in offsets for o in off) and len({tuple(o) for o in offsets}) > 3
    assert any(s["flipped"] for s in doc["samples"]) and not all(s["flipped"] for s in doc["samples"])
    assert all(s["pipeline"][3]["type"] == "ColorJitter" for s in doc["samples"])
    assert "landmarks" not in doc["samples"][0]          # ME-GraphAU does not use landmarks
    # the test view: the centre 224 of the 256 face
    test = tmp_path / "mgt"
    main(["browse", "megraphau_r50", "--data", str(cache_dir), "--n", "2", "--out", str(test)])
    steps = _read(test)[0]["samples"][0]["pipeline"]
    assert steps[:2] == [dict(type="AlignFivePoint", size=256, border=0),
                         dict(type="CenterCrop", size=224)]
    tranet = tmp_path / "tranet"
    main(["browse", "tranet", "--data", str(cache_dir), "--n", "2", "--out", str(tranet),
          "--cfg-options", "img_size=64"])
    doc, images = _read(tranet)
    assert images[0].shape == (64, 64, 3) and doc["pipeline"][0]["type"] == "AlignMidline"


def test_browse_refuses_bad_arguments(cache_dir, tmp_path, capsys):
    assert main(["browse", "tranet", "--data", str(cache_dir), "--n", "0",
                 "--out", str(tmp_path / "x")]) == 2
    assert "--n must be at least 1" in capsys.readouterr().err
