"""auzoo: a pluggable model zoo for facial action unit detection."""
from __future__ import annotations

__version__ = "0.1.0"

from typing import Any, List

from auzoo.config import ConfigLike, apply_overrides, load_config, model_name


def list_models() -> List[str]:
    """Names of every buildable model: built-in configs and plugins' configs."""
    from auzoo import registry

    registry.ensure_loaded()
    return sorted(registry.CONFIGS)


def build_model(name_or_config: ConfigLike, **overrides: Any):
    """Build a model from a registered name, a config file, a dict or a Config.

    ``overrides`` change the model section, dotted keys allowed::

        build_model('tranet', **{'backbone.weights': 'senet50_ft.pth'})

    The returned module carries its resolved config as ``model.cfg``.
    """
    from auzoo import registry

    registry.ensure_loaded()
    cfg = load_config(name_or_config)
    if "model" not in cfg:
        raise KeyError(f"config {cfg.filename or '(dict)'} has no 'model' section")
    apply_overrides(cfg, overrides, prefix="model.")
    from auzoo.config_check import check_config
    from auzoo.config_source import key_locator

    check_config(cfg, key_locator(cfg, {f"model.{k}": v for k, v in overrides.items()},
                                  option_source="build_model override"), model_only=True)
    model = registry.build_part(registry.MODELS, cfg.model)
    model.cfg = cfg
    model.name = model_name(cfg)
    return model


def predict(*args, **kwargs):
    """AU table for images, folders and videos; see :func:`auzoo.inference.predict`."""
    from auzoo.inference import predict as _predict

    return _predict(*args, **kwargs)


def __getattr__(name: str):
    # auzoo.PredictOptions without importing the inference stack with auzoo
    if name == "PredictOptions":
        from auzoo.inference.options import PredictOptions
        return PredictOptions
    raise AttributeError(f"module 'auzoo' has no attribute {name!r}")


__all__ = ["__version__", "PredictOptions", "build_model", "list_models", "load_config",
           "predict"]
