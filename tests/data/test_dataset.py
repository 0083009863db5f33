"""The training dataset: labels, policy, the pipeline, batched fetch, DataLoader."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from auzoo.data.align import FLIP_PERMUTATION_66
from auzoo.data.au_frames import AUFrames, collate_batch, make_loader
from auzoo.data.transforms import build_pipeline
from auzoo.engine.inference import scale_landmarks, to_model_input
from auzoo.data.datasets.disfa import DISFA

from .conftest import SIZE

TRAIN = [dict(type="AlignMidline", size=SIZE), dict(type="RandomFlip", prob=0.5)]
TEST = [dict(type="AlignMidline", size=SIZE)]

fold_subjects = DISFA.fold_subjects


def test_rows_labels_and_policies(cache):
    train, test = fold_subjects(1)
    ds = AUFrames(cache, train, bad_frames="drop")
    rows = DISFA.select_frames(cache.index, train, "drop")
    assert len(ds) == len(rows)
    np.testing.assert_array_equal(ds.labels, DISFA.labels(rows)[0])
    assert ds.mask.all() and ds.mask.shape == ds.labels.shape
    assert ds.labels.dtype == np.float32
    # SN002's frame without landmarks is dropped under both policies (no image)
    assert not ((ds.rows.subject == "SN002") & (ds.rows.frame == 16)).any()
    keep = AUFrames(cache, train, bad_frames="keep")
    assert len(keep) == len(ds)          # no Error_LOG frames in the short synthetic videos
    with pytest.raises(KeyError, match="SN099"):
        AUFrames(cache, ["SN099"])


def test_batched_fetch_matches_single_items(cache):
    ds = AUFrames(cache, ["SN001", "SN031"], pipeline=TEST)
    indices = [50, 3, 3, 70, 0]
    batch = ds.__getitems__(indices)
    assert batch["image"].shape == (5, SIZE, SIZE, 3) and batch["image"].dtype == torch.uint8
    assert batch["labels"].shape == (5, 8) and batch["landmarks"].shape == (5, 66, 2)
    pipeline = build_pipeline(TEST)
    for j, i in enumerate(indices):
        item = ds[i]
        s, k = ds.rows.subject[i], ds.rows.frame[i]
        assert item["subject"] == batch["subject"][j] == s and int(item["frame"]) == k
        want = pipeline(cache.frames(s)[k], cache.landmarks(s)[k], valid=tuple(cache.frame_boxes(s)[k]))
        np.testing.assert_array_equal(batch["image"][j].numpy(), want["img"])
        np.testing.assert_array_equal(item["image"].numpy(), want["img"])
        np.testing.assert_allclose(batch["landmarks"][j].numpy(), want["landmarks"], atol=1e-4)
    assert not batch["flipped"].any()
    # the output is the model's input size, whatever the cache keeps
    small = AUFrames(cache, ["SN001"], pipeline=TEST, img_size=48)
    assert small.size == 48 and small.__getitems__([0])["image"].shape == (1, 48, 48, 3)


def test_flip_mirrors_image_and_landmarks(cache):
    ds = AUFrames(cache, ["SN005"], pipeline=TRAIN)
    plain = AUFrames(cache, ["SN005"], pipeline=TEST).__getitems__(list(range(40)))
    torch.manual_seed(0)
    batch = ds.__getitems__(list(range(40)))
    flipped = batch["flipped"].numpy()
    assert 5 < flipped.sum() < 35
    for j in range(40):
        src, pts = plain["image"][j].numpy(), plain["landmarks"][j].numpy()
        img, lm = batch["image"][j].numpy(), batch["landmarks"][j].numpy()
        if flipped[j]:
            # one warp with the mirror folded in: the mirrored face, up to rounding
            assert np.abs(img.astype(int) - src[:, ::-1]).max() <= 1
            # the subject's left eye outer corner (36) is now where the mirrored 45 was
            np.testing.assert_allclose(lm[36], [SIZE - 1 - pts[45, 0], pts[45, 1]], atol=1e-3)
            np.testing.assert_allclose(lm[FLIP_PERMUTATION_66, 1], pts[:, 1], atol=1e-3)
            assert lm[36, 0] < lm[45, 0]             # still image-left of the right-eye corner
        else:
            np.testing.assert_array_equal(img, src)
            np.testing.assert_allclose(lm, pts, atol=1e-4)
    np.testing.assert_array_equal(batch["labels"].numpy(), ds.labels[:40])   # AUs are bilateral


def test_loader_for_training_and_for_evaluation(cache):
    train, test = fold_subjects(2)
    ds = AUFrames(cache, train, pipeline=TRAIN)
    loader = make_loader(ds, batch_size=64, iters_per_epoch=3, seed=0)
    batches = list(loader)
    assert len(batches) == 3 and all(b["image"].shape[0] == 64 for b in batches)
    loader.batch_sampler.set_epoch(0)
    again = [b["frame"] for b in loader]
    assert all(torch.equal(a["frame"], b) for a, b in zip(batches, again))
    # DDP rank 1 of 2 gets half of each global batch (32 a rank), rows 32:64 of it
    from auzoo.data.sampler import AUWeightedBatchSampler, labelled_frames

    frames = labelled_frames(ds.labels, ds.mask, ds.aus, seed=0)
    half = AUWeightedBatchSampler(frames, batch_size=32, iters_per_epoch=3, world_size=2, rank=1)
    assert list(half)[0] == loader.batch_sampler.global_batches(0)[0][32:].tolist()
    # evaluation: every frame once, in order
    ev = AUFrames(cache, test)
    frames = torch.cat([b["frame"] for b in make_loader(ev, batch_size=50, iters_per_epoch=None)])
    np.testing.assert_array_equal(frames.numpy(), ev.frame)


@pytest.mark.parametrize("start", ["spawn", "forkserver"])
def test_loader_with_worker_processes_under_spawn(cache, start):
    """Workers that do not fork (Python 3.14's default, macOS) unpickle the dataset."""
    import pickle

    ds = AUFrames(cache, ["SN001", "SN002"], aus=(12, 6), pipeline=TRAIN)
    clone = pickle.loads(pickle.dumps(ds))
    assert clone.aus == (12, 6) and len(clone) == len(ds)
    sampler = torch.utils.data.BatchSampler(range(len(ds)), batch_size=8, drop_last=False)
    loader = torch.utils.data.DataLoader(ds, batch_sampler=sampler, collate_fn=collate_batch,
                                         num_workers=2, multiprocessing_context=start)
    batches = list(loader)
    assert sum(b["image"].shape[0] for b in batches) == len(ds)
    got = torch.cat([b["index"] for b in batches]).numpy()
    np.testing.assert_array_equal(got, np.arange(len(ds)))
    first = batches[0]
    want = ds.sample(3, np.random.default_rng(0))
    if bool(first["flipped"][3]) == want["flipped"]:
        np.testing.assert_array_equal(first["image"][3].numpy(), want["img"])
    np.testing.assert_array_equal(first["labels"].numpy(), ds.labels[:8])


def test_labels_follow_the_aus_asked_for(cache):
    train, _ = fold_subjects(1)
    base = AUFrames(cache, train)
    rev = AUFrames(cache, train, aus=(26, 25, 12, 9, 6, 4, 2, 1))
    np.testing.assert_array_equal(rev.labels, base.labels[:, ::-1])
    smile = AUFrames(cache, train, aus=(6, 12))
    assert smile.aus == (6, 12) and smile.labels.shape == (len(base), 2)
    np.testing.assert_array_equal(smile.labels, base.labels[:, [3, 5]])
    five = AUFrames(cache, train, aus=(5,))            # coded by DISFA, though not scored
    assert five.labels.shape == (len(base), 1)
    batch = smile.__getitems__([0, 5])
    assert batch["labels"].shape == batch["label_mask"].shape == (2, 2)
    with pytest.raises(ValueError, match=r"asked for AUs \[6, 7\].*codes AUs"):
        AUFrames(cache, train, aus=(6, 7))
    c_level = AUFrames(cache, train, threshold=3)
    assert c_level.labels.sum() < base.labels.sum()
    assert c_level.describe(fold=1)["positive"] == "intensity >= 3"
    names = base.subjects_of([0, len(base) - 1])
    assert list(names) == [base.rows.subject[0], base.rows.subject[len(base) - 1]]


def test_model_input_and_landmark_scaling(cache):
    ds = AUFrames(cache, ["SN001"], pipeline=TEST)
    images = ds.__getitems__([0, 1])["image"]
    x = to_model_input(images)
    assert x.shape == (2, 3, SIZE, SIZE) and x.dtype == torch.float32
    assert 0 <= float(x.min()) and float(x.max()) <= 1
    torch.testing.assert_close(x[1, 0], images[1, ..., 0].float() / 255)   # channel 0 is R
    y = to_model_input(images, size=56)
    assert y.shape == (2, 3, 56, 56)
    pts = torch.tensor([[0.0, 0.0], [SIZE - 1.0, SIZE - 1.0], [(SIZE - 1) / 2, 3.0]])
    out = scale_landmarks(pts, SIZE, 56)
    torch.testing.assert_close(out[2, 0], torch.tensor(27.5))
    assert float(out[1, 0]) == pytest.approx(56 - 1 + 0.5 - 0.5 * 56 / SIZE)


def test_collate_refuses_lists():
    with pytest.raises(TypeError, match="collate_fn=collate_batch"):
        collate_batch([{"a": 1}])
