"""What each subcommand does: the work is done by the module that owns it
(imported only when the command runs, so ``auzoo list`` stays quick); this
module prints."""
from __future__ import annotations

from auzoo.cli.options import _train_cfg_options, refuse_existing
from auzoo.cli.scores import _print_scores, _write_eval, print_result  # noqa: F401


# ----------------------------------------------------------------- list / show

def _cmd_list(args) -> int:
    from auzoo import registry

    from rich.table import Table

    from auzoo.utils.console import make_console

    console = make_console()
    what = args.what
    if what in ("models", "all"):
        registry.ensure_loaded()
        table = Table(title="models")
        table.add_column("name")
        table.add_column("provided by")
        table.add_column("config")
        for name in sorted(registry.CONFIGS):
            prov = registry.CONFIG_PROVIDERS[name]
            table.add_row(name, prov.name, prov.where)
        for name, provs in sorted(registry.AMBIGUOUS_CONFIGS.items()):
            table.add_row(f"[red]{name}[/]", "[red]refused: ambiguous[/]",
                          "; ".join(str(p) for p in provs))
        console.print(table)
    if what in ("parts", "all"):
        for kind, entries in registry.registered_parts().items():
            table = Table(title=kind)
            table.add_column("name")
            table.add_column("provided by")
            table.add_column("defined at")
            for name, prov in entries.items():
                table.add_row(name, prov.name, prov.where)
            for name, provs in sorted(registry.PART_REGISTRIES[kind].ambiguous.items()):
                table.add_row(f"[red]{name}[/]", "[red]refused: ambiguous[/]",
                              "; ".join(str(p) for p in provs))
            console.print(table)
    if what in ("published", "all"):
        _list_published(console)
    if what in ("plugins", "all"):
        plugins = registry.load_plugins()
        table = Table(title=f"plugins (entry-point group '{registry.PLUGIN_GROUP}')")
        for col in ("name", "distribution", "version", "status", "entry point", "registered / error"):
            table.add_column(col, overflow="fold")
        for p in plugins:
            detail = p.error if p.error else ", ".join(p.registered)
            if p.conflicts:
                detail += "".join(f"\n[red]conflict:[/] {c}" for c in p.conflicts)
            style = {"loaded": "green", "failed": "red"}.get(p.status, "yellow")
            status = f"[{style}]{p.status}[/]" + (" [red](with conflicts)[/]" if p.conflicts else "")
            table.add_row(p.name, p.distribution, p.version, status, p.value, detail)
        if not plugins:
            console.print("no plugins installed")
        else:
            console.print(table)
        if registry.plugins_disabled():
            console.print(f"plugin loading is off ({registry.DISABLE_PLUGINS_ENV} is set)")
    return 0


def _list_published(console) -> None:
    from rich.table import Table

    from auzoo.report.published import methods_table, published_rows

    rows = methods_table(published_rows())
    if not rows:
        console.print("no published rows registered")
        return
    table = Table(title="published results (each set beside the auzoo models it lists)")
    columns = ("method", "dataset", "models", "avg", "aus", "table", "provided_by")
    for col in columns:
        table.add_column(col.replace("_", " "), overflow="fold",
                         justify="right" if col in ("avg", "aus") else "left")
    for row in rows:
        table.add_row(*(str(row[col]) for col in columns))
    console.print(table)
    for citation in dict.fromkeys(row["citation"] for row in rows):
        console.print(f"  {citation}")
    _list_published_intensity(console)


def _list_published_intensity(console) -> None:
    from rich.table import Table

    from auzoo.report.published_intensity import METRIC_NAMES, published_intensity_rows

    rows = published_intensity_rows()
    if not rows:
        return
    table = Table(title="published AU intensity results (reference points: their own protocols)")
    for col in ("method", "dataset", "metric", "mean", "aus", "source"):
        table.add_column(col, overflow="fold", justify="right" if col in ("mean", "aus") else "left")
    for r in rows:
        table.add_row(r.method, r.dataset, METRIC_NAMES[r.metric], f"{r.average:.3f}",
                      str(len(r.aus)), f"{r.citation}: {r.source}")
    console.print(table)


def _cmd_show(args) -> int:
    from auzoo.models.summary import show_model

    show_model(args.model, _train_cfg_options(args))
    return 0


# ------------------------------------------------------------- data: synth / prepare

def _cmd_synth(args) -> int:
    from auzoo.data.datasets import synth_dataset

    # each dataset's writer takes the options it knows; unset ones keep its defaults
    synth_dataset(args.dataset, args.out, subjects=args.subjects, frames=args.frames,
                  tasks=args.tasks, seed=args.seed, width=args.width, height=args.height,
                  layout=args.layout, workers=args.workers)
    return 0


def _cmd_prepare(args) -> int:
    from auzoo.data.datasets import prepare_dataset
    from auzoo.utils.console import make_console

    console = make_console()  # the report's tables whole in a log too
    # each dataset's writer takes the options it knows; unset ones keep its defaults
    prepare_dataset(args.dataset, args.root, args.out, workers=args.workers, size=args.size,
                    camera=args.camera, landmarks=args.landmarks, folds=args.folds,
                    threshold=args.threshold, console=console)
    return 0


# ------------------------------------------------------------- train / eval / bench


def _cmd_train(args) -> int:
    from mmengine.dist import get_rank

    from auzoo.engine.input_size import check_input_size
    from auzoo.engine.records import RunSpec
    from auzoo.engine.settings import resolve_config
    from auzoo.engine.dist import distributed_session
    from auzoo.engine.train import train

    spec = RunSpec(model=args.model, data=args.data, fold=args.fold, seed=args.seed,
                   work_dir=args.work_dir, cfg_options=_train_cfg_options(args),
                   device=args.device, resume=True, force=args.force, test_data=tuple(args.test_data or ()),
                   preset=args.preset)
    # the resolved config, and its model at its input size, before anything is written
    check_input_size(resolve_config(spec.model, spec.cfg_options, preset=spec.preset))
    with distributed_session():
        result = train(spec)
        if get_rank() == 0:
            print_result(result)
    return 0


def _cmd_eval(args) -> int:
    from auzoo.engine.evaluate import evaluate_checkpoint
    from auzoo.engine.weight_formats import describe_loaded
    from auzoo.utils.console import make_console

    out = evaluate_checkpoint(args.weights, args.data, fold=args.fold, model=args.model,
                              device=args.device, batch_size=args.batch_size,
                              cfg_options=getattr(args, "cfg_options", None) or None)
    scores, intensity, meta = out["scores"], out.get("intensity"), out["meta"]
    if out["mode"] == "cross":
        left = out["left_out"]
        title = (f"{meta.get('model')} (trained on {meta.get('dataset', 'disfa')}) on "
                 f"{out['dataset']}: every subject, shared AUs; "
                 f"left out: model-only {left['model_only']}, data-only {left['data_only']}")
    else:
        title = (f"{meta.get('model')} fold {out['fold']} on {out['dataset']}: test subjects "
                 f"{', '.join(out['subjects'])}")
    if getattr(args, "out", None):
        _write_eval(args.out, out)
    console = make_console()
    _print_scores(console, title, scores, intensity)
    for line in describe_loaded(meta):
        console.print(line, soft_wrap=True, highlight=False)
    if out["mode"] == "fold" and not out.get("fold_checked", True):
        console.print(f"note: the weights do not say which subjects they were trained on; fold "
                      f"{out['fold']} was scored as asked, unchecked", highlight=False,
                      soft_wrap=True)
    return 0


def _cmd_bench(args) -> int:
    from auzoo.bench import bench_cli

    return bench_cli(args)


# ------------------------------------------------------------- predict / weights

def _cmd_predict(args) -> int:
    from auzoo.inference import predict_cli

    return predict_cli(args)


def _cmd_browse(args) -> int:
    from auzoo.data.browse import browse

    doc = browse(args.model, args.data, args.out, split=args.split, n=args.n, seed=args.seed,
                 fold=args.fold, cfg_options=args.cfg_options)
    steps = " -> ".join(s["type"] for s in doc["pipeline"])
    print(f"wrote {len(doc['samples'])} {args.split} inputs of {args.model} "
          f"({steps} -> {doc['img_size']} px) and samples.json to {args.out}")
    return 0


def _cmd_export(args) -> int:
    from auzoo.export import export_cli

    return export_cli(args)


def _cmd_convert(args) -> int:
    from auzoo.weights import convert_cli

    refuse_existing(args.dst, args.force)
    return convert_cli(args)
