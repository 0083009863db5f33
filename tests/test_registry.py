"""The registries, the config catalogue and config loading."""
import textwrap
from pathlib import Path

import pytest
import torch.nn as nn

import auzoo
from auzoo import registry
from auzoo.cli import main
from auzoo.config import load_config


@pytest.fixture
def scratch_name():
    """A part name that is removed from every registry after the test."""
    name = "ScratchPartForTests"
    yield name
    for reg in registry.PART_REGISTRIES.values():
        reg.unregister(name)


def test_part_registries_are_distinct_and_models_is_an_mmengine_child():
    regs = [registry.BACKBONES, registry.NECKS, registry.SPLITTERS,
            registry.ATTENTION, registry.HEADS, registry.MODELS]
    assert len({id(r) for r in regs}) == 6
    from mmengine.registry import MODELS as ROOT
    assert registry.MODELS.parent is ROOT
    assert ROOT.children["auzoo"] is registry.MODELS


def test_registering_a_name_twice_names_both_places(scratch_name):
    @registry.HEADS.register_module(name=scratch_name)
    class First(nn.Module):
        pass

    with pytest.raises(registry.RegistryConflictError) as err:
        @registry.HEADS.register_module(name=scratch_name)
        class Second(nn.Module):
            pass

    msg = str(err.value)
    assert scratch_name in msg
    # both definitions are named with file:line
    assert msg.count("test_registry.py:") == 2
    assert registry.HEADS.get(scratch_name) is First


def test_force_replaces(scratch_name):
    @registry.HEADS.register_module(name=scratch_name)
    class First(nn.Module):
        pass

    @registry.HEADS.register_module(name=scratch_name, force=True)
    class Second(nn.Module):
        pass

    assert registry.HEADS.get(scratch_name) is Second


def test_config_conflict_names_both_files(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir(), b.mkdir()
    (a / "zz_conflict_model.py").write_text("model = dict(type='X')\n")
    (b / "zz_conflict_model.py").write_text("model = dict(type='Y')\n")
    try:
        registry.register_config_dir(a)
        with pytest.raises(registry.RegistryConflictError) as err:
            registry.register_config_dir(b)
        assert str(a / "zz_conflict_model.py") in str(err.value)
        assert str(b / "zz_conflict_model.py") in str(err.value)
    finally:
        registry.CONFIGS.pop("zz_conflict_model", None)
        registry.CONFIG_PROVIDERS.pop("zz_conflict_model", None)


def test_unknown_model_lists_the_names_that_exist():
    with pytest.raises(KeyError) as err:
        auzoo.build_model("tranett")
    msg = str(err.value)
    assert "tranett" in msg and "tranet" in msg


def test_unknown_part_lists_registered_parts():
    with pytest.raises(KeyError) as err:
        registry.build_part(registry.SPLITTERS, dict(type="NoSuchSplitter"))
    assert "NoSuchSplitter" in str(err.value)
    assert "ThreeRegionSplitter" in str(err.value)


def test_cli_unknown_model_is_a_clear_error(capsys):
    assert main(["show", "no_such_model"]) == 2
    err = capsys.readouterr().err
    assert "unknown model 'no_such_model'" in err and "tranet" in err


def test_user_config_inherits_a_builtin_by_name(tmp_path):
    user = tmp_path / "my_tranet.py"
    user.write_text(textwrap.dedent("""
        _base_ = ['auzoo::tranet']
        model = dict(backbone=dict(frozen_stages=3))
    """))
    cfg = load_config(user)
    base = load_config("tranet")
    assert cfg.model.type == base.model.type
    assert cfg.optim_wrapper == base.optim_wrapper and cfg.train_cfg == base.train_cfg
    assert cfg.model.backbone.frozen_stages == 3
    assert cfg.model.backbone.type == base.model.backbone.type
    assert cfg.model.branches == base.model.branches
    assert cfg.filename == str(user)


def test_missing_config_file_is_named(tmp_path):
    with pytest.raises(FileNotFoundError) as err:
        load_config(tmp_path / "nope.py")
    assert "nope.py" in str(err.value)


def test_list_models_has_the_papers_configs():
    names = set(auzoo.list_models())
    assert {"tranet", "senet50", "senet50_cbam", "senet50_hm", "tranet_no_channel",
            "tranet_no_spatial", "tranet_residual"} <= names


def test_cli_list_models(capsys):
    assert main(["list", "models"]) == 0
    out = capsys.readouterr().out
    for name in ("tranet", "senet50_hm", "tranet_residual"):
        assert name in out


def test_a_plugin_model_that_is_not_installed_names_its_plugin(monkeypatch):
    from auzoo import registry
    from auzoo.config import PLUGIN_MODELS, config_path, plugin_providing

    registry.ensure_loaded()
    monkeypatch.delenv(registry.DISABLE_PLUGINS_ENV, raising=False)
    monkeypatch.delitem(registry.CONFIGS, "megraphau_r50", raising=False)
    with pytest.raises(KeyError) as info:
        config_path("megraphau_r50")
    message = str(info.value.args[0])
    assert "comes with the plugin in plugins/auzoo-megraphau" in message
    assert "pip install -e plugins/auzoo-megraphau" in message
    # the table agrees with the plugin folders of the source tree
    for model, folder in PLUGIN_MODELS.items():
        assert plugin_providing(model) == folder
        assert (Path(__file__).resolve().parents[1] / folder / "pyproject.toml").is_file()
    assert plugin_providing("no_such_model") is None
