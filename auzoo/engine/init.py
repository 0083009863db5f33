"""Where a run's weights start, and the epochs a run keeps for others to start from.

A config's ``init_from`` (none: every weight from the model's own initialisers)
is one of two things:

* **a first stage**, ``dict(config=NAME, keys=[prefixes])``: NAME trains first on
  the same fold, seed and data (in ``WORK_DIR/init_from/NAME``) and the listed
  state-dict prefixes of its best checkpoint start this run (two-stage recipes).
* **another run**, at one epoch, through a registered weight transfer::

      init_from = dict(
          datasets=('disfa',),    # where it applies; on other data the run starts fresh
          source=dict(config='jaanet', dataset='bp4d', fold=2, epoch=5,
                      cfg_options=dict(model=dict(aus=(1, 2, 4, ...)))),
          transfer=dict(type='JAANetAUTransfer', ...),  # WEIGHT_TRANSFERS
          checkpoint=None,        # that run's work dir, or one of its checkpoints
          source_data=None,       # or its data: this run trains it first
          scratch='jaanet_scratch')  # the config that starts from random weights

  The source run's dataset, fold and epoch are checked against the checkpoint's
  own record. With ``source_data`` the run trains its source first (in
  ``WORK_DIR/init_from/``, resumable) with the source's config and
  ``cfg_options`` and the run's preset, seed and device. Without either the
  run is refused with a message that says how to make the source run and
  names ``scratch``.

A run keeps the weights of the epochs in its config's ``keep_epochs`` as auzoo
checkpoints ``WORK_DIR/weights/epoch_N.pth`` (:class:`KeepEpochWeights`): its
resume checkpoints are removed once it has finished, and ``best.pth`` is the
chosen epoch, not necessarily the one another recipe starts from.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, Mapping, Optional, Sequence

from mmengine.dist import is_main_process
from mmengine.hooks import Hook
from torch import nn

from auzoo.registry import WEIGHT_TRANSFERS

WEIGHTS_DIR = "weights"
# ``source_data`` of the synthetic demo: the synthetic BP4D, made on first use
# (auzoo.bench.demo).
SYNTHETIC_DATA = ("synthetic:bp4d", "synthetic:disfa")


class InitError(ValueError):
    """A run whose ``init_from`` cannot be met; the message says what to set."""


def epoch_weights_path(work_dir, epoch: int) -> Path:
    return Path(work_dir) / WEIGHTS_DIR / f"epoch_{int(epoch)}.pth"


@WEIGHT_TRANSFERS.register_module()
class TakePrefixes:
    """Copy every key under ``keys`` (state-dict prefixes); each must exist in
    both models with the same shape, and everything else stays as built."""

    def __init__(self, keys: Sequence[str]):
        self.keys = tuple(keys)

    def __call__(self, model: nn.Module, state: Mapping, source_meta: Mapping, where: str) -> dict:
        from auzoo.engine.checkpoint import CheckpointError
        from auzoo.weights import WeightsMismatchError, load_state_dict_strict

        try:
            load_state_dict_strict(model, state, where, prefixes=self.keys)
        except WeightsMismatchError as exc:
            raise CheckpointError(str(exc)) from None
        return dict(keys=list(self.keys), tensors=sum(k.startswith(self.keys) for k in state))


# --------------------------------------------------------------------------
# before the run: what init_from asks for, or why it cannot be met
# --------------------------------------------------------------------------

def is_first_stage(init: Optional[Mapping]) -> bool:
    return bool(init) and bool(init.get("config"))


def applies(init: Optional[Mapping], dataset: str) -> bool:
    """Whether ``init_from`` starts a run on ``dataset``."""
    if not init:
        return False
    datasets = init.get("datasets")
    return not datasets or dataset in tuple(datasets)


def _flat(options: Mapping, prefix: str = "") -> Dict[str, Any]:
    out: Dict[str, Any] = {}
    for key, value in options.items():
        if isinstance(value, Mapping):
            out.update(_flat(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def _option_text(options: Mapping) -> str:
    def text(v):
        if isinstance(v, (list, tuple)):
            return "(" + ",".join(map(str, v)) + ")"
        return str(v)
    pairs = [f"{k}={text(v)}" for k, v in _flat(options).items()]
    return f' --cfg-options "{" ".join(pairs)}"' if pairs else ""


def _source_text(source: Mapping) -> str:
    from auzoo.registry import PROTOCOLS

    dataset, fold = source["dataset"], source["fold"]
    parts = ""
    kind = PROTOCOLS.get(dataset)
    fold_parts = getattr(kind, "fold_parts", {}) or {}
    if int(fold) in fold_parts:
        parts = f" (trained on {' + '.join(fold_parts[int(fold)][0])})"
    epoch = source.get("epoch")
    return (f"'{source['config']}' trained on {dataset}, fold {fold}{parts}, "
            + (f"epoch {epoch}" if epoch is not None else "its best epoch"))


def refusal(name: str, dataset: str, init: Mapping) -> str:
    """What a run without the source run it needs is told."""
    source = init["source"]
    epoch = source.get("epoch")
    kept = f"{WEIGHTS_DIR}/epoch_{epoch}.pth" if epoch is not None else "best.pth"
    work = f"work_dirs/{Path(str(source['config'])).stem}_{source['dataset']}/fold{source['fold']}"
    scratch = init.get("scratch")
    lines = [
        f"'{name}' on {dataset} starts from the weights of another run, as its authors' recipe "
        f"does: {_source_text(source)}. None is given (init_from.checkpoint). Either",
        f"  * train that run once: auzoo train {source['config']} --data "
        f"{source['dataset'].upper()}_CACHE --fold {source['fold']} --work-dir {work}"
        f"{_option_text(source.get('cfg_options') or {})}",
        f"    and start from it: --cfg-options init_from.checkpoint={work} (its {kept});",
        f"  * or let this run train it first: --cfg-options init_from.source_data="
        f"{source['dataset'].upper()}_CACHE;"]
    if scratch:
        lines.append(f"  * or train from random weights: the config '{scratch}' (same model "
                     "and schedule, no init_from).")
    return "\n".join(lines)


def resolve_checkpoint(path, source: Mapping) -> Path:
    """The source run's checkpoint: ``path`` itself, or in a work dir the kept
    epoch (``weights/epoch_N.pth``; ``best.pth`` when the epoch is None)."""
    path = Path(path).expanduser()
    epoch = source.get("epoch")
    if path.is_dir():
        file = epoch_weights_path(path, epoch) if epoch is not None else path / "best.pth"
        if not file.is_file():
            have = sorted(str(p.relative_to(path)) for p in
                          [*path.glob("*.pth"), *path.glob(f"{WEIGHTS_DIR}/*.pth")])
            raise InitError(f"{path}: no {file.relative_to(path)} in this work dir (it holds "
                            f"{', '.join(have) or 'no checkpoint'}): the run must keep epoch "
                            f"{epoch} (config key keep_epochs, which '{source['config']}' sets), "
                            "or give init_from.checkpoint a checkpoint file")
        return file
    if not path.is_file():
        raise InitError(f"init_from.checkpoint: {path} is neither a checkpoint nor a work dir")
    return path


def check_source(path: Path, meta: Mapping, source: Mapping) -> None:
    """The checkpoint is the source run the recipe names: dataset, fold, epoch."""
    epoch = meta.get("epoch", (meta.get("best") or {}).get("epoch"))
    have = dict(dataset=meta.get("dataset"), fold=meta.get("fold"), epoch=epoch)
    want = dict(dataset=source["dataset"], fold=int(source["fold"]), epoch=source.get("epoch"))
    wrong = [f"{k} {have[k]!r} (wanted {v!r})" for k, v in want.items()
             if v is not None and have[k] != v]
    if wrong:
        raise InitError(f"{path}: not the run init_from names ({_source_text(source)}): it has "
                        + ", ".join(wrong) + "; give that run's checkpoint, or change "
                        "init_from.source if you mean another")


def source_checkpoint(path, source: Mapping) -> str:
    """The checkpoint file of the source run at ``path`` (a file or a work dir), checked."""
    from auzoo.engine.checkpoint import load_checkpoint

    file = resolve_checkpoint(path, source)
    meta, _ = load_checkpoint(file)
    check_source(file, meta, source)
    return str(file.resolve())


def plan_init(cfg, dataset: str) -> Optional[Dict[str, Any]]:
    """What ``init_from`` asks of a run on ``dataset``: None (nothing), the first
    stage to train, or another run's checkpoint / data. Refuses, before any
    work, a recipe whose source run is not given."""
    init = cfg.get("init_from")
    if not applies(init, dataset):
        return None
    init = init.to_dict() if hasattr(init, "to_dict") else dict(init)
    if is_first_stage(init):
        if not init.get("keys"):
            raise ValueError(f"config of '{cfg.name}': init_from needs 'keys', the state-dict "
                             "prefixes to take from the first stage")
        return init
    for key in ("source", "transfer"):
        if not init.get(key):
            raise ValueError(f"config of '{cfg.name}': init_from needs 'config' and 'keys' (a "
                             "first stage) or 'source' and 'transfer' (another run)")
    if init.get("checkpoint"):
        init["checkpoint"] = source_checkpoint(init["checkpoint"], init["source"])
    elif not init.get("source_data"):
        raise InitError(refusal(cfg.name, dataset, init))
    return init


def source_spec(init: Mapping) -> Dict[str, Any]:
    """How this run trains its source run itself (``init_from.source_data``):
    the config, fold and options, keeping the epoch the recipe starts from."""
    source = init["source"]
    options = _flat(source.get("cfg_options") or {})
    if source.get("epoch") is not None:
        options["keep_epochs"] = [int(source["epoch"])]
    data = str(init["source_data"])
    if data in SYNTHETIC_DATA:
        from auzoo.bench.demo import synthetic_data
        data = str(synthetic_data(data))
    return dict(model=str(source["config"]), data=data, fold=int(source["fold"]),
                cfg_options=options,
                folder=f"{Path(str(source['config'])).stem}-{source['dataset']}-fold{source['fold']}")


# --------------------------------------------------------------------------
# building the model: take the weights
# --------------------------------------------------------------------------

def apply_init(model: nn.Module, init: Mapping) -> Dict[str, Any]:
    """Start ``model`` from ``init`` (as :func:`plan_init` left it, the
    checkpoint resolved); returns the record results keep."""
    from auzoo.engine.checkpoint import load_checkpoint
    from auzoo.registry import build_part

    path = init["checkpoint"]
    meta, state = load_checkpoint(path)
    if is_first_stage(init):
        record = TakePrefixes(init["keys"])(model, state, meta,
                                            f"{path} (init_from, first stage)")
        return dict(checkpoint=str(path), config=init.get("config"), **record)
    transfer = build_part(WEIGHT_TRANSFERS, init["transfer"])
    record = transfer(model, state, meta, f"{path} (init_from)")
    source = dict(init["source"])
    return dict(checkpoint=str(path), transfer=dict(init["transfer"]),
                source=dict(source, model=meta.get("model"), data=meta.get("data"),
                            data_checksum=meta.get("data_checksum"), aus=meta.get("aus"),
                            seed=meta.get("seed"), preset=meta.get("preset")),
                **record)


def init_statement(cfg, dataset: str, record: Optional[Mapping]) -> str:
    """One line for results: where the run's weights started."""
    init = cfg.get("init_from")
    if record:
        if record.get("keys") and not record.get("transfer"):
            return (f"first stage '{record.get('config')}': {', '.join(record['keys'])} of "
                    f"{record['checkpoint']}")
        return (f"{_source_text(record['source'])}, through {record['transfer'].get('type')}: "
                f"{record['checkpoint']}")
    if init and not applies(init, dataset):
        return (f"no other run's weights (init_from applies on "
                f"{', '.join(init.get('datasets'))}; this run is on {dataset})")
    return "no other run's weights (no init_from): the model's own initialisation"


# --------------------------------------------------------------------------
# the epochs a run keeps
# --------------------------------------------------------------------------

class KeepEpochWeights(Hook):
    """Write the model's weights after each epoch in ``epochs`` as an auzoo
    checkpoint ``WORK_DIR/weights/epoch_N.pth`` whose meta says what run made it."""

    priority = "LOW"

    def __init__(self, epochs: Sequence[int], meta: Mapping[str, Any]):
        self.epochs = {int(e) for e in epochs}
        self.meta = dict(meta)

    def after_train_epoch(self, runner) -> None:
        from mmengine.model import is_model_wrapper

        from auzoo.engine.checkpoint import save_checkpoint

        epoch = runner.epoch + 1  # mmengine counts the epoch after this hook
        if epoch not in self.epochs or not is_main_process():
            return
        module = runner.model.module if is_model_wrapper(runner.model) else runner.model
        save_checkpoint(epoch_weights_path(runner.work_dir, epoch), module.model.state_dict(),
                        dict(self.meta, epoch=epoch, iter=int(runner.iter)))


__all__ = ["InitError", "KeepEpochWeights", "TakePrefixes", "apply_init", "applies",
           "epoch_weights_path", "init_statement", "plan_init", "refusal", "source_spec"]
