"""Model configs: resolve a name, a file or a dict to an mmengine ``Config``.

A user's config file inherits a registered config by name with the
``auzoo::`` prefix::

    _base_ = ['auzoo::tranet']          # or 'auzoo::tranet.py'
    model = dict(neck=dict(out_channels=256))

Relative ``_base_`` paths keep their usual mmengine meaning.

mmengine itself does not know ``auzoo::`` (its ``pkg::`` bases name OpenMMLab
packages), and auzoo does not change that for the whole process: only its
own loading (:func:`load_config`, and so ``auzoo.build_model``, ``auzoo
train``, ``auzoo show``) resolves the prefix, inside :func:`auzoo_bases`. To
read such a file with mmengine's ``Config.fromfile`` directly, do it inside
that context manager::

    with auzoo.config.auzoo_bases():
        cfg = Config.fromfile('my_tranet.py')
"""
from __future__ import annotations

import contextlib
import difflib
import threading
from pathlib import Path
from typing import Any, Iterator, Mapping, Union

from mmengine.config import Config

from auzoo import registry

ConfigLike = Union[str, Path, Mapping, Config]

_PREFIX = "auzoo::"


def config_path(name: str) -> Path:
    """The file of registered model config ``name``, or of a piece of auzoo's
    own ``_base_`` (``_base_/schedules/paper.py``); a clear error if unknown."""
    if "/" in name:
        from auzoo.configs import CONFIG_DIR

        path = CONFIG_DIR / (name if name.endswith(".py") else f"{name}.py")
        if not path.is_file():
            raise KeyError(f"auzoo has no config piece '{name}' (looked for {path})")
        return path
    registry.ensure_loaded()
    stem = name[:-3] if name.endswith(".py") else name
    registry.CONFIG_CATALOGUE.check(stem)
    if stem in registry.CONFIGS:
        return registry.CONFIGS[stem]
    known = sorted(registry.CONFIGS)
    plugin = plugin_providing(stem)
    if plugin is not None:
        if registry.plugins_disabled():
            raise KeyError(f"unknown model '{name}': it comes with the plugin in {plugin}, and "
                           f"plugin loading is off ({registry.DISABLE_PLUGINS_ENV} is set)")
        raise KeyError(f"unknown model '{name}': it comes with the plugin in {plugin}, which is "
                       f"not installed. Install it from auzoo's source folder: "
                       f"pip install -e {plugin}")
    close = difflib.get_close_matches(stem, known, n=3)
    hint = f" Did you mean: {', '.join(close)}?" if close else ""
    raise KeyError(f"unknown model '{name}'.{hint} Models: {', '.join(known)}")


# The models of the plugins that ship in auzoo's source folder (plugins/), so
# that a model named in the docs but not installed says where it comes from.
# A source checkout is also searched, for plugins added there since.
PLUGIN_MODELS = {
    "megraphau_r50": "plugins/auzoo-megraphau",
    "megraphau_r50_stage1": "plugins/auzoo-megraphau",
    "megraphau_swinb": "plugins/auzoo-megraphau",
    "megraphau_swinb_stage1": "plugins/auzoo-megraphau",
    "jaanet": "plugins/auzoo-jaanet",
    "drml": "plugins/auzoo-drml",
    "jaa_lite": "plugins/auzoo-jaa-lite",
    "fmae_vitb": "plugins/auzoo-fmae",
    "fmae_iat_vitb": "plugins/auzoo-fmae",
    "fmae_vitl": "plugins/auzoo-fmae",
    "fmae_iat_vitl": "plugins/auzoo-fmae",
}


def plugin_providing(model: str):
    """The plugin folder (``plugins/NAME``) whose configs define ``model``, or None."""
    source = Path(__file__).resolve().parent.parent / "plugins"
    for config in sorted(source.glob("*/*/configs/*.py")):
        if config.stem == model and not config.name.startswith("_"):
            return f"plugins/{config.parents[2].name}"
    return PLUGIN_MODELS.get(model)


# mmengine reads each ``_base_`` entry through the one static method
# ``Config._get_cfg_path`` (called by class name, so a subclass cannot
# override it); '::' there means an OpenMMLab package. auzoo's catalogue is a
# plain name -> file map, so while auzoo loads a config that method resolves
# 'auzoo::' itself and hands every other base to mmengine's unchanged; on the
# way out mmengine's own is put back.
_MMENGINE_GET_CFG_PATH = Config.__dict__["_get_cfg_path"]
_mmengine_get_cfg_path = _MMENGINE_GET_CFG_PATH.__func__
_users = 0
_users_lock = threading.Lock()


def _get_cfg_path(cfg_path: str, filename: str):
    if cfg_path.startswith(_PREFIX):
        return str(config_path(cfg_path[len(_PREFIX):])), None
    return _mmengine_get_cfg_path(cfg_path, filename)


@contextlib.contextmanager
def auzoo_bases() -> Iterator[None]:
    """Inside, mmengine's ``Config`` resolves ``_base_ = ['auzoo::NAME']``;
    outside, mmengine is as shipped. Nests, and is safe across threads."""
    global _users
    with _users_lock:
        if _users == 0:
            Config._get_cfg_path = staticmethod(_get_cfg_path)
        _users += 1
    try:
        yield
    finally:
        with _users_lock:
            _users -= 1
            if _users == 0:
                Config._get_cfg_path = _MMENGINE_GET_CFG_PATH


def _fromfile(path) -> Config:
    with auzoo_bases():
        return Config.fromfile(str(path))


def load_config(source: ConfigLike) -> Config:
    """A ``Config`` from a model name, a config file path, a dict or a Config."""
    if isinstance(source, Config):
        return source.copy()
    if isinstance(source, Mapping):
        return Config(dict(source))
    text = str(source)
    if text.startswith(_PREFIX):
        text = text[len(_PREFIX):]
    path = Path(text)
    if path.suffix == ".py" and path.is_file():
        return _fromfile(path)
    if path.suffix == ".py" and (path.parent != Path(".") or path.exists()):
        raise FileNotFoundError(f"config file not found: {path}")
    return _fromfile(config_path(text))


def apply_overrides(cfg: Config, overrides: Mapping[str, Any], prefix: str = "") -> Config:
    """Merge ``{'a.b': 1}``-style overrides (dotted keys allowed) into ``cfg``."""
    if overrides:
        try:
            cfg.merge_from_dict({f"{prefix}{key}": value for key, value in overrides.items()})
        except TypeError as exc:  # e.g. a dict merged into an entry that is None
            raise ValueError(f"cannot apply overrides {dict(overrides)} to "
                             f"{cfg.filename or 'the config'}: {exc}") from exc
    return cfg


def model_name(cfg: Config) -> str:
    """The name a config is known by: its file's stem, or ``custom``."""
    return Path(cfg.filename).stem if cfg.filename else cfg.get("name", "custom")
