"""Class weights, AU-weighted batches, DDP slicing."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from auzoo.data.sampler import (AUWeightedBatchSampler, ShuffledBatchSampler, class_weights,
                                frame_weights, labelled_frames)


def weighted(labels, mask=None, seed=0, batch_size=64, world_size=1, **options):
    """The weighted sampler over bare labels; ``batch_size``: the global batch."""
    return AUWeightedBatchSampler(labelled_frames(labels, mask, seed=seed),
                                  batch_size=batch_size // world_size, world_size=world_size,
                                  **options)


def shuffled(labels, mask=None, seed=0, batch_size=64, world_size=1, **options):
    return ShuffledBatchSampler(labelled_frames(labels, mask, seed=seed),
                                batch_size=batch_size // world_size, world_size=world_size,
                                **options)


def test_class_weights_by_hand():
    labels = np.array([[1, 0], [1, 1], [0, 0], [1, 0]])
    # r = (3/4, 1/4); 1/r = (4/3, 4); sum 16/3; w = (1/r) / sum * 2
    np.testing.assert_allclose(class_weights(labels), [0.5, 1.5])
    labels = np.array([[1, 0, 1], [0, 0, 1], [0, 1, 1], [0, 0, 1]])
    # r = (1/4, 1/4, 1); 1/r = (4, 4, 1); sum 9; w = 3 * (4, 4, 1) / 9
    np.testing.assert_allclose(class_weights(labels), [4 / 3, 4 / 3, 1 / 3])


def test_frame_weights_by_hand():
    labels = np.array([[1, 0], [1, 1], [0, 0], [1, 0]])
    w = frame_weights(labels)
    # positives: sum of their AUs' weights; no-AU frame: r0 = 1/4 -> (4) / (16/3) * 2 = 1.5
    np.testing.assert_allclose(w, [0.5, 2.0, 1.5, 0.5])


def test_absent_au_gets_zero_weight_with_a_warning():
    labels = np.array([[1, 0], [0, 0]])
    with pytest.warns(UserWarning, match="no positive frame for AU 9"):
        w = class_weights(labels, aus=(1, 9))
    np.testing.assert_allclose(w, [2.0, 0.0])


def imbalanced(n=4000, seed=0):
    rng = np.random.default_rng(seed)
    rates = np.array([0.02, 0.05, 0.2, 0.4])
    return (rng.random((n, 4)) < rates).astype(np.uint8), rates


def test_rare_aus_are_drawn_more_often_than_uniform():
    labels, rates = imbalanced()
    sampler = weighted(labels, batch_size=64, iters_per_epoch=200, seed=1)
    drawn = labels[sampler.global_batches(0).ravel()]
    observed = drawn.mean(0)
    natural = labels.mean(0)
    assert observed[0] > 5 * natural[0] and observed[1] > 2.5 * natural[1]
    # each AU adds the same total weight through its positives (w_i * count_i is constant)
    contribution = (labels * class_weights(labels)).sum(0)
    np.testing.assert_allclose(contribution, contribution.mean(), rtol=1e-9)
    # and the frames without any AU, weighted as a class of their own, the same again
    none = ~labels.any(1)
    np.testing.assert_allclose(sampler.weights[none].sum(), contribution.mean(), rtol=1e-9)
    assert observed[:2].min() > 0.1


def test_batches_are_reproducible_and_change_with_the_epoch():
    labels, _ = imbalanced()
    a = weighted(labels, seed=3)
    b = weighted(labels, seed=3)
    first = list(a)
    assert first == list(weighted(labels, seed=3))
    assert len(first) == 100 and all(len(x) == 64 for x in first)
    second = list(a)                    # next pass: next epoch
    assert second != first
    b.set_epoch(1)
    assert list(b) == second
    b.set_epoch(0)
    assert list(b) == first
    assert list(weighted(labels, seed=4)) != first


@pytest.mark.parametrize("world_size", [2, 4, 8])
def test_ddp_ranks_together_are_the_single_process_epoch(world_size):
    labels, _ = imbalanced()
    single = weighted(labels, batch_size=64, iters_per_epoch=30, seed=7, world_size=1, rank=0)
    single.set_epoch(5)
    ranks = []
    for r in range(world_size):
        s = weighted(labels, batch_size=64, iters_per_epoch=30, seed=7,
                                   world_size=world_size, rank=r)
        s.set_epoch(5)
        ranks.append(list(s))
        assert len(s) == 30
    for step, batch in enumerate(single):
        parts = [ranks[r][step] for r in range(world_size)]
        assert all(len(p) == 64 // world_size for p in parts)
        assert sum(parts, []) == batch       # each drawn sample on exactly one rank


def test_bad_arguments():
    labels, _ = imbalanced(100)
    from auzoo.engine.dist import global_batch_split

    with pytest.raises(ValueError, match="does not split over 3 processes.*63 or 66"):
        global_batch_split(64, 3)
    assert global_batch_split(64, 4) == 16
    with pytest.raises(ValueError, match="batch_size must be positive"):
        AUWeightedBatchSampler(labelled_frames(labels), batch_size=0)
    with pytest.raises(ValueError, match="outside world size"):
        weighted(labels, world_size=2, rank=2)
    with pytest.raises(ValueError, match="no AU"):
        weighted(np.zeros((5, 3)))


def test_not_coded_labels_count_neither_way():
    labels = np.array([[1, 0], [0, 0], [0, 1], [0, 0]])
    mask = np.array([[True, True], [False, True], [True, True], [False, False]])
    from auzoo.data.sampler import positive_rates

    np.testing.assert_allclose(positive_rates(labels, mask), [1 / 2, 1 / 3])
    w = frame_weights(labels, mask=mask)
    # frame 1 has AU2 coded 0 and AU1 unknown: all-negative among what is coded;
    # frame 3 has nothing coded: never drawn
    assert w[3] == 0 and w[1] > 0
    np.testing.assert_allclose(class_weights(labels, mask=mask), [0.8, 1.2])   # 1/r = (2, 3)


def test_negatives_option_sets_the_share_of_frames_without_au():
    labels, rates = imbalanced(seed=2)
    none = ~labels.any(1)
    from auzoo.data.sampler import expected_batch_rates

    share = {}
    for opt in ("class", 0.5, 0.0, "natural"):
        s = weighted(labels, batch_size=64, iters_per_epoch=300, seed=0, negatives=opt)
        drawn = s.global_batches(0).ravel()
        share[opt] = none[drawn].mean()
        np.testing.assert_allclose(labels[drawn].mean(0), expected_batch_rates(labels, negatives=opt),
                                   atol=0.02)
    assert share[0.0] == 0
    assert abs(share["natural"] - none.mean()) < 0.02           # drawn at their natural rate
    assert share["class"] > share[0.5] > share[0.0]
    with pytest.raises(ValueError, match="negatives must be"):
        frame_weights(labels, negatives="rare")


def test_rate_table_compares_batches_with_the_test_fold():
    from auzoo.data.sampler_rates import markdown, rate_table

    labels, _ = imbalanced(seed=4)
    table = rate_table(labels[:2000], labels[2000:], aus=(1, 2, 4, 6))
    assert list(table.index) == ["AU1", "AU2", "AU4", "AU6", "no AU"]
    rare = table.loc["AU1"]
    assert rare["batches, negatives='class' %"] > 3 * rare["test %"]
    assert rare["batches, negatives='natural' %"] < rare["batches, negatives='class' %"]
    assert markdown(table).startswith("| AU | train % | test %")


# --- one shuffled pass an epoch (ME-GraphAU, JAA-Net) ----------------------

def test_shuffled_epoch_draws_every_coded_frame_once_at_the_data_rates():
    labels, rates = imbalanced(1000)
    mask = np.ones(labels.shape, dtype=bool)
    mask[[3, 50]] = False  # frames with no coded AU are never drawn
    sampler = shuffled(labels, mask, batch_size=64, seed=2)
    epoch = list(sampler)
    assert len(epoch) == len(sampler) == 16 and len(epoch[-1]) == 998 - 15 * 64
    drawn = sorted(sum(epoch, []))
    assert drawn == [i for i in range(1000) if i not in (3, 50)]
    # not weighted: each AU's rate in the batches is its rate in the data, exactly
    np.testing.assert_allclose(labels[drawn].mean(axis=0), labels[mask.any(axis=1)].mean(axis=0))
    second = list(sampler)  # the next epoch: another order of the same frames
    assert second != epoch and sorted(sum(second, [])) == drawn
    again = shuffled(labels, mask, batch_size=64, seed=2)
    assert list(again) == epoch  # seeded by (seed, epoch)


def test_shuffled_epoch_capped_and_split_over_ranks():
    labels, _ = imbalanced(300)
    capped = shuffled(labels, batch_size=64, iters_per_epoch=7, seed=1)
    batches = list(capped)
    assert len(batches) == 7 and all(len(b) == 64 for b in batches)
    first_pass = sum(batches, [])[:300]
    assert sorted(first_pass) == list(range(300))  # a pass before any frame comes again
    single = shuffled(labels, batch_size=64, seed=1, world_size=1, rank=0)
    ranks = [list(shuffled(labels, batch_size=64, seed=1, world_size=4, rank=r))
             for r in range(4)]
    assert all(len(r) == 300 // 64 for r in ranks)  # the partial batch dropped under DDP
    for step, batch in enumerate(list(single)[:300 // 64]):
        assert sum((ranks[r][step] for r in range(4)), []) == batch


def test_sampler_is_chosen_by_the_config(cache_dir, cache):
    from mmengine.registry import DATA_SAMPLERS as MMENGINE_DATA_SAMPLERS

    from auzoo.config import load_config
    from auzoo.engine.loaders import FramesSource, build_frames_loader, frames_loader_cfg
    from auzoo.registry import DATA_SAMPLERS

    assert {"AUWeightedBatchSampler", "ShuffledBatchSampler"} <= set(DATA_SAMPLERS.module_dict)
    assert DATA_SAMPLERS.parent is MMENGINE_DATA_SAMPLERS
    cpu = torch.device("cpu")
    with pytest.raises(ValueError, match="not a registered sampler.*ShuffledBatchSampler"):
        frames_loader_cfg(FramesSource("cache", [1], [1]),
                          dict(batch_size=8, sampler=dict(type="Uniform")), training=True,
                          device=cpu)
    for name in ("megraphau_r50", "megraphau_swinb_stage1", "jaanet"):
        pytest.importorskip("auzoo_megraphau" if name.startswith("megraphau") else "auzoo_jaanet")
        sampler = load_config(name).train_dataloader.sampler
        assert sampler.type == "ShuffledBatchSampler" and sampler.iters_per_epoch is None, name
    assert load_config("tranet").train_dataloader.sampler.type == "AUWeightedBatchSampler"
    # the loader a run gets is a plain mmengine loader config, built by mmengine,
    # drawing with the named sampler over the training subjects' frames
    subjects = cache.fold_subjects(1)[0]
    entry = frames_loader_cfg(FramesSource(str(cache_dir), subjects, (1, 2, 4, 6, 9, 12, 25, 26)),
                              dict(batch_size=16, sampler=dict(type="ShuffledBatchSampler",
                                                               iters_per_epoch=None)),
                              training=True, device=cpu)
    assert entry["dataset"]["type"] == "AUFrames" and entry["batch_size"] == 16
    assert entry["batch_sampler"]["type"] == "ShuffledBatchSampler"
    loader = build_frames_loader(entry, seed=5)
    assert isinstance(loader.batch_sampler, ShuffledBatchSampler)
    assert loader.batch_sampler.seed == 5 and loader.batch_sampler.per_rank == 16
    drawn = sorted(sum(list(loader.batch_sampler), []))
    assert len(drawn) == len(loader.dataset) and len(set(drawn)) == len(drawn)
