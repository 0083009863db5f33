"""``_base_ = ['auzoo::NAME']`` without changing mmengine for the whole process."""
import textwrap

import pytest
from mmengine.config import Config

import auzoo
from auzoo.cli import main
from auzoo.config import auzoo_bases, load_config

# A small model on the ResNet-50 recipe: built and counted in seconds.
USER_CONFIG = """
_base_ = ['auzoo::resnet50']
model = dict(backbone=dict(model_name='mobilenetv3_small_050', frozen_stages=0))
img_size = 64
"""


def _mmengine_owns_get_cfg_path() -> bool:
    return Config._get_cfg_path.__module__ == "mmengine.config.config"


@pytest.fixture
def user_config(tmp_path):
    path = tmp_path / "my_small_net.py"
    path.write_text(textwrap.dedent(USER_CONFIG))
    return path


def test_auzoo_leaves_mmengines_base_resolution_alone(user_config):
    assert _mmengine_owns_get_cfg_path()
    cfg = load_config(user_config)
    assert cfg.model.backbone.model_name == "mobilenetv3_small_050"
    assert cfg.filename == str(user_config)
    assert _mmengine_owns_get_cfg_path()  # put back after loading


def test_the_prefix_resolves_only_inside_auzoo_bases(user_config):
    with pytest.raises((ValueError, AssertionError, ModuleNotFoundError, KeyError)):
        Config.fromfile(str(user_config))  # mmengine alone does not know 'auzoo::'
    with auzoo_bases():
        with auzoo_bases():  # nests
            assert not _mmengine_owns_get_cfg_path()
        assert not _mmengine_owns_get_cfg_path()
        cfg = Config.fromfile(str(user_config))
    assert _mmengine_owns_get_cfg_path()
    assert cfg.model == load_config(user_config).model


def test_mmengine_is_put_back_when_loading_fails(tmp_path):
    bad = tmp_path / "bad_base.py"
    bad.write_text("_base_ = ['auzoo::no_such_model']\n")
    with pytest.raises(KeyError, match="unknown model 'no_such_model'"):
        load_config(bad)
    assert _mmengine_owns_get_cfg_path()


def test_build_model_and_show_take_a_file_with_an_auzoo_base(user_config, capsys):
    model = auzoo.build_model(user_config)
    assert model.name == "my_small_net"
    assert type(model).__name__ == load_config("resnet50").model.type
    assert model.cfg.optim_wrapper == load_config("resnet50").optim_wrapper  # inherited
    assert main(["show", str(user_config)]) == 0
    out = capsys.readouterr().out
    assert "mobilenetv3_small_050" in out and "parameters" in out.lower()
    assert _mmengine_owns_get_cfg_path()
