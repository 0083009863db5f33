"""Planning the grid: cells per dataset, model, fold and seed; shards; --all."""
from __future__ import annotations

from collections import Counter

import pytest


def test_cells_in_a_fixed_order_with_seeds_and_datasets(models):
    from auzoo.bench.grid import plan_cells

    cells = plan_cells([str(models["alpha"]), str(models["beta"])], (1, 2), (0, 3), ("A", "B"))
    assert len(cells) == 2 * 2 * 2 * 2
    assert [(c.data, c.name, c.fold, c.seed) for c in cells[:5]] == [
        ("A", "alpha", 1, 0), ("A", "alpha", 1, 3), ("A", "alpha", 2, 0), ("A", "alpha", 2, 3),
        ("A", "beta", 1, 0)]
    assert cells[3].work_dir("OUT").as_posix() == "OUT/cells/alpha/fold2/seed3"
    with pytest.raises(ValueError, match="listed twice"):
        plan_cells([str(models["alpha"])] * 2, (1,))


def test_shards_split_every_cell_exactly_once(models):
    from auzoo.bench.grid import parse_shard, plan_cells, shard_cells

    cells = plan_cells([str(models["alpha"]), str(models["beta"])], (1, 2, 3), (0, 1))
    shards = [shard_cells(cells, (i, 4)) for i in (1, 2, 3, 4)]
    assert Counter(c for s in shards for c in s) == Counter(cells)
    assert shards[1] == [cells[1], cells[5], cells[9]]
    assert parse_shard("2/3") == (2, 3)
    for bad in ("0/2", "3/2", "2", "a/b"):
        with pytest.raises(ValueError, match="--shard"):
            parse_shard(bad)


def test_folds_and_seeds_arguments():
    from auzoo.bench.grid import parse_folds, parse_seeds

    assert parse_folds("1,3") == (1, 3)
    assert parse_seeds("0,1,2") == (0, 1, 2) and parse_seeds(5) == (5,)
    for bad in ("0", "1,1", "x", ""):
        with pytest.raises(ValueError, match="--folds"):
            parse_folds(bad)
    with pytest.raises(ValueError, match="--seeds"):
        parse_seeds("-1")


def test_all_leaves_out_excluded_models_and_stage1_pieces(tmp_path, monkeypatch):
    import auzoo
    from auzoo import registry
    from auzoo.bench.grid import all_models

    registry.ensure_loaded()
    (tmp_path / "two_stage_s1.py").write_text("model = dict(type='A')\n")
    (tmp_path / "two_stage.py").write_text(
        "model = dict(type='A')\ninit_from = dict(config='two_stage_s1', keys=['backbone.'])\n")
    for name in ("two_stage", "two_stage_s1"):
        monkeypatch.setitem(registry.CONFIGS, name, tmp_path / f"{name}.py")
    monkeypatch.setattr(auzoo, "list_models",
                        lambda: ["senet50", "tranet", "two_stage", "two_stage_s1"])
    assert all_models() == ["senet50", "tranet", "two_stage"]
    assert all_models(exclude=["senet50"]) == ["tranet", "two_stage"]
    with pytest.raises(ValueError, match="--exclude senet5"):
        all_models(exclude=["senet5"])


def test_grid_options(models, caches, tmp_path):
    from auzoo.bench.options import BenchOptions
    from auzoo.bench.run import make_grid

    def make(*models, **kw):
        return make_grid(BenchOptions.of(models, **kw))

    g = make(str(models["alpha"]), data=[caches["disfa_cache"], caches["bp4d_cache"]],
             out=tmp_path / "o", seeds="0,1", max_epochs=3, batch_size=8,
             cfg_options={"img_size": 32})
    assert g.cfg_options == {"img_size": 32, "train_cfg.max_epochs": 3,
                             "train_dataloader.batch_size": 8}
    assert g.preset is None and not g.synthetic  # real data: the config's schedule
    assert g.out_dir(g.data[0]) == tmp_path / "o" / "disfa_cache"
    spec = g.spec(g.cells()[-1])
    assert (spec.fold, spec.seed, spec.resume) == (3, 1, True)
    assert spec.work_dir == str(tmp_path / "o" / "bp4d_cache" / "cells" / "alpha" / "fold3" / "seed1")
    single = make(str(models["alpha"]), data=caches["disfa_cache"], out=tmp_path / "o",
                  preset="cpu-demo")
    assert single.out_dir(single.data[0]) == tmp_path / "o" and single.preset == "cpu_demo"
    with pytest.raises(ValueError, match="no model"):
        make(data=caches["disfa_cache"])
    with pytest.raises(TypeError, match="unknown bench option.*max_epoch"):
        make(str(models["alpha"]), max_epoch=3)  # a misspelt flag is not dropped
    with pytest.raises(ValueError, match="--seeds 0,1,2 or --seed N, not both"):
        make(str(models["alpha"]), seeds="0,1", seed=2)


def test_weights_patterns_name_each_folds_files(tmp_path):
    from auzoo.bench.run import _check_weights_grid, fold_weights

    for fold in (1, 2):
        (tmp_path / f"fold{fold}").mkdir()
        for name in ("a_5.pth", "b_5.pth"):
            (tmp_path / f"fold{fold}" / name).write_bytes(b"")
    assert fold_weights(str(tmp_path / "w_fold{fold}.pth"), 2, "") == (str(tmp_path / "w_fold2.pth"),)
    assert fold_weights(str(tmp_path / "fold{fold}" / "*_5.pth"), 1, "") == (
        str(tmp_path / "fold1" / "a_5.pth"), str(tmp_path / "fold1" / "b_5.pth"))
    with pytest.raises(FileNotFoundError, match=r"nothing matches .*fold3/\*_5.pth \(fold 3\)"):
        fold_weights(str(tmp_path / "fold{fold}" / "*_5.pth"), 3, "")
    with pytest.raises(ValueError, match="placeholders are {fold} and {train_parts}"):
        fold_weights(str(tmp_path / "{split}.pth"), 1, "")
    with pytest.raises(ValueError, match="name exactly one MODEL"):
        _check_weights_grid(["a", "b"], False, "0", {})
    with pytest.raises(ValueError, match="nothing to seed"):
        _check_weights_grid(["a"], False, "0,1", {})
    with pytest.raises(ValueError, match=r"--max-epochs \(train_cfg.max_epochs\) do not apply"):
        _check_weights_grid(["a"], False, "0", {"train_cfg.max_epochs": 3, "model.aus": (1, 2)})
    # the input size applies to scoring too: given weights are scored at it
    _check_weights_grid(["a"], False, "0", {"img_size": 48})
    _check_weights_grid(["a"], False, "0", {"model.aus": (1, 2)})  # the model's own keys apply
