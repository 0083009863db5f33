"""The official ME-GraphAU checkpoints (``MEFARG_*.pth``) as an auzoo checkpoint format.

``auzoo eval megraphau_r50 --weights MEFARG_resnet50_DISFA_fold1.pth`` reads
them through :class:`MEGraphAUCheckpoint`, registered as ``megraphau-official``.

The official loaders strip a ``module.`` prefix (the trainers wrap the net in
DataParallel) and call ``load_state_dict`` non-strictly, so a file whose names
do not match loads nothing and says nothing. Here every official name is
renamed by the rules below and loaded strictly: a missing, unexpected or
mis-shaped key is an error that lists them.

The files say neither the AU order, nor K, nor the dataset, nor the fold.
The dataset comes from the number of AUs (8: DISFA, 12: BP4D) and the file
name where it says it (``..._DISFA_fold1.pth``); the AU order is that
dataset's in the official code; the model must predict exactly those, with
the file's stage and backbone (and, in stage 1, the dataset's K). The fold
comes from the file name: ME-GraphAU's fold k trains on two parts and tests
the third, fold 1 part 3, fold 2 part 2, fold 3 part 1, as auzoo's folds of
DISFA and BP4D do.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Dict, List, Mapping, Tuple

from torch import Tensor, nn

from auzoo.engine.weight_formats import CheckpointFormat, check_au_order
from auzoo.registry import CHECKPOINT_FORMATS

from auzoo_megraphau.model import BP4D_AUS, DISFA_AUS

# (official pattern, auzoo replacement), applied in order, first match wins.
_HEAD_RULES: Tuple[Tuple[str, str], ...] = (
    (r"^global_linear\.", "reduction."),
    (r"^head\.class_linears\.(\d+)\.", r"afg.generators.\1."),
    (r"^head\.sc$", "classifier.weight"),
    # stage 1 (ANFL): X' = ReLU(X + BN(V(X) aggregated + U(X)))
    (r"^head\.gnn\.U\.", "graph.self_loop."),
    (r"^head\.gnn\.V\.", "graph.neighbour."),
    (r"^head\.gnn\.bnv\.", "graph.bn."),
    # stage 2 (MEFL)
    (r"^head\.edge_extractor\.FAM\.linear_([qkv])\.", r"graph.gem.fam.\1."),
    (r"^head\.edge_extractor\.ARM\.linear_([qkv])\.", r"graph.gem.arm.\1."),
    (r"^head\.edge_extractor\.edge_proj\.", "graph.gem.proj."),
    (r"^head\.edge_extractor\.bn\.", "graph.gem.bn."),
    (r"^head\.edge_fc\.", "graph.edge_head."),
)
_GCN_NAMES = dict(A="end_in", B="start_in", E="edge_in", U="self_loop", V="message",
                  bnv="bn_node", bne="bn_edge")
_QKV = dict(q="query", k="key", v="value")
# Buffers the official Swin saves and timm recomputes: dropped.
_DROPPED = re.compile(r"(relative_position_index|attn_mask)$")

# Facts of the official code: AU orders, K (config/*_config.yaml neighbor_num),
# and the part each fold tests (tool/*_image_label_process.py).
AUS = {"disfa": DISFA_AUS, "bp4d": BP4D_AUS}
NEIGHBOR_NUM = {"disfa": 3, "bp4d": 4}
TEST_PART = {1: "part3", 2: "part2", 3: "part1"}


def _rename_head(key: str) -> str:
    m = re.match(r"^head\.gnn\.(A|B|E|U|V|bnv|bne)([12])\.(.*)$", key)
    if m:
        return f"graph.gcn.{int(m.group(2)) - 1}.{_GCN_NAMES[m.group(1)]}.{m.group(3)}"
    for pattern, replacement in _HEAD_RULES:
        if re.match(pattern, key):
            key = re.sub(pattern, replacement, key)
            m = re.match(r"^(graph\.gem\.(?:fam|arm))\.([qkv])\.(.*)$", key)
            return f"{m.group(1)}.{_QKV[m.group(2)]}.{m.group(3)}" if m else key
    return key


def _rename_backbone(key: str, swin: bool) -> str:
    rest = key[len("backbone."):]
    if swin:
        if rest.startswith("norm."):
            return "token_norm." + rest[len("norm."):]
        # timm merges patches at the start of the next stage, the official code
        # at the end of the stage; timm's feature net names stage i 'layers_i'.
        rest = re.sub(r"^layers\.(\d+)\.downsample\.",
                      lambda m: f"layers.{int(m.group(1)) + 1}.downsample.", rest)
        rest = re.sub(r"^layers\.(\d+)\.", r"layers_\1.", rest)
    return "backbone.body." + rest


def official_to_auzoo(state: Mapping[str, Tensor], swin: bool) -> Dict[str, Tensor]:
    """Rename an official MEFARG state dict (stage 1 or 2) to auzoo's MEGraphAU names."""
    out: Dict[str, Tensor] = {}
    for key, value in state.items():
        key = key[len("module."):] if key.startswith("module.") else key
        if _DROPPED.search(key):
            continue
        new = _rename_backbone(key, swin) if key.startswith("backbone.") else _rename_head(key)
        if new in out:
            raise ValueError(f"two official keys map to {new}")
        out[new] = value
    return out


def _describe(state: Mapping[str, Tensor]) -> Dict[str, Any]:
    """Stage, backbone kind and AU count of an official state dict (``module.`` stripped)."""
    keys = list(state)
    stage = 2 if any(k.startswith(("head.edge_extractor.", "head.gnn.A1.")) for k in keys) else \
        1 if any(k.startswith("head.gnn.U.") for k in keys) else None
    swin = any(k.startswith("backbone.layers.") for k in keys)
    resnet = any(k.startswith("backbone.layer1.") for k in keys)
    return dict(stage=stage, backbone="swin" if swin else "resnet" if resnet else None,
                num_aus=int(state["head.sc"].shape[0]) if "head.sc" in state else None)


def _from_name(path: Path) -> Dict[str, Any]:
    """What the released file names say: ``MEFARG_resnet50_DISFA_fold1.pth``."""
    name = path.name
    dataset = re.search(r"(?<![a-z])(bp4d|disfa)(?![a-z])", name, re.IGNORECASE)
    fold = re.search(r"fold_?(\d)", name, re.IGNORECASE)
    return dict(dataset=dataset.group(1).lower() if dataset else None,
                fold=int(fold.group(1)) if fold else None)


def _model_kind(model: nn.Module) -> Dict[str, Any]:
    graph = type(model.graph).__name__
    return dict(stage=2 if graph == "MEFL" else 1 if graph == "FacialGraphGenerator" else None,
                backbone="swin" if model.nhwc else "resnet",
                neighbor_num=getattr(model.graph, "neighbor_num", None))


@CHECKPOINT_FORMATS.register_module(name="megraphau-official")
class MEGraphAUCheckpoint(CheckpointFormat):
    """ME-GraphAU's released ``MEFARG_*.pth`` (and its trainers' stage-1 and
    stage-2 files), DataParallel ``module.`` prefix or not."""

    models = ("MEGraphAU",)
    description = "ME-GraphAU's official MEFARG_*.pth checkpoints (CVI-SZU/ME-GraphAU)"

    def read(self, paths: List[Path], model: nn.Module) -> Tuple[Dict[str, Tensor], Dict[str, Any]]:
        from auzoo.weights import load_state_dict_file

        if len(paths) != 1 or not paths[0].is_file():
            raise ValueError(f"{', '.join(map(str, paths))}: an official ME-GraphAU checkpoint "
                             "is one MEFARG_*.pth file")
        path = paths[0]
        state = load_state_dict_file(path)  # 'state_dict' entry, 'module.' stripped
        found, named, ours = _describe(state), _from_name(path), _model_kind(model)
        if found["num_aus"] is None or found["stage"] is None:
            raise ValueError(f"{path}: not a ME-GraphAU (MEFARG) checkpoint: no head.sc, or "
                             "neither stage 1's head.gnn.U nor stage 2's head.edge_extractor")
        dataset = {8: "disfa", 12: "bp4d"}.get(found["num_aus"])
        if dataset is None:
            raise ValueError(f"{path}: {found['num_aus']} AUs; ME-GraphAU's files hold DISFA's 8 "
                             "or BP4D's 12, and the order of any other set cannot be assumed")
        if named["dataset"] not in (None, dataset):
            raise ValueError(f"{path}: the name says {named['dataset'].upper()}, but the file "
                             f"holds {found['num_aus']} AUs ({dataset.upper()}'s count)")
        check_au_order(dict(aus=AUS[dataset], dataset=dataset), model, str(path))
        name = getattr(model, "name", "MEGraphAU")
        if found["stage"] != ours["stage"]:
            other = "megraphau_r50_stage1 / megraphau_swinb_stage1" if found["stage"] == 1 else \
                "megraphau_r50 / megraphau_swinb"
            raise ValueError(f"{path}: a stage-{found['stage']} checkpoint; the model '{name}' is "
                             f"stage {ours['stage']}: use {other}")
        if found["backbone"] != ours["backbone"]:
            raise ValueError(f"{path}: a {found['backbone']} backbone; the model '{name}' has a "
                             f"{ours['backbone']} one ({model.backbone.model_name})")
        k = NEIGHBOR_NUM[dataset]
        if ours["stage"] == 1 and ours["neighbor_num"] != k:
            raise ValueError(f"{path}: {dataset.upper()}'s stage-1 graph has K = {k} neighbours "
                             f"(official neighbor_num); the model '{name}' has K = "
                             f"{ours['neighbor_num']}: --cfg-options model.graph.neighbor_num={k}")
        fold = named["fold"]
        if fold is not None and fold not in TEST_PART:
            raise ValueError(f"{path}: fold {fold} in the name; ME-GraphAU has folds 1, 2, 3")
        record = dict(
            files=[path], aus=list(AUS[dataset]), dataset=dataset,
            test_part=TEST_PART.get(fold), official_fold=fold, stage=found["stage"],
            backbone=found["backbone"], neighbor_num=k if found["stage"] == 1 else None,
            note=(f"dataset {dataset.upper()} from the {found['num_aus']} AUs"
                  + (" and the file name" if named["dataset"] else "")
                  + ", AU order the official code's; "
                  + (f"ME-GraphAU fold {fold} (file name) trains on the other two parts and tests "
                     f"{TEST_PART[fold]}" if fold else "no fold in the file name")
                  + ("" if found["stage"] == 1 else
                     f"; stage 2 has no k-NN graph (K = {k} is stage 1's on {dataset.upper()})")))
        return official_to_auzoo(state, swin=found["backbone"] == "swin"), record


def load_official_checkpoint(model: nn.Module, path) -> Dict[str, Any]:
    """Load an official ME-GraphAU checkpoint into a MEGraphAU built with the
    matching config (backbone, AUs, stage); strict, see the module docstring.
    Returns the record of what was loaded (as ``auzoo eval`` prints it)."""
    from auzoo.engine.weight_formats import read_official

    return read_official([Path(path)], model)


__all__ = ["MEGraphAUCheckpoint", "load_official_checkpoint", "official_to_auzoo"]
