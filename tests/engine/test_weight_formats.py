"""Weights other code bases saved: a registered format reads them, auzoo checks the AU
order, loads strictly, maps the official test part to its fold and records the files."""
from __future__ import annotations

import hashlib

import pytest
import torch

import auzoo
from auzoo.engine.checkpoint import CheckpointError, save_checkpoint
from auzoo.engine.weight_formats import (CheckpointFormat, describe_loaded, load_weights,
                                         official_fold)
from auzoo.registry import CHECKPOINT_FORMATS

from engine_support import TINY_CONFIG

DISFA = (1, 2, 4, 6, 9, 12, 25, 26)


class PlainStateDict(CheckpointFormat):
    """A state dict in the model's own names, as another code base might save it;
    it says nothing, so the reader assumes DISFA's order and part 2 from the name."""

    models = ("RegionAUNet",)
    description = "a plain state dict (test)"

    def read(self, paths, model):
        state = torch.load(paths[0], weights_only=True)
        return state, dict(files=list(paths), aus=list(DISFA), dataset="disfa",
                           test_part="part2" if "part2" in paths[0].name else None,
                           note="assumed")


@pytest.fixture
def plain_format():
    CHECKPOINT_FORMATS.register_module(name="plain-test", module=PlainStateDict, force=True)
    yield "plain-test"
    CHECKPOINT_FORMATS.unregister("plain-test")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    path = tmp_path_factory.mktemp("cfg") / "tiny.py"
    path.write_text(TINY_CONFIG)
    return path


def test_a_registered_format_loads_strictly_and_records_what_it_read(plain_format, tiny, tmp_path):
    torch.manual_seed(1)
    source = auzoo.build_model(tiny)
    path = tmp_path / "release_part2.bin"
    torch.save(source.state_dict(), path)
    net = load_weights(path, model=str(tiny))
    assert all(torch.equal(v, source.state_dict()[k]) for k, v in net.state_dict().items())
    meta = net.checkpoint_meta
    rec = meta["loaded_from"]
    assert rec["format"] == "plain-test" and rec["aus"] == list(DISFA)
    assert rec["files"] == [{"file": str(path), "sha256": hashlib.sha256(path.read_bytes()).hexdigest()}]
    # part 2 is the test part of auzoo's DISFA fold 2
    assert (meta["fold"], meta["dataset"], meta["img_size"]) == (2, "disfa", 48)
    assert "SN006" in meta["test_subjects"] and "SN006" not in meta["train_subjects"]
    assert describe_loaded(meta)[1].endswith("auzoo fold 2 (tests part2)")


def test_another_au_order_or_a_stray_tensor_is_refused(plain_format, tiny, tmp_path):
    source = auzoo.build_model(tiny)
    path = tmp_path / "release.bin"
    torch.save(source.state_dict(), path)
    other = "(2,1,4,6,9,12,25,26)"
    with pytest.raises(ValueError) as err:  # same size, another order
        load_weights(path, model=str(tiny), cfg_options={"model.aus": eval(other)})
    assert str(list(DISFA)) in str(err.value) and "[2, 1, 4, 6, 9, 12, 25, 26]" in str(err.value)
    assert "release.bin" in str(err.value)
    state = dict(source.state_dict(), extra=torch.ones(1))
    torch.save(state, path)
    with pytest.raises(ValueError, match=r"release\.bin \(plain-test\): does not fit .*extra"):
        load_weights(path, model=str(tiny))


def test_without_a_model_or_a_format_the_error_says_what_to_do(tiny, tmp_path):
    path = tmp_path / "release.bin"
    torch.save(auzoo.build_model(tiny).state_dict(), path)
    with pytest.raises(CheckpointError, match="not an auzoo checkpoint.*name"):
        load_weights(path)
    with pytest.raises(CheckpointError, match="no registered checkpoint format reads weights into "
                                              "RegionAUNet"):
        load_weights(path, model=str(tiny))
    with pytest.raises(FileNotFoundError, match="nowhere.pth"):
        load_weights(tmp_path / "nowhere.pth", model=str(tiny))


def test_auzoo_checkpoints_stay_the_default(tiny, tmp_path):
    net = auzoo.build_model(tiny)
    path = save_checkpoint(tmp_path / "best.pth", net.state_dict(), dict(
        config=net.cfg.pretty_text, model="tiny", aus=list(net.aus), img_size=48, fold=1))
    loaded = load_weights([path])
    assert loaded.checkpoint_meta["fold"] == 1
    assert loaded.checkpoint_meta["loaded_from"]["format"] == "auzoo"
    assert describe_loaded(loaded.checkpoint_meta) == [
        f"weights: auzoo: best.pth (sha256 {hashlib.sha256(path.read_bytes()).hexdigest()[:16]}…)"]


@pytest.mark.parametrize("dataset,part,fold", [("disfa", "part3", 1), ("disfa", "part1", 3),
                                               ("bp4d", "part2", 2)])
def test_official_test_parts_are_auzoos_folds(dataset, part, fold):
    out = official_fold(dict(dataset=dataset, test_part=part))
    assert out["fold"] == fold
    assert official_fold(dict(dataset=dataset, test_part=None)) == {}
