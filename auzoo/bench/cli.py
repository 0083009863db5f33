"""The options of ``auzoo bench`` and the command itself."""
from __future__ import annotations

import argparse
import os
import sys
import time


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("models", nargs="*", metavar="MODEL", help="model names or config files")
    p.add_argument("--all", action="store_true", dest="use_all",
                   help="every registered model (built-in and plugins; a two-stage recipe's "
                        "stage 1 runs inside its stage 2)")
    p.add_argument("--exclude", nargs="+", default=[], metavar="NAME", help="leave these models out")
    p.add_argument("--data", action="append", metavar="CACHE",
                   help="prepared cache; repeat for several datasets, one table each "
                        "(default: a synthetic DISFA and the cpu_demo preset)")
    p.add_argument("--test-data", action="append", default=[], metavar="CACHE",
                   help="also score every trained model on this other dataset (repeatable)")
    p.add_argument("--folds", default="1,2,3", help="comma-separated fold numbers")
    p.add_argument("--seeds", help="comma-separated seeds, each cell trained once per seed, e.g. 0,1,2 "
                        "(default: the one --seed)")
    p.add_argument("--seed", type=int, help="a single seed (default 0)")
    p.add_argument("--out", help="results folder (default: ./bench_out)")
    p.add_argument("--shard", help="I/N: run only every N-th cell, starting at I (1-based)")
    p.add_argument("--slurm", metavar="KEY=VALUE,...",
                   help="submit the cells as Slurm array jobs through submitit, e.g. "
                        "partition=gpu,gpus=4,time=12:00:00,account=lab (cluster=local: run the "
                        "jobs on this machine)")
    p.add_argument("--wait", action="store_true",
                   help="with --slurm: wait for the jobs, writing the tables as results land")
    p.add_argument("--weights", metavar="PATTERN",
                   help="score given weights instead of training: one model, one cell per fold, "
                        "PATTERN with {fold} (and {train_parts}, e.g. 1_2 for fold 1) naming the "
                        "fold's file, folder or files (a quoted glob), e.g. "
                        "'MEFARG_resnet50_DISFA_fold{fold}.pth'; auzoo checkpoints or a published "
                        "model's official weights")
    from auzoo.cli.options import add_preset_option

    add_preset_option(p, "cpu_demo without --data, else the config's own")


def bench_cli(args) -> int:
    from auzoo.bench.main import bench
    from auzoo.bench.options import BenchOptions
    from auzoo.bench.run import CellsFailed
    from auzoo.engine.dist import distributed_session
    from auzoo.cli.options import _train_cfg_options

    if not args.models and not args.use_all:
        raise ValueError("name the models to bench, or give --all")
    started = time.perf_counter()
    options = BenchOptions(
        models=tuple(args.models), use_all=args.use_all, exclude=tuple(args.exclude),
        data=args.data, test_data=tuple(args.test_data), folds=args.folds, seeds=args.seeds,
        seed=args.seed, out=args.out or "bench_out", preset=args.preset,
        cfg_options=_train_cfg_options(args), device=args.device,
        weights=getattr(args, "weights", None), shard=args.shard, slurm=args.slurm,
        wait=args.wait)
    try:
        with distributed_session():
            bench(options=options)
    except CellsFailed as exc:
        print(f"auzoo bench: {exc}", file=sys.stderr)
        return 1
    if int(os.environ.get("RANK", 0)) == 0:
        print(f"bench finished in {time.perf_counter() - started:.0f} s")
    return 0
