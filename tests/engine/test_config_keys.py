"""A key nothing reads is refused with the key, the file it came from and the
nearest valid key; presets have one spelling (the other read as it)."""
from __future__ import annotations

import subprocess

import pytest

from auzoo.config_check import ConfigKeyError
from engine_support import PYTHON, cli_env


def _write(tmp_path, text: str, name: str = "mine.py"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_every_registered_config_passes_the_check():
    from auzoo import registry
    from auzoo.engine.settings import resolve_config

    registry.ensure_loaded()
    for name in registry.CONFIGS:
        resolve_config(name)
        resolve_config(name, preset="cpu_demo")


def test_a_top_level_typo_names_its_file_line_and_the_key_it_meant(tmp_path):
    from auzoo.engine.settings import resolve_config

    path = _write(tmp_path, "_base_ = ['auzoo::tranet']\n\ntrian_cfg = dict(max_epochs=1)\n")
    with pytest.raises(ConfigKeyError, match=rf"`trian_cfg` in {path}:3 .*did you mean `train_cfg`"):
        resolve_config(str(path))
    with pytest.raises(ConfigKeyError, match=r"`custom_hoks` in --cfg-options "
                                             r"custom_hoks\.0 .*did you mean `custom_hooks`"):
        resolve_config("tranet", {"custom_hoks.0": 1})
    # helper variables start with '_'
    resolve_config(str(_write(tmp_path, "_base_ = ['auzoo::tranet']\n_lr = 0.1\n"
                                        "optim_wrapper = dict(optimizer=dict(lr=_lr))\n", "ok.py")))


@pytest.mark.parametrize("key,meant,owner", [
    ("custom_hoks", "custom_hooks", "a config"),
    ("custom_hooks.0.patiense", "patience", "ResumableEarlyStopping"),
    ("train_cfg.max_epoch", "max_epochs", "`train_cfg`"),
    ("optim_wrapper.optimizer.momentun", "momentum", "SGD"),
    ("train_dataloader.sampler.iters_per_epok", "iters_per_epoch", "AUWeightedBatchSampler"),
    ("model.backbone.frozen_stage", "frozen_stages", "VGGFace2SENet50"),
    ("default_hooks.logger.intervl", "interval", "LoggerHook"),
])
def test_cfg_options_typos_are_refused_as_cfg_options(key, meant, owner):
    from auzoo.engine.settings import resolve_config

    with pytest.raises(ConfigKeyError) as info:
        resolve_config("tranet", {key: 1})
    message = str(info.value)
    assert f"`{key}` in --cfg-options {key} is not a key of {owner}" in message
    assert f"did you mean `{meant}`" in message


def test_pipelines_and_moved_keys(tmp_path):
    from auzoo.engine.settings import resolve_config

    with pytest.raises(ConfigKeyError, match=r"`train_pipeline\.1\.prb` in --cfg-options "
                                             r"train_pipeline is not a key of RandomFlip; did you "
                                             r"mean `prob`"):
        resolve_config("tranet", {"train_pipeline": [dict(type="AlignMidline", size=224),
                                                     dict(type="RandomFlip", prb=0.5)]})
    path = _write(tmp_path, "_base_ = ['auzoo::tranet']\ndata = dict(hflip=False)\n")
    with pytest.raises(ConfigKeyError, match=rf"`data\.hflip` in {path}:2 is from an earlier "
                                             r"config schema; it is now train_pipeline"):
        resolve_config(str(path))


def test_a_parts_unexpected_argument_is_named_by_its_path(tmp_path):
    import auzoo
    from auzoo.engine.settings import resolve_config

    path = _write(tmp_path, "_base_ = ['auzoo::tranet']\nmodel = dict(\n"
                            "    branches=[dict(region='upper',\n"
                            "                   attention=[dict(type='CBAM', atention=2)]),\n"
                            "              dict(region='middle'), dict(region='lower')])\n")
    with pytest.raises(ConfigKeyError, match=rf"`model\.branches\.0\.attention\.0\.atention` in "
                                             rf"{path}:4 is not a key of CBAM"):
        resolve_config(str(path))
    with pytest.raises(ConfigKeyError, match=r"`model\.atention` .* of RegionAUNet; "
                                             r"did you mean `attention`"):
        auzoo.build_model("tranet", atention=[])
    branch = _write(tmp_path, "_base_ = ['auzoo::tranet']\nmodel = dict(branches=["
                              "dict(regoin='upper')])\n", "branch.py")
    with pytest.raises(ConfigKeyError, match=r"`model\.branches\.0\.regoin` .* did you mean `region`"):
        auzoo.build_model(str(branch))


def test_a_plugin_can_declare_its_own_top_level_key(tmp_path, monkeypatch):
    from auzoo import config_check
    from auzoo.engine.settings import resolve_config

    path = _write(tmp_path, "_base_ = ['auzoo::tranet']\nmy_plugin_setting = 3\n")
    with pytest.raises(ConfigKeyError):
        resolve_config(str(path))
    monkeypatch.setitem(config_check.AUZOO_KEYS, "my_plugin_setting", "a plugin's")
    assert resolve_config(str(path)).my_plugin_setting == 3


def test_the_cli_refuses_a_typo_in_one_line(tmp_path):
    proc = subprocess.run([PYTHON, "-m", "auzoo.cli", "show", "tranet", "--cfg-options",
                           "model.neck.stpes=1"], capture_output=True, text=True, env=cli_env(),
                          timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "auzoo show: error: `model.neck.stpes` in --cfg-options model.neck.stpes is not a key of "
        "TRADecoder; did you mean `steps`?"]


@pytest.mark.parametrize("spelling", ["cpu_demo", "cpu-demo"])
def test_preset_spellings_name_one_preset(spelling):
    from auzoo.bench.demo import preset_piece
    from auzoo.cli import build_parser
    from auzoo.engine.settings import preset_name, resolve_config

    assert preset_name(spelling) == "cpu_demo" and preset_piece(spelling, synthetic=False) == "cpu_demo"
    cfg = resolve_config("tranet", preset=spelling)
    assert cfg.img_size == 64 and cfg.applied["preset"] == "cpu_demo"
    for command in (["train", "tranet", "--data", "c", "--fold", "1"], ["bench", "tranet"]):
        assert build_parser().parse_args(command + ["--preset", spelling]).preset == "cpu_demo"


def test_preset_help_shows_one_spelling_and_paper_means_the_configs_own(capsys):
    from auzoo.cli import build_parser
    from auzoo.engine.settings import preset_name, preset_piece

    for command in ("train", "bench"):
        with pytest.raises(SystemExit):
            build_parser().parse_args([command, "--help"])
        text = " ".join(capsys.readouterr().out.split())
        assert "paper or cpu_demo" in text and "cpu-demo" not in text
    with pytest.raises(SystemExit):
        build_parser().parse_args(["bench", "tranet", "--preset", "cpu-dem"])
    assert "choose from 'paper', 'cpu_demo'" in capsys.readouterr().err
    assert preset_piece("paper") is None and preset_piece(None) is None
    with pytest.raises(ValueError, match="did you mean 'cpu_demo'"):
        preset_name("cpu_dem")
