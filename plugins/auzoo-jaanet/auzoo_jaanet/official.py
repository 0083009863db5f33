"""The authors' JAA-Net weights (ZhiwenShao/PyTorch-JAANet) as an auzoo checkpoint format.

``auzoo eval jaanet --weights SNAPSHOT_FOLDER`` (or the six files) reads them
through :class:`JAANetCheckpoint`, registered as ``jaanet-official``.

The authors' code saves each of its six modules' state dict on its own,
``{module}_{epoch}.pth`` in one folder per run::

    region_learning  align_net  local_attention_refine  local_au_net  global_au_feat  au_net

auzoo's :class:`~auzoo_jaanet.jaanet.JAANet` holds the same tensors; where the
authors keep one module per patch or per AU (``bns.k``, ``convs.k``,
``local_aus_attention.a``, ``local_aus_branch.a``), auzoo runs them as one
grouped convolution, so those tensors are concatenated in patch / AU order.
Every tensor is used, but for two stated drops: the J^AA-Net (v2) files'
per-AU local heads ``local_aus_output.*`` (trained beside the final output,
not part of it), and all but one BatchNorm ``num_batches_tracked`` counter
of a grouped BatchNorm (a counter, not a weight).

The files say neither the AU order nor the dataset nor the fold. The dataset
comes from the number of AUs (8: DISFA, 12: BP4D) and the folder or file names
where they say it (``BP4D``, ``DISFA``); the AU order is that dataset's in the
authors' code; the fold from ``combine_a_b`` in the names (trained on parts a
and b, tested on the third).
"""
from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path
from typing import Any, Dict, List, Mapping, Tuple

import torch
from torch import Tensor, nn

from auzoo.engine.weight_formats import CheckpointFormat, check_au_order
from auzoo.registry import CHECKPOINT_FORMATS

from auzoo_jaanet.jaanet import BP4D_AUS, DISFA_AUS

MODULES = ("region_learning", "align_net", "local_attention_refine", "local_au_net",
           "global_au_feat", "au_net")
_FILE = re.compile(r"^(%s)(?:_(\d+))?\.pth$" % "|".join(MODULES))
AUS = {"disfa": DISFA_AUS, "bp4d": BP4D_AUS}
# The authors' constants (network.py AlignNet, train_JAAv1.py crop_size): the
# model must use the same to compute the same attention maps.
OFFICIAL_SETTINGS = dict(local_reduce="mean", align_frame=176.0, spatial_ratio=0.14,
                         fill_coeff=0.56)


def find_module_files(paths: List[Path]) -> Tuple[Dict[str, Path], Any]:
    """``({module: file}, epoch)`` from a snapshot folder or the six files."""
    if len(paths) == 1 and paths[0].is_dir():
        candidates = sorted(p for p in paths[0].iterdir() if _FILE.match(p.name))
        where = str(paths[0])
    else:
        bad = [str(p) for p in paths if not (p.is_file() and _FILE.match(p.name))]
        if bad:
            raise ValueError(f"{', '.join(bad)}: not a JAA-Net module file ({'|'.join(MODULES)}"
                             "[_EPOCH].pth), or not a file")
        candidates, where = list(paths), ", ".join(map(str, paths))
    epochs = sorted({_FILE.match(p.name).group(2) or "" for p in candidates})
    if len(epochs) > 1:
        shown = ", ".join(e or "(none)" for e in epochs)
        raise ValueError(f"{where}: module files of several epochs ({shown}): give the six files "
                         f"of one, e.g. {paths[0]}/*_{epochs[-1]}.pth")
    files: Dict[str, Path] = {}
    for p in candidates:
        module = _FILE.match(p.name).group(1)
        if module in files:
            raise ValueError(f"{where}: two {module} files: {files[module]}, {p}")
        files[module] = p
    missing = [m for m in MODULES if m not in files]
    if missing:
        raise ValueError(f"{where}: no {', '.join(m + '_EPOCH.pth' for m in missing)} "
                         f"(JAA-Net's weights are six module files: {', '.join(MODULES)})")
    epoch = epochs[0]
    return files, int(epoch) if epoch else None


def _read(path: Path) -> Dict[str, Tensor]:
    from auzoo.weights import load_state_dict_file

    return load_state_dict_file(path)  # weights_only; a 'module.' prefix stripped


def _concat(state: Mapping[str, Tensor], prefix: str, count: int, source: str,
            used: set, dropped: List[str]) -> Dict[str, Tensor]:
    """``prefix.{k}.rest`` for k = 0 .. count-1, concatenated along dim 0 per ``rest``
    (one copy per patch or AU becomes one grouped layer); of the copies' BatchNorm
    counters the first is kept, the others go to ``dropped``."""
    groups: Dict[str, Dict[int, Tensor]] = defaultdict(dict)
    pattern = re.compile(re.escape(prefix) + r"\.(\d+)\.(.+)$")
    for key, value in state.items():
        m = pattern.match(key)
        if m:
            groups[m.group(2)][int(m.group(1))] = value
            used.add(key)
    out = {}
    for rest, parts in groups.items():
        if sorted(parts) != list(range(count)):
            raise ValueError(f"{source}: {prefix}.K.{rest} for K = {sorted(parts)}, expected "
                             f"0..{count - 1}")
        tensors = [parts[k] for k in range(count)]
        if rest.endswith("num_batches_tracked"):
            out[rest] = tensors[0]
            dropped += [f"{prefix}.{k}.{rest}" for k in range(1, count)]
        else:
            out[rest] = torch.cat(tensors)
    return out


def _put(out: Dict[str, Tensor], prefix: str, tensors: Mapping[str, Tensor]) -> None:
    out.update({f"{prefix}.{k}": v for k, v in tensors.items()})


def official_to_auzoo(states: Mapping[str, Mapping[str, Tensor]], num_aus: int,
                      files: Mapping[str, Path]
                      ) -> Tuple[Dict[str, Tensor], List[str], Dict[str, str]]:
    """auzoo's JAANet state dict from the six official module state dicts, the
    keys left out by the stated rules (any other is an error), and where each
    renamed one-to-one key came from (``file: key``)."""
    out: Dict[str, Tensor] = {}
    used: Dict[str, set] = {m: set() for m in MODULES}
    dropped: List[str] = []
    region, src = states["region_learning"], str(files["region_learning"])
    for layer in (0, 2):
        head = f"multiscale_feat.{layer}"
        for part in ("conv", "bn"):
            keys = [k for k in region if k.startswith(f"{head}.{part}.")]
            used["region_learning"].update(keys)
            _put(out, f"region.body.{layer}.{'norm' if part == 'bn' else 'conv'}",
                 {k[len(f"{head}.{part}."):]: region[k] for k in keys})
        for branch, patches in ((1, 64), (2, 16), (3, 4)):
            for theirs, ours in (("bns", "norm"), ("convs", "conv")):
                _put(out, f"region.body.{layer}.scales.{branch - 1}.{ours}",
                     _concat(region, f"{head}.local_conv_branch{branch}.{theirs}", patches, src,
                             used["region_learning"], dropped))
    plain = (("align_net", "align_feat.feat_extract.", "align_trunk."),
             ("align_net", "align_output.", "align_head."),
             ("global_au_feat", "feat_extract.", "global_trunk."),
             ("au_net", "au_output.", "classifier."))
    origin: Dict[str, str] = {}
    for module, theirs, ours in plain:
        for key, value in states[module].items():
            if key.startswith(theirs):
                out[ours + key[len(theirs):]] = value
                origin[ours + key[len(theirs):]] = f"{files[module]}: {key}"
                used[module].add(key)
    refine = _concat(states["local_attention_refine"], "local_aus_attention", num_aus,
                     str(files["local_attention_refine"]), used["local_attention_refine"], dropped)
    _put(out, "attention_refine.net", refine)
    local = _concat({k: v for k, v in states["local_au_net"].items()
                     if k.startswith("local_aus_branch.")}, "local_aus_branch", num_aus,
                    str(files["local_au_net"]), used["local_au_net"], dropped)
    _put(out, "local_trunks", {k[len("feat_extract."):]: v for k, v in local.items()})
    left = []
    for module in MODULES:
        for key in states[module]:
            if key in used[module]:
                continue
            if module == "local_au_net" and key.startswith("local_aus_output."):
                dropped.append(key)  # J^AA-Net's per-AU local heads
            else:
                left.append(f"{files[module]}: {key}")
    if left:
        raise ValueError(f"{len(left)} tensor(s) of JAA-Net's files have no place in auzoo's "
                         f"JAANet: {'; '.join(left[:8])}{' ...' if len(left) > 8 else ''}")
    return out, dropped, origin


def _from_names(paths: List[Path]) -> Dict[str, Any]:
    text = " ".join(str(p.resolve()) for p in paths)
    dataset = re.findall(r"(?<![a-z])(bp4d|disfa)(?![a-z])", text, re.IGNORECASE)
    combine = re.findall(r"combine_(\d)_(\d)", text)
    return dict(dataset=dataset[-1].lower() if dataset else None,
                train_parts=tuple(sorted(int(x) for x in combine[-1])) if combine else None)


@CHECKPOINT_FORMATS.register_module(name="jaanet-official")
class JAANetCheckpoint(CheckpointFormat):
    """The authors' six JAA-Net module files (a snapshot folder or the files),
    ECCV (v1) or J^AA-Net (v2) runs of ZhiwenShao/PyTorch-JAANet."""

    models = ("JAANet",)
    description = "JAA-Net's official per-module files (ZhiwenShao/PyTorch-JAANet)"

    def read(self, paths: List[Path], model: nn.Module) -> Tuple[Dict[str, Tensor], Dict[str, Any]]:
        files, epoch = find_module_files(paths)
        states = {m: _read(files[m]) for m in MODULES}
        au_out = states["au_net"].get("au_output.1.weight")
        if au_out is None:
            raise ValueError(f"{files['au_net']}: no au_output.1.weight (not JAA-Net's au_net)")
        num_aus = int(au_out.shape[0]) // 2
        dataset = {8: "disfa", 12: "bp4d"}.get(num_aus)
        if dataset is None:
            raise ValueError(f"{files['au_net']}: {num_aus} AUs; auzoo reads JAA-Net's DISFA (8) "
                             "and BP4D (12) files, whose AU orders the authors' code fixes")
        named = _from_names(paths)
        if named["dataset"] not in (None, dataset):
            raise ValueError(f"{', '.join(map(str, paths))}: the names say "
                             f"{named['dataset'].upper()}, the files hold {num_aus} AUs "
                             f"({dataset.upper()}'s count)")
        check_au_order(dict(aus=AUS[dataset], dataset=dataset), model, str(files["au_net"]))
        for key, value in OFFICIAL_SETTINGS.items():
            ours = getattr(model, key)
            if ours != value:
                raise ValueError(f"{files['align_net']}: the authors' network has {key}={value!r}, "
                                 f"the model '{getattr(model, 'name', 'JAANet')}' {ours!r}: "
                                 f"--cfg-options model.{key}={value!r}")
        state, dropped, origin = official_to_auzoo(states, num_aus, files)
        own = model.state_dict()
        stray = [origin.get(k, k) for k in state if k not in own]
        if stray:
            raise ValueError(f"{len(stray)} tensor(s) of JAA-Net's files have no place in the "
                             f"model: {'; '.join(stray[:8])}{' ...' if len(stray) > 8 else ''}")
        version = "v2" if any(d.startswith("local_aus_output.") for d in dropped) else "v1"
        parts = named["train_parts"]
        test_part = f"part{({1, 2, 3} - set(parts)).pop()}" if parts and len(set(parts)) == 2 \
            else None
        note = (f"dataset {dataset.upper()} from the {num_aus} AUs"
                + (" and the names" if named["dataset"] else "")
                + ", AU order the authors' code's; "
                + (f"combine_{parts[0]}_{parts[1]} (names): trained on parts {parts[0]} and "
                   f"{parts[1]}, tested on {test_part}" if test_part else "no combine_a_b in the names")
                + (f"; {version} (J^AA-Net) files: their per-AU local heads (local_aus_output) "
                   "are dropped, the final AU output is the same network's" if version == "v2"
                   else ""))
        record = dict(files=[files[m] for m in MODULES], aus=list(AUS[dataset]), dataset=dataset,
                      test_part=test_part, epoch=epoch, version=version,
                      dropped=len(dropped), note=note)
        return state, record


__all__ = ["JAANetCheckpoint", "MODULES", "find_module_files", "official_to_auzoo"]
