"""The plugin mechanism: entry-point distributions that add parts and configs.

Each test writes a small distribution (a package plus a ``.dist-info`` with an
``auzoo.plugins`` entry point) to a temporary folder and puts that folder on
``sys.path``, which is all ``pip install`` leaves behind that matters here.
"""
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

import auzoo
from auzoo import plugin_loader, registry
from auzoo.catalogue import catalogues
from auzoo.cli import main

DIST = "auzoo-scratch-plugin"
PLUGIN = "scratch"

# A plugin as docs/plugins.md describes it: a registered head, a registered
# model that uses it, and a config inheriting a built-in one.
GOOD_PLUGIN = '''
from pathlib import Path

from torch import nn

from auzoo.registry import HEADS, MODELS, build_part, register_config_dir


@HEADS.register_module()
class ScratchPluginHead(nn.Module):
    def __init__(self, in_channels, num_classes):
        super().__init__()
        self.fc = nn.Linear(in_channels, num_classes)

    def forward(self, x):
        return self.fc(x.mean(dim=(2, 3)))


@MODELS.register_module()
class ScratchPluginNet(nn.Module):
    requires_landmarks = False

    def __init__(self, aus, head, width=4):
        super().__init__()
        self.aus = tuple(aus)
        self.loss_groups = [tuple(range(len(self.aus)))]
        self.conv = nn.Conv2d(3, width, 3)
        self.head = build_part(HEADS, head, in_channels=width, num_classes=len(self.aus))

    def forward(self, images, landmarks=None):
        return self.head(self.conv(images))


register_config_dir(Path(__file__).parent / "configs")
'''

GOOD_CONFIG = '''
_base_ = ['auzoo::tranet']
model = dict(_delete_=True, type='ScratchPluginNet', aus=(1, 2, 4),
             head=dict(type='ScratchPluginHead'))
'''


def write_plugin(root: Path, source: str, configs=None, dist=DIST, package="auzoo_scratch_plugin",
                 name=PLUGIN, entry_point=None, version="1.2.3") -> Path:
    """Write an installed-looking distribution with one ``auzoo.plugins`` entry point."""
    pkg = root / package
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text(textwrap.dedent(source))
    if configs:
        (pkg / "configs").mkdir()
        for stem, text in configs.items():
            (pkg / "configs" / f"{stem}.py").write_text(textwrap.dedent(text))
    info = root / f"{dist.replace('-', '_')}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
    (info / "entry_points.txt").write_text(
        f"[{registry.PLUGIN_GROUP}]\n{name} = {entry_point or package}\n")
    (info / "top_level.txt").write_text(package + "\n")
    return info


@pytest.fixture
def plugin_env(tmp_path, monkeypatch):
    """A folder on sys.path for scratch distributions; every registry as it was afterwards."""
    registry.ensure_loaded()  # built-ins and installed plugins first, so they are kept
    saved = {key: cat.save() for key, cat in catalogues().items()}
    plugins = plugin_loader._plugins
    modules = set(sys.modules)
    monkeypatch.delenv(registry.DISABLE_PLUGINS_ENV, raising=False)
    monkeypatch.setenv("COLUMNS", "250")  # rich tables, one row per line
    root = tmp_path / "site"
    root.mkdir()
    monkeypatch.syspath_prepend(str(root))
    yield root
    for key, cat in catalogues().items():
        cat.restore(saved[key])
    plugin_loader._plugins = plugins
    for name in set(sys.modules) - modules:
        if name.startswith("auzoo_scratch"):
            del sys.modules[name]


def _plugin(infos, name=PLUGIN):
    matches = [p for p in infos if p.name == name]
    assert len(matches) == 1, [p.name for p in infos]
    return matches[0]


def test_plugin_registers_a_part_that_its_config_uses(plugin_env):
    write_plugin(plugin_env, GOOD_PLUGIN, configs={"scratch_net": GOOD_CONFIG})
    info = _plugin(registry.load_plugins(reload=True))
    assert info.status == "loaded", info.error
    assert (info.distribution, info.version) == (DIST, "1.2.3")
    assert info.registered == ["configs:scratch_net", "heads:ScratchPluginHead",
                               "models:ScratchPluginNet"]
    provider = f"plugin {PLUGIN} ({DIST} 1.2.3)"
    assert registry.provider_of("heads", "ScratchPluginHead").name == provider
    assert registry.provider_of("configs", "scratch_net").name == provider
    assert "scratch_net" in auzoo.list_models()

    model = auzoo.build_model("scratch_net")
    assert type(model).__name__ == "ScratchPluginNet" and model.name == "scratch_net"
    assert type(model.head).__name__ == "ScratchPluginHead"
    assert model(torch.rand(2, 3, 16, 16)).shape == (2, 3)
    # the config inherits the built-in's data protocol and schedule
    builtin = auzoo.load_config("tranet")
    assert model.cfg.optim_wrapper == builtin.optim_wrapper and model.cfg.data == builtin.data
    assert model.cfg.train_cfg == builtin.train_cfg
    assert model.cfg.img_size == builtin.img_size
    assert "backbone" not in model.cfg.model


def test_failing_plugin_leaves_no_trace_and_does_not_break_list(plugin_env, capsys):
    write_plugin(plugin_env, '''
        from torch import nn
        from auzoo.registry import HEADS

        @HEADS.register_module()
        class HalfRegisteredHead(nn.Module):
            pass

        raise ImportError("scratch plugin needs a library that is not installed")
    ''')
    with pytest.warns(RuntimeWarning, match="auzoo plugin 'scratch' from auzoo-scratch-plugin") as caught:
        info = _plugin(registry.load_plugins(reload=True))
    # the warning points at the plugin's own line, not at auzoo's loader
    warning = next(w for w in caught if "failed to load" in str(w.message))
    plugin_file = plugin_env / "auzoo_scratch_plugin" / "__init__.py"
    assert Path(warning.filename).resolve() == plugin_file.resolve()
    raise_line = plugin_file.read_text().splitlines().index(
        'raise ImportError("scratch plugin needs a library that is not installed")') + 1
    assert warning.lineno == raise_line
    assert info.status == "failed"
    assert "ImportError: scratch plugin needs a library" in info.error
    assert "HalfRegisteredHead" not in registry.HEADS.module_dict  # rolled back

    assert main(["list", "all"]) == 0
    out = capsys.readouterr().out
    assert "failed" in out and "scratch plugin needs a library" in out
    assert "tranet" in out and "ThreeRegionSplitter" in out  # built-ins still listed


def test_conflict_with_a_builtin_keeps_the_builtin_and_the_plugins_other_parts(plugin_env):
    builtin = next(name for name, p in registry.BACKBONES.providers.items()
                   if p.name == registry.BUILTIN)
    builtin_class = registry.BACKBONES.get(builtin)
    write_plugin(plugin_env, f'''
        from torch import nn
        from auzoo.registry import BACKBONES, HEADS

        @HEADS.register_module()
        class ScratchHeadBeforeTheClash(nn.Module):
            pass

        @BACKBONES.register_module(name={builtin!r})
        class ShadowBackbone(nn.Module):
            pass

        @HEADS.register_module()
        class ScratchHeadAfterTheClash(nn.Module):
            pass
    ''')
    with pytest.warns(RuntimeWarning, match=f"backbones:{builtin} refused"):
        info = _plugin(registry.load_plugins(reload=True))
    assert info.status == "loaded", info.error
    assert len(info.conflicts) == 1
    assert f"backbones:{builtin} refused: auzoo's own has this name ({registry.BUILTIN} at " \
        in info.conflicts[0]
    # the built-in keeps its name, the plugin keeps everything else
    assert registry.BACKBONES.get(builtin) is builtin_class
    assert registry.provider_of("backbones", builtin).name == registry.BUILTIN
    assert {"ScratchHeadBeforeTheClash", "ScratchHeadAfterTheClash"} <= set(registry.HEADS.module_dict)
    assert info.registered == ["heads:ScratchHeadAfterTheClash", "heads:ScratchHeadBeforeTheClash"]


def test_config_name_clash_with_a_builtin_is_reported(plugin_env):
    write_plugin(plugin_env, GOOD_PLUGIN, configs={"tranet": GOOD_CONFIG})
    with pytest.warns(RuntimeWarning, match="configs:tranet refused"):
        info = _plugin(registry.load_plugins(reload=True))
    assert info.status == "loaded"
    assert any("configs:tranet refused" in c and registry.BUILTIN in c for c in info.conflicts)
    assert registry.provider_of("configs", "tranet").name == registry.BUILTIN
    assert "ScratchPluginNet" in registry.MODELS.module_dict  # its parts stay


SECOND_PLUGIN = '''
from pathlib import Path

from torch import nn

from auzoo.registry import HEADS, register_config_dir


@HEADS.register_module(name="ScratchPluginHead")
class AnotherHead(nn.Module):
    pass


@HEADS.register_module()
class OnlyInTheSecondPlugin(nn.Module):
    pass


register_config_dir(Path(__file__).parent / "configs")
'''


def _two_clashing_plugins(site: Path) -> None:
    # Both register config 'scratch_net' and head 'ScratchPluginHead'; each has its own config too.
    write_plugin(site, GOOD_PLUGIN, configs={"scratch_net": GOOD_CONFIG, "scratch_first": GOOD_CONFIG})
    write_plugin(site, SECOND_PLUGIN, configs={"scratch_net": GOOD_CONFIG, "scratch_second": GOOD_CONFIG},
                 dist="auzoo-scratch-second", package="auzoo_scratch_second", name="scratch2",
                 version="0.9")


def test_two_plugins_with_one_name_lose_it_both_and_keep_the_rest(plugin_env, capsys):
    _two_clashing_plugins(plugin_env)
    with pytest.warns(RuntimeWarning, match="refused: also provided by"):
        infos = registry.load_plugins(reload=True)
    first, second = _plugin(infos), _plugin(infos, "scratch2")
    assert first.status == second.status == "loaded"
    # the clashing names mean nothing now, in both
    assert "scratch_net" not in registry.CONFIGS and "scratch_net" not in auzoo.list_models()
    assert "ScratchPluginHead" not in registry.HEADS.module_dict
    assert [p.name for p in registry.AMBIGUOUS_CONFIGS["scratch_net"]] == [first.provider, second.provider]
    assert [p.name for p in registry.HEADS.ambiguous["ScratchPluginHead"]] == [
        first.provider, second.provider]
    # every other registration of both stays
    assert {"scratch_first", "scratch_second"} <= set(registry.CONFIGS)
    assert "ScratchPluginNet" in registry.MODELS.module_dict
    assert "OnlyInTheSecondPlugin" in registry.HEADS.module_dict
    assert "configs:scratch_net" not in first.registered and "configs:scratch_first" in first.registered
    for info in (first, second):
        assert any(c.startswith("configs:scratch_net refused: also provided by") for c in info.conflicts)
        assert any(c.startswith("heads:ScratchPluginHead refused") for c in info.conflicts)

    # building through the ambiguous head, or showing the ambiguous config, names both plugins
    with pytest.raises(registry.RegistryConflictError, match="ambiguous") as err:
        auzoo.build_model("scratch_first")
    assert first.provider in str(err.value) and second.provider in str(err.value)
    assert main(["show", "scratch_net"]) == 2
    shown = capsys.readouterr().err
    assert "'scratch_net' is ambiguous" in shown
    assert first.provider in shown and second.provider in shown

    assert main(["list", "plugins"]) == 0
    listed = capsys.readouterr().out
    assert "with conflicts" in listed and "configs:scratch_net refused" in listed


def test_two_plugins_clash_in_a_fresh_process(tmp_path):
    site = tmp_path / "site"
    _two_clashing_plugins(site)
    listed = _auzoo_list(site)
    assert "refused: ambiguous" in listed and "scratch_net" in listed
    assert "scratch_first" in listed and "scratch_second" in listed


def test_a_failing_plugin_gives_up_its_claim(plugin_env):
    write_plugin(plugin_env, GOOD_PLUGIN, configs={"scratch_net": GOOD_CONFIG})
    write_plugin(plugin_env, '''
        from pathlib import Path
        from auzoo.registry import register_config_dir
        register_config_dir(Path(__file__).parent / "configs")
        raise RuntimeError("broken after registering")
    ''', configs={"scratch_net": GOOD_CONFIG}, dist="auzoo-scratch-second",
                 package="auzoo_scratch_second", name="scratch2")
    with pytest.warns(RuntimeWarning, match="failed to load"):
        infos = registry.load_plugins(reload=True)
    assert _plugin(infos, "scratch2").status == "failed"
    assert _plugin(infos).conflicts == []
    assert registry.provider_of("configs", "scratch_net").name == _plugin(infos).provider


def test_no_plugins_env_turns_loading_off(plugin_env, monkeypatch, capsys):
    write_plugin(plugin_env, GOOD_PLUGIN, configs={"scratch_net": GOOD_CONFIG})
    monkeypatch.setenv(registry.DISABLE_PLUGINS_ENV, "1")
    info = _plugin(registry.load_plugins(reload=True))
    assert info.status == "disabled" and info.registered == []
    assert "auzoo_scratch_plugin" not in sys.modules  # not even imported
    assert "ScratchPluginNet" not in registry.MODELS.module_dict
    assert main(["list", "plugins"]) == 0
    out = capsys.readouterr().out
    assert "disabled" in out and f"plugin loading is off ({registry.DISABLE_PLUGINS_ENV} is set)" in out


def _auzoo_list(site: Path, *extra_env) -> str:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")]),
               COLUMNS="250", **dict(extra_env))
    env.pop(registry.DISABLE_PLUGINS_ENV, None)
    done = subprocess.run([sys.executable, "-m", "auzoo.cli", "list", "all"], env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_uninstalled_plugin_disappears_from_auzoo_list(tmp_path):
    site = tmp_path / "site"
    info = write_plugin(site, GOOD_PLUGIN, configs={"scratch_net": GOOD_CONFIG})
    listed = _auzoo_list(site)
    assert "scratch_net" in listed and "ScratchPluginHead" in listed and DIST in listed

    # what `pip uninstall` removes: the package and its .dist-info
    shutil.rmtree(site / "auzoo_scratch_plugin"), shutil.rmtree(info)
    listed = _auzoo_list(site)
    assert "scratch_net" not in listed and "ScratchPluginHead" not in listed and DIST not in listed
    assert "tranet" in listed and "ThreeRegionSplitter" in listed  # nothing else is lost


def _row_plugin(f1) -> str:
    return f'''
        from auzoo.report.published import PublishedResult, register_published

        register_published(PublishedResult(
            method="Scratch-Net", dataset="disfa", aus=(1, 2), f1={f1!r}, citation="A. Author",
            models=("scratch_net",)))
    '''


def test_published_rows_clash_by_the_same_rule_as_parts_and_configs(plugin_env, capsys):
    from auzoo.report.published import PUBLISHED, published_for

    write_plugin(plugin_env, _row_plugin((1.0, 2.0)))
    write_plugin(plugin_env, _row_plugin((3.0, 4.0)), dist="auzoo-scratch-second",
                 package="auzoo_scratch_second", name="scratch2")
    with pytest.warns(RuntimeWarning, match="published:Scratch-Net/disfa refused: also provided by"):
        infos = registry.load_plugins(reload=True)
    first, second = _plugin(infos), _plugin(infos, "scratch2")
    # the second row did not fail its plugin: both load, neither row is set beside a model
    assert first.status == second.status == "loaded"
    assert ("Scratch-Net", "disfa") not in PUBLISHED
    assert published_for("scratch_net", "disfa") is None
    with pytest.raises(registry.RegistryConflictError, match="ambiguous"):
        published_for("scratch_net", "disfa", dict(published="Scratch-Net"))
    assert main(["list", "plugins"]) == 0
    assert "published:Scratch-Net/disfa refused" in capsys.readouterr().out
