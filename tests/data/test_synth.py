"""The synthetic DISFA: deterministic, every AU visible in its own region."""
from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest

from auzoo.data.datasets.disfa import DISFA, DISFA_LABELLED_AUS
from auzoo.data.datasets.disfa.synth import synth_disfa
from auzoo.data.synth import AU_MOTION, au_timeline, read_frame_code
from auzoo.data.synth.draw import draw_frame_code

from .conftest import FRAMES

BROWS, EYES = set(range(17, 27)), set(range(36, 48))
NOSE, MOUTH, JAW = set(range(27, 36)), set(range(48, 66)), set(range(0, 17))
REGION = {1: BROWS, 2: BROWS, 4: BROWS, 5: EYES | BROWS, 6: EYES | JAW, 9: NOSE | BROWS | MOUTH,
          12: MOUTH, 15: MOUTH, 17: MOUTH | JAW, 20: MOUTH, 25: MOUTH, 26: MOUTH | JAW}


def tree_digest(root):
    h = hashlib.sha256()
    for p in sorted(root.rglob("*")):
        if p.is_file():
            h.update(str(p.relative_to(root)).encode())
            h.update(p.read_bytes())
    return h.hexdigest()


def test_same_seed_same_bytes(tmp_path):
    kw = dict(subjects=2, frames=48, width=128, height=96)
    a = tree_digest(synth_disfa(tmp_path / "a", seed=11, workers=1, **kw))
    b = tree_digest(synth_disfa(tmp_path / "b", seed=11, workers=2, **kw))
    c = tree_digest(synth_disfa(tmp_path / "c", seed=12, workers=1, **kw))
    assert a == b != c


def test_each_au_moves_only_its_own_region():
    for i, au in enumerate(DISFA_LABELLED_AUS):
        moved = set(np.flatnonzero(np.abs(AU_MOTION[i]).sum(1) > 0))
        assert moved, au
        assert moved <= REGION[au], (au, sorted(moved - REGION[au]))
    upper = [DISFA_LABELLED_AUS.index(a) for a in (1, 2, 4)]
    lower = [DISFA_LABELLED_AUS.index(a) for a in (12, 25, 26)]
    assert not np.abs(AU_MOTION[upper][:, sorted(MOUTH | JAW)]).any()
    assert not np.abs(AU_MOTION[lower][:, sorted(BROWS | EYES)]).any()
    # left and right halves move as mirror images
    from auzoo.data.align import FLIP_PERMUTATION_66
    mirrored = AU_MOTION[:, FLIP_PERMUTATION_66] * (-1, 1)
    np.testing.assert_allclose(mirrored, AU_MOTION)


@pytest.mark.parametrize("n", [48, 60, 300])
def test_every_evaluated_au_shows_in_every_subject(n):
    evaluated = [DISFA_LABELLED_AUS.index(a) for a in DISFA.aus]
    for seed in range(20):
        labels = au_timeline(np.random.default_rng(seed), n)
        assert labels.shape == (n, 12) and labels.max() <= 5
        assert ((labels[:, evaluated] >= 2).sum(0) >= 3).all()
        assert (labels == 0).all(1).any() or n < 100      # quiet moments too
        if n >= 300:  # episodes long enough to rise and fall in small steps
            assert np.abs(np.diff(labels.astype(int), axis=0)).max() <= 2


def test_frame_code_round_trip():
    img = np.zeros((96, 128, 3), np.uint8)
    for k in (0, 1, 4844, 65535):
        draw_frame_code(img, k)
        assert read_frame_code(img) == k


def test_marker_and_quirks_plan(synth_root):
    marker = json.loads((synth_root / "auzoo_synth.json").read_text())
    assert marker["frames"] == FRAMES and len(marker["subjects"]) == 27
    assert marker["subjects"]["SN010"]["label_lines"] == FRAMES - 1
    assert marker["subjects"]["SN012"]["video_frames"] == FRAMES - 1


def test_arguments_are_checked(tmp_path):
    with pytest.raises(ValueError, match="at least 48"):
        synth_disfa(tmp_path, frames=10)
    with pytest.raises(ValueError, match="1-27"):
        synth_disfa(tmp_path, subjects=28)
