"""``auzoo bench`` end to end: the grid, its cells run here or on Slurm, the tables."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence

import pandas as pd

from auzoo.bench import demo, grid
from auzoo.bench.options import BenchOptions
from auzoo.bench.run import CellsFailed, Grid, default_train, make_grid, run_cells
from auzoo.engine.dist import barrier, rank as world_rank, start_process_group


def write_tables(g: Grid, console, quiet: bool = False) -> Dict[Path, pd.DataFrame]:
    """The tables of every dataset folder of the grid, from every finished cell in it."""
    from auzoo.report.console import console_table
    from auzoo.report.write import RESULTS_CSV, RESULTS_MD, write_reports

    frames = {}
    for data in g.data:
        out = g.out_dir(data)
        results = grid.finished_results(out)
        if not results:
            continue
        report = write_reports(out, results, synthetic=g.synthetic)
        frames[out] = report["frame"] if report["frame"] is not None else report["intensity_frame"]
        if quiet:
            continue
        written = []
        if report["frame"] is not None:
            console.print(console_table(report["frame"], report["published"],
                                        title=f"{Path(data).name}: F1-frame (%)"))
            _print_comparison(console, report["comparison"], "F1", 1)
            written.append(out / RESULTS_CSV)
        if report["intensity_frame"] is not None:
            from auzoo.report.intensity import intensity_console_table
            from auzoo.report.write import INTENSITY_CSV

            console.print(intensity_console_table(
                report["intensity_frame"],
                title=f"{Path(data).name}: ICC(3,1) per AU; mean ICC, PCC, MAE"))
            _print_comparison(console, report["intensity_comparison"], "ICC", 3)
            written.append(out / INTENSITY_CSV)
        console.print(f"wrote {', '.join(map(str, written))}, {out / RESULTS_MD}, {out / 'plots'}")
    return frames


def _print_comparison(console, comparison, metric: str, digits: int) -> None:
    from auzoo.report.stats import verdict

    for _, row in (comparison.iterrows() if comparison is not None else []):
        console.print(f"{row['model_a']} − {row['model_b']}: {row['diff']:+.{digits}f} {metric} "
                      f"[{row['ci_low']:+.{digits}f}, {row['ci_high']:+.{digits}f}] over "
                      f"{row['subjects']} subjects, {row['seeds']} seed(s): {verdict(row)}")


def _failed(failures: List[str]) -> CellsFailed:
    return CellsFailed(f"{len(failures)} cell(s) failed:\n  " + "\n  ".join(failures)
                       + "\nThe tables cover the finished cells. Rerun the same command (same --out) "
                       "to retry the failed ones: finished cells are kept.")


def _on_slurm(g: Grid, todo, slurm: str, *, wait: bool, train_fn: Callable, console):
    """Submit the missing cells (and wait for them with ``wait``); returns the
    failures and how many cells are still queued or running."""
    from auzoo.bench import slurm as slurm_jobs

    jobs, record, outcome = slurm_jobs.submit(g, todo, slurm, train_fn=train_fn, console=console)
    if wait:
        local = slurm_jobs.parse_slurm(slurm).get("cluster") == "local"
        slurm_jobs.wait_for(g, todo, jobs, record, outcome, console=console,
                            poll_s=1.0 if local else 30.0,
                            on_land=lambda: write_tables(g, console, quiet=True))
    return outcome.failures, len(outcome.waiting)


def bench(models: Sequence[str] = (), options: Optional[BenchOptions] = None, *,
          console=None, train_fn: Optional[Callable] = None, **keywords: Any
          ) -> Optional[Dict[Path, pd.DataFrame]]:
    """Train and score every (model, fold, seed) cell of every dataset, reusing
    finished ones; then write each dataset folder's tables and return them
    (folder -> results.csv as a DataFrame). None for a shard, a rank other
    than 0, or Slurm jobs still queued.

    ``options``: a :class:`~auzoo.bench.options.BenchOptions`, or its fields
    (and config-key flags such as ``max_epochs``) as keywords. With the
    default ``train_fn`` (the engine's) every model's resolved config is
    checked, and its model run once at its input size, before any cell trains
    (a ``train_fn`` with a ``check_grid(grid, cells)`` attribute has it called)."""
    from auzoo.utils.console import make_console

    if options is None:
        options = BenchOptions.of(models, **keywords)
    elif models or keywords:
        raise TypeError("bench: give BenchOptions or keywords, not both")
    console = console or make_console()
    g = make_grid(options)
    shard, slurm, wait = options.shard, options.slurm, options.wait
    train_fn = train_fn or default_train()
    distributed = start_process_group(g.device)
    rank = world_rank() if distributed else 0
    if g.synthetic:
        if rank == 0:
            console.print(demo.synthetic_banner(demo.synthetic_cache()))
            demo.synthetic_disfa(console)
        if distributed:
            barrier()
    shard_t = grid.parse_shard(shard)
    cells = g.cells()
    mine = grid.shard_cells(cells, shard_t)
    todo = [c for c in mine if not g.finished(c)]
    check = getattr(train_fn, "check_grid", None)  # the engine's: every model, before any cell
    if check is not None:
        check(g, todo)
    if rank == 0:
        console.print(f"bench: {len(cells)} cells ({len(g.models)} models x {len(g.data)} dataset(s) x "
                      f"folds {','.join(map(str, g.folds))} x seeds {','.join(map(str, g.seeds))})"
                      + (f", shard {shard_t[0]}/{shard_t[1]}: {len(mine)} of them" if shard_t else "")
                      + f"; {len(mine) - len(todo)} finished, {len(todo)} to run; "
                      f"preset {g.preset or 'none'}; out {g.out}")
    if slurm is not None:
        if distributed:
            raise ValueError("--slurm submits the cells as jobs; run it without torchrun")
        failures, waiting = _on_slurm(g, todo, slurm, wait=wait, train_fn=train_fn, console=console)
        if waiting:
            write_tables(g, console, quiet=True)
            console.print(f"{waiting} cell(s) queued or running; the tables cover the finished "
                          "ones. Rerun the same command (or add --wait) to merge the rest.")
            if failures:
                raise _failed(failures)
            return None
    else:
        failures = run_cells(g, todo, train_fn=train_fn, console=console,
                             distributed=distributed, rank=rank)
    if shard_t is not None or rank != 0:
        if failures:
            raise _failed(failures)
        if rank == 0:
            console.print(f"shard {shard_t[0]}/{shard_t[1]} done; run the same command without "
                          "--shard to merge every shard's cells into the tables")
        return None
    frames = write_tables(g, console)
    if failures:
        raise _failed(failures)
    return frames
