"""The grid of ``auzoo bench``: cells, which of them are finished, shards.

A *cell* is one (model, fold, seed) on one dataset. It trains in its own work
dir, ``DATASET_OUT/cells/MODEL/foldK/seedS/``, and is finished once its
``result.json`` is there (written atomically by the engine). The order of the
cells is fixed (dataset, model, fold, seed), so every shard agrees on it.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

from auzoo.engine.records import RESULT_FILE, RunResult, read_result


@dataclass(frozen=True)
class Cell:
    model: str  # what the user typed: a registered name or a config file
    name: str   # the model's name (config stem)
    fold: int
    seed: int = 0
    data: str = ""  # the prepared cache it trains on

    def work_dir(self, out: Path) -> Path:
        return Path(out) / "cells" / self.name / f"fold{self.fold}" / f"seed{self.seed}"

    def result_path(self, out: Path) -> Path:
        return self.work_dir(out) / RESULT_FILE

    @property
    def key(self) -> str:
        """Names the cell in the Slurm job record."""
        return f"{self.data}::{self.name}/fold{self.fold}/seed{self.seed}"

    def __str__(self) -> str:
        return f"{self.name} fold {self.fold} seed {self.seed}"


def _int_list(text, option: str, example: str) -> Tuple[int, ...]:
    if isinstance(text, int):
        return (text,)
    if isinstance(text, (list, tuple)):
        values = tuple(int(v) for v in text)
    else:
        try:
            values = tuple(int(v) for v in str(text).split(",") if v.strip())
        except ValueError:
            raise ValueError(f"{option} {text!r}: expected comma-separated numbers, "
                             f"e.g. {example}") from None
    if not values or len(set(values)) != len(values):
        raise ValueError(f"{option} {text!r}: give at least one number, each at most once")
    return values


def parse_folds(text) -> Tuple[int, ...]:
    """``'1,2,3'`` -> ``(1, 2, 3)``; whether the dataset has them is the engine's check."""
    folds = _int_list(text, "--folds", "1,2,3")
    if any(f < 1 for f in folds):
        raise ValueError(f"--folds {text!r}: folds are numbered from 1")
    return folds


def parse_seeds(text) -> Tuple[int, ...]:
    seeds = _int_list(text, "--seeds", "0,1,2")
    if any(s < 0 for s in seeds):
        raise ValueError(f"--seeds {text!r}: seeds are >= 0")
    return seeds


def parse_shard(text) -> Optional[Tuple[int, int]]:
    """``'I/N'`` -> ``(I, N)`` with 1 <= I <= N."""
    if text is None:
        return None
    if isinstance(text, (list, tuple)):
        text = "/".join(map(str, text))
    try:
        i, n = (int(x) for x in str(text).split("/"))
    except ValueError:
        raise ValueError(f"--shard {text!r}: expected I/N, e.g. 2/4") from None
    if not 1 <= i <= n:
        raise ValueError(f"--shard {text!r}: need 1 <= I <= N")
    return i, n


def stage1_configs(names: Iterable[str]) -> Dict[str, str]:
    """Configs that another config's ``init_from.config`` names (stage 1 of a
    two-stage recipe, trained as part of stage 2): name -> the stage 2 naming it."""
    from auzoo.config import load_config

    stage1 = {}
    for name in names:
        try:
            init = load_config(name).get("init_from", None)
        except Exception as exc:  # a broken config must say which one it is
            raise ValueError(f"--all: cannot load the config of '{name}': {exc}") from exc
        if init and init.get("config"):
            stage1[Path(str(init["config"])).stem] = name
    return stage1


def all_models(exclude: Sequence[str] = ()) -> List[str]:
    """``--all``: every registered model (built-in and plugins) but the excluded
    ones and the stage-1 pieces of two-stage recipes."""
    from auzoo import list_models

    names = list_models()
    unknown = sorted(set(exclude) - set(names))
    if unknown:
        raise ValueError(f"--exclude {', '.join(unknown)}: no such model; models: {', '.join(names)}")
    stage1 = stage1_configs(names)
    return [n for n in names if n not in set(exclude) and n not in stage1]


def model_names(models: Sequence[str]) -> Dict[str, str]:
    """What the user typed -> the model's name; two inputs of one name are refused."""
    from auzoo.config import load_config, model_name

    names: Dict[str, str] = {}
    for model in models:
        name = model_name(load_config(model))
        if name in names.values():
            first = next(m for m, n in names.items() if n == name)
            raise ValueError(f"models {first!r} and {model!r} are both named '{name}'"
                             if first != model else f"model {model!r} is listed twice")
        names[model] = name
    return names


def plan_cells(models: Sequence[str], folds: Sequence[int], seeds: Sequence[int] = (0,),
               data: Sequence[str] = ("",)) -> List[Cell]:
    """Every (dataset, model, fold, seed), in a fixed order every shard agrees on."""
    names = model_names(models)
    return [Cell(model, names[model], int(fold), int(seed), str(d))
            for d in data for model in models for fold in folds for seed in seeds]


def shard_cells(cells: Sequence[Cell], shard: Optional[Tuple[int, int]]) -> List[Cell]:
    if shard is None:
        return list(cells)
    i, n = shard
    return list(cells[i - 1::n])


def is_finished(cell: Cell, out: Path, test_data: Sequence[str] = ()) -> bool:
    """Its result is there, scored on every ``--test-data`` asked for now."""
    path = cell.result_path(out)
    if not path.is_file():
        return False
    if not test_data:
        return True
    try:
        result = RunResult.read(path)
    except ValueError:
        return False
    return all(str(t) in result.cross for t in test_data)


def finished_results(out: Path) -> List[RunResult]:
    """Every finished cell under ``out`` (not only this command's): a results
    folder's tables cover all of it. An unreadable record is skipped with a
    warning that names it."""
    results, bad = [], []
    for path in sorted(Path(out).glob(f"cells/*/fold*/seed*/{RESULT_FILE}")):
        try:
            result = read_result(path)
        except ValueError as exc:
            bad.append(str(exc))
            continue
        if result is not None:
            results.append(result)
    if bad:
        warnings.warn(f"{len(bad)} result file(s) left out of the tables: " + "; ".join(bad),
                      RuntimeWarning, stacklevel=2)
    return results
