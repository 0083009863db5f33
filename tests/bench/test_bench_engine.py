"""`auzoo bench` end to end with the real engine: a tiny model on a tiny
synthetic DISFA, sharded then merged, two seeds, the tables.

"""
from __future__ import annotations

import json

import pandas as pd
import pytest

TINY_MODEL = '''
_base_ = ['auzoo::_base_/default_runtime.py', 'auzoo::_base_/data/au_frames.py',
          'auzoo::_base_/schedules/paper.py']
model = dict(
    type='RegionAUNet',
    aus=(1, 2, 4, 6, 9, 12, 25, 26),
    backbone=dict(type='TimmBackbone', model_name='test_resnet', frozen_stages=1),
    splitter=dict(type='ThreeRegionSplitter'),
    head=dict(type='TwoFCHead', pool_size=1, hidden=16, dropout=0.0),
    branches=[dict(region='upper', aus=(1, 2, 4)), dict(region='middle', aus=(6, 9)),
              dict(region='lower', aus=(12, 25, 26))],
)
img_size = 48
train_dataloader = dict(batch_size=8, sampler=dict(iters_per_epoch=3))
val_dataloader = dict(batch_size=256)
train_cfg = dict(max_epochs=2)
'''


@pytest.fixture(scope="module")
def tiny_cache(tmp_path_factory):
    from auzoo.data.datasets.disfa.prepare import prepare_disfa
    from auzoo.data.datasets.disfa.synth import synth_disfa

    base = tmp_path_factory.mktemp("disfa")
    synth_disfa(base / "raw", subjects=27, frames=48, width=160, height=120, seed=1, workers=2)
    prepare_disfa(base / "raw", base / "cache", size=48, workers=2)
    return base / "cache"


def test_shards_then_merge_with_seeds(tiny_cache, tmp_path, console):
    import torch

    from auzoo.bench.main import bench

    torch.set_num_threads(1)
    (tmp_path / "tranet.py").write_text(TINY_MODEL)  # named tranet: TRA-Net's row beside it
    (tmp_path / "tiny.py").write_text(TINY_MODEL.replace("hidden=16", "hidden=24"))
    models = [str(tmp_path / "tranet.py"), str(tmp_path / "tiny.py")]
    out = tmp_path / "out"
    kw = dict(data=tiny_cache, folds="1,2", seeds="0,1", out=out, device="cpu", console=console,
              allow_random_init=True)
    assert bench(models, shard="1/2", **kw) is None
    assert not (out / "results.csv").exists()
    bench(models, shard="2/2", **kw)
    done = {p: p.stat().st_mtime_ns for p in out.glob("cells/*/*/*/result.json")}
    assert len(done) == 2 * 2 * 2
    frames = bench(models, **kw)  # the merge trains nothing again
    assert {p: p.stat().st_mtime_ns for p in done} == done
    csv = pd.read_csv(out / "results.csv", dtype={"fold": str, "seed": str})
    assert len(csv) == len(frames[out.resolve()])
    rows = csv[csv["model"] == "tiny"]
    one = json.loads((out / "cells/tiny/fold1/seed1/result.json").read_text())
    row = rows[(rows["fold"] == "1") & (rows["seed"] == "1")].iloc[0]
    assert row["f1_mean"] == pytest.approx(one["scores"]["f1_mean"], rel=1e-3)
    assert rows[rows["seed"] == "mean"]["f1_mean_std"].notna().all()
    report = (out / "results.md").read_text()
    assert "TRA-Net, published (Table 1)" in report and "| 56.9 | 61.5 | 72.6 |" in report
    assert report.count("TRA-Net, published (Table 1)") == 2  # F1 and accuracy, under tranet only
    assert "Paired comparison" in report and (out / "plots" / "all_models_f1.png").is_file()
