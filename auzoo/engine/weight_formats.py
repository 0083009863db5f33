"""The weights ``auzoo eval``, ``predict`` and ``bench --weights`` score.

By default an auzoo checkpoint, which says what it is (model config, AUs,
fold, subjects). With the model named, also the files a published model's
authors released: a plugin registers a reader for its model's official files
in :data:`auzoo.registry.CHECKPOINT_FORMATS` (a :class:`CheckpointFormat`),
and auzoo never imports the plugin to use it. Such files carry neither the
AU order nor the dataset nor the fold, so the reader infers what it can
(the number of AUs, the file names) and checks the rest against the model;
auzoo then refuses a model that predicts the AUs in another order, loads
every tensor strictly, maps the official test part to auzoo's fold, and
records what was loaded (format, files with SHA-256, assumed AU order,
dataset, fold) in ``model.checkpoint_meta['loaded_from']``.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

from torch import Tensor, nn

from auzoo.engine.checkpoint import CheckpointError

PathLike = Union[str, os.PathLike]
AUZOO_FORMAT = "auzoo"


class CheckpointFormat:
    """Reads weights another code base saved into an auzoo model.

    Subclasses are registered in :data:`auzoo.registry.CHECKPOINT_FORMATS`
    and set :attr:`models` (the model classes, by name, they read into) and
    :attr:`description`; :meth:`read` returns ``(state_dict, record)``: the
    state dict in the model's own names (every tensor of the files used, or
    dropped by a stated rule), and a record with at least

    * ``files``: the files read (paths), in order;
    * ``aus``: the AU order the files are taken to predict;
    * ``dataset``: the registered dataset they were trained on, or None;
    * ``test_part``: the part of that dataset's protocol they were tested
      on (``'part3'``), or None where nothing says;
    * ``note``: how these were inferred, in words;

    plus whatever else says what was loaded (stage, backbone, K, epoch).
    It raises ``ValueError`` naming the file when the files do not fit the model.
    """

    models: Tuple[str, ...] = ()
    description: str = ""

    def fits(self, model: nn.Module) -> bool:
        return type(model).__name__ in self.models

    def read(self, paths: List[Path], model: nn.Module) -> Tuple[Dict[str, Tensor], Dict[str, Any]]:
        raise NotImplementedError

    def __call__(self, paths: List[Path], model: nn.Module):
        return self.read(paths, model)


def weight_paths(weights: Union[PathLike, Sequence[PathLike]]) -> List[Path]:
    """``--weights`` as paths: one file, one folder, or several files; each must exist."""
    items = [weights] if isinstance(weights, (str, os.PathLike)) else list(weights or [])
    if not items:
        raise ValueError("no weights given")
    paths = [Path(p).expanduser() for p in items]
    for p in paths:
        if not p.exists():
            raise FileNotFoundError(f"weights not found: {p}")
    return paths


def formats_for(model: nn.Module) -> Dict[str, CheckpointFormat]:
    """The registered formats that read weights into ``model``'s class."""
    from auzoo import registry

    registry.ensure_loaded()
    out = {}
    for name, cls in registry.CHECKPOINT_FORMATS.module_dict.items():
        reader = cls()
        if reader.fits(model):
            out[name] = reader
    return out


def _all_formats() -> str:
    from auzoo import registry

    registry.ensure_loaded()
    listed = [f"{name} ({', '.join(cls.models)})"
              for name, cls in sorted(registry.CHECKPOINT_FORMATS.module_dict.items())]
    return ", ".join(listed) or "none registered"


def _sha256_record(paths: Sequence[PathLike]) -> List[Dict[str, str]]:
    from auzoo.weights import file_sha256

    return [{"file": str(p), "sha256": file_sha256(p)} for p in paths]


def check_au_order(record: Dict[str, Any], model: nn.Module, source: str) -> None:
    """The files' AUs must be the model's, in the same order: a same-size model
    predicting other AUs would load without an error and mislabel every column."""
    theirs = tuple(int(a) for a in record["aus"])
    ours = tuple(int(a) for a in model.aus)
    if theirs != ours:
        name = getattr(model, "name", type(model).__name__)
        raise ValueError(
            f"{source}: the file predicts AUs {list(theirs)} ({record.get('dataset') or '?'}), "
            f"the model '{name}' predicts {list(ours)}. Build the model with the file's AUs, "
            f"in that order: --cfg-options \"model.aus=({','.join(map(str, theirs))})\"")


def official_fold(record: Dict[str, Any]) -> Dict[str, Any]:
    """auzoo's fold of the dataset whose test part is the files' test part,
    with its subjects; empty where the files do not say."""
    from auzoo.data.datasets import get_dataset

    if not record.get("dataset") or not record.get("test_part"):
        return {}
    dataset = get_dataset(record["dataset"])
    folds = [k for k, (_, test) in dataset.fold_parts.items() if tuple(test) == (record["test_part"],)]
    if len(folds) != 1:
        raise ValueError(f"{record['test_part']} of {dataset.name} is the test part of "
                         f"{len(folds)} auzoo folds, expected one")
    train, test = dataset.fold_subjects(folds[0])
    return dict(fold=folds[0], train_subjects=list(train), test_subjects=list(test))


def read_official(paths: List[Path], model: nn.Module) -> Dict[str, Any]:
    """Load official files into ``model`` strictly; returns the record of what was loaded."""
    from auzoo.weights import load_state_dict_strict

    shown = ", ".join(map(str, paths))
    readers = formats_for(model)
    if not readers:
        raise CheckpointError(
            f"{shown}: not an auzoo checkpoint, and no registered checkpoint format reads weights "
            f"into {type(model).__name__} (formats: {_all_formats()})")
    if len(readers) > 1:
        raise CheckpointError(f"{shown}: several checkpoint formats read into "
                              f"{type(model).__name__}: {', '.join(readers)}")
    (name, reader), = readers.items()
    state, record = reader(paths, model)
    source = ", ".join(map(str, record.get("files") or paths))
    check_au_order(record, model, source)
    load_state_dict_strict(model, state, f"{source} ({name})")
    record = dict(record, format=name, files=_sha256_record(record.get("files") or paths))
    record.update(official_fold(record))
    return record


def _build(model, cfg_options):
    """The model (no backbone weight file: the weights given hold every tensor) and its config."""
    import auzoo
    from auzoo.engine.checkpoint import _drop_pretrained
    from auzoo.engine.settings import resolve_config

    cfg = resolve_config(model, cfg_options)
    _drop_pretrained(cfg.get("model"))
    net = auzoo.build_model(cfg)
    return net, cfg


def load_weights(weights, model=None, cfg_options: Optional[Dict[str, Any]] = None) -> nn.Module:
    """The model to score, in eval mode, with ``checkpoint_meta`` saying what it is.

    ``weights``: an auzoo checkpoint, or (with ``model`` named: a registered
    name or a config file) the official files of that model, a file, a
    folder or several files. ``cfg_options`` change the named model's config.
    """
    from auzoo.engine.checkpoint import NotAnAuzooCheckpoint, build_from_checkpoint

    paths = weight_paths(weights)
    if len(paths) == 1 and paths[0].is_file():
        try:
            net = build_from_checkpoint(paths[0], model=_auzoo_model(model, cfg_options))
            net.checkpoint_meta["loaded_from"] = dict(format=AUZOO_FORMAT,
                                                      files=_sha256_record(paths))
            return net
        except NotAnAuzooCheckpoint:
            if model is None:
                raise CheckpointError(
                    f"{paths[0]}: not an auzoo checkpoint. Official weights of a published model "
                    "load when the model is named: auzoo eval MODEL --weights FILE, auzoo predict "
                    f"... --weights FILE --model MODEL (formats: {_all_formats()})") from None
    elif model is None:
        raise CheckpointError(f"{', '.join(map(str, paths))}: a folder or several files are "
                              "official weights of a published model: name the model "
                              f"(formats: {_all_formats()})")
    if isinstance(model, nn.Module):
        raise TypeError("official weights need the model's config: give its name or config file")
    net, cfg = _build(model, cfg_options)
    record = read_official(paths, net)
    data = dict(cfg.get("data") or {})
    net.checkpoint_meta = dict(
        model=net.name, config=cfg.pretty_text, aus=list(net.aus),
        img_size=int(cfg.get("img_size", 224)), dataset=record.get("dataset"),
        fold=record.get("fold"), train_subjects=record.get("train_subjects", []),
        test_subjects=record.get("test_subjects", []), bad_frames=data.get("bad_frames", "drop"),
        protocol=dict(threshold=data.get("threshold")), loaded_from=record)
    return net.eval()


def _auzoo_model(model, cfg_options):
    """The model an auzoo checkpoint is loaded into: its own (None), or the one named,
    with ``cfg_options`` applied to its config."""
    if model is None or isinstance(model, nn.Module) or not cfg_options:
        return model
    from auzoo.engine.settings import resolve_config

    return resolve_config(model, cfg_options)


def describe_loaded(meta: Dict[str, Any]) -> List[str]:
    """What was loaded, in lines for the console."""
    rec = meta.get("loaded_from") or {}
    if not rec:
        return []
    files = "; ".join(f"{Path(f['file']).name} (sha256 {f['sha256'][:16]}…)" for f in rec["files"])
    lines = [f"weights: {rec['format']}: {files}"]
    if rec["format"] != AUZOO_FORMAT:
        lines.append(f"assumed AU order {rec.get('aus')}, dataset {rec.get('dataset') or 'not known'}"
                     + (f", auzoo fold {rec['fold']} (tests {rec['test_part']})" if rec.get("fold")
                        else ", fold not known"))
        if rec.get("note"):
            lines.append(rec["note"])
    return lines


__all__ = ["AUZOO_FORMAT", "CheckpointFormat", "check_au_order", "describe_loaded", "formats_for",
           "load_weights", "official_fold", "read_official", "weight_paths"]
