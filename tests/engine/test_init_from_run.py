"""A run that starts from another run's weights at one epoch (``init_from`` with
a ``source`` and a registered ``transfer``), the epochs a run keeps
(``keep_epochs``), and the refusal when the source run is missing."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

from auzoo.engine.records import RunResult, RunSpec
from engine_support import TINY_CONFIG


def _write(tmp_path: Path, name: str, extra: str) -> Path:
    base = tmp_path / "tiny_one.py"
    base.write_text(TINY_CONFIG + "train_cfg = dict(max_epochs=2)\n")
    path = tmp_path / f"{name}.py"
    path.write_text("_base_ = ['./tiny_one.py']\n" + extra)
    return path


def _train(config: Path, cache, tmp_path: Path, fold: int = 1, **options) -> RunResult:
    from auzoo.engine.train import train

    return train(RunSpec(model=str(config), data=str(cache), fold=fold,
                         work_dir=str(tmp_path / f"run-{config.stem}-{fold}"), device="cpu",
                         cfg_options=options))


def _init_from(source: Path, **extra) -> str:
    fields = dict(datasets=("disfa",), source=dict(config=str(source), dataset="disfa", fold=2,
                                                   epoch=1),
                  transfer=dict(type="TakePrefixes", keys=["backbone."]), scratch="tiny_one",
                  **extra)
    return f"init_from = {fields!r}\n"


# lr 0: the backbone stays where init_from put it
FROZEN = "optim_wrapper = dict(optimizer=dict(lr=0.0, momentum=0.0, weight_decay=0.0))\n"


def _backbone(state):
    return {k: v for k, v in state.items() if k.startswith("backbone.") and "running" not in k
            and "num_batches" not in k}


@pytest.fixture(scope="module")
def source_run(tiny_cache, tmp_path_factory):
    """A 2-epoch run on fold 2 that keeps epoch 1 (the source the recipes below name)."""
    tmp_path = tmp_path_factory.mktemp("source")
    config = _write(tmp_path, "keeps", "keep_epochs = (1,)\n")
    return config, _train(config, tiny_cache, tmp_path, fold=2)


def test_a_run_keeps_the_epochs_its_config_names(source_run):
    from auzoo.engine.checkpoint import build_from_checkpoint, load_checkpoint

    _, result = source_run
    work = Path(result.training.checkpoint).parent
    kept = work / "weights" / "epoch_1.pth"
    assert kept.is_file() and not (work / "weights" / "epoch_2.pth").exists()
    assert not list(work.glob("epoch_*.pth"))  # the resume state is gone, the kept epoch is not
    meta, state = load_checkpoint(kept)
    assert (meta["epoch"], meta["fold"], meta["dataset"], meta["model"]) == (1, 2, "disfa", "keeps")
    assert meta["train_subjects"] == list(result.provenance.train_subjects)
    assert build_from_checkpoint(kept).aus == result.scores.aus  # usable as a model too
    _, best = load_checkpoint(result.training.checkpoint)
    same = all(torch.equal(state[k], best[k]) for k in _backbone(state))
    assert same == (result.training.best_epoch == 1)  # epoch 2's weights are not epoch 1's


def test_a_run_without_its_source_run_is_refused_before_any_work(source_run, tiny_cache, tmp_path):
    source, _ = source_run
    config = _write(tmp_path, "needs", _init_from(source))
    with pytest.raises(ValueError) as err:
        _train(config, tiny_cache, tmp_path)
    text = str(err.value)
    assert "init_from.checkpoint" in text and "init_from.source_data" in text
    assert f"auzoo train {source} --data DISFA_CACHE --fold 2" in text
    assert "fold 2 (trained on part1 + part3), epoch 1" in text
    assert "'tiny_one'" in text  # the from-scratch config
    assert not (tmp_path / "run-needs-1").exists()
    # on a dataset the recipe does not list, nothing is needed
    from auzoo.engine.init import applies, init_statement
    from auzoo.engine.settings import resolve_config
    cfg = resolve_config(str(config))
    assert not applies(cfg.init_from, "bp4d")
    assert "applies on disfa; this run is on bp4d" in init_statement(cfg, "bp4d", None)


def test_the_source_runs_work_dir_starts_a_run_from_its_kept_epoch(source_run, tiny_cache, tmp_path):
    from auzoo.engine.checkpoint import load_checkpoint

    source, run = source_run
    work = Path(run.training.checkpoint).parent
    config = _write(tmp_path, "from_dir", _init_from(source) + FROZEN)
    result = _train(config, tiny_cache, tmp_path, **{"init_from.checkpoint": str(work),
                                                     "train_cfg.max_epochs": 1})
    kept = work / "weights" / "epoch_1.pth"
    record = result.provenance.extra["init_from"]
    assert record["checkpoint"] == str(kept.resolve()) and record["tensors"] > 0
    assert record["source"]["epoch"] == 1 and record["source"]["model"] == "keeps"
    assert "fold 2" in result.provenance.extra["init"] and "epoch 1" in result.provenance.extra["init"]
    _, src = load_checkpoint(kept)
    _, out = load_checkpoint(result.training.checkpoint)
    weights = _backbone(src)
    assert weights and all(torch.equal(src[k], out[k]) for k in weights)


def test_source_data_trains_the_source_run_first(tiny_cache, tmp_path):
    source = _write(tmp_path, "source", "")  # keeps nothing itself: the engine asks for epoch 1
    config = _write(tmp_path, "from_source", _init_from(source, source_data=str(tiny_cache)))
    result = _train(config, tiny_cache, tmp_path, **{"train_cfg.max_epochs": 1})
    source_dir = tmp_path / "run-from_source-1" / "init_from" / "source-disfa-fold2"
    kept = source_dir / "weights" / "epoch_1.pth"
    assert kept.is_file()
    assert RunResult.read(source_dir / "result.json").provenance.fold == 2
    assert result.provenance.extra["init_from"]["checkpoint"] == str(kept.resolve())


def test_a_checkpoint_of_another_fold_or_epoch_is_refused(source_run, tiny_cache, tmp_path):
    from auzoo.engine.checkpoint import load_checkpoint, save_checkpoint

    source, run = source_run
    config = _write(tmp_path, "needs", _init_from(source))
    meta, state = load_checkpoint(Path(run.training.checkpoint).parent / "weights" / "epoch_1.pth")
    save_checkpoint(tmp_path / "fold1.pth", state, dict(meta, fold=1))
    with pytest.raises(ValueError, match=r"fold 1 \(wanted 2\)"):
        _train(config, tiny_cache, tmp_path, **{"init_from.checkpoint": str(tmp_path / "fold1.pth")})
    save_checkpoint(tmp_path / "epoch2.pth", state, dict(meta, epoch=2))
    with pytest.raises(ValueError, match=r"epoch 2 \(wanted 1\)"):
        _train(config, tiny_cache, tmp_path, **{"init_from.checkpoint": str(tmp_path / "epoch2.pth")})
    (tmp_path / "bare").mkdir()
    with pytest.raises(ValueError, match="keep_epochs"):  # a work dir that kept no epoch 1
        _train(config, tiny_cache, tmp_path, **{"init_from.checkpoint": str(tmp_path / "bare")})
