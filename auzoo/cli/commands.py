"""What each subcommand does: the work is done by the module that owns it
(imported only when the command runs, so ``auzoo list`` stays quick); this
module prints."""
from __future__ import annotations

from auzoo.cli.options import _train_cfg_options, refuse_existing


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

    show_model(args.model, args.cfg_options, img_size=args.img_size)
    return 0


# ------------------------------------------------------------- data: synth / prepare

def _cmd_synth(args) -> int:
    if args.dataset == "bp4d":
        from auzoo.data.synth.bp4d import synth_bp4d

        synth_bp4d(args.out, subjects=args.subjects or 3, frames=args.frames or 24,
                   tasks=args.tasks, seed=args.seed, width=args.width or 1040,
                   height=args.height or 1392, layout=args.layout)
        return 0
    from auzoo.data.synth import synth_disfa

    synth_disfa(args.out, subjects=args.subjects or 27, frames=args.frames or 300, seed=args.seed,
                width=args.width or 1024, height=args.height or 768, workers=args.workers)
    return 0


def _cmd_prepare(args) -> int:
    from auzoo.data import prepare
    from auzoo.utils.console import make_console

    console = make_console()  # the report's tables whole in a log too
    if args.dataset == "disfa":
        prepare.prepare_disfa(args.root, args.out, workers=args.workers, camera=args.camera,
                              size=args.size, console=console)
    elif args.dataset == "bp4d":
        prepare.prepare_bp4d(args.root, args.out, workers=args.workers, size=args.size,
                             landmarks=args.landmarks, console=console)
    else:
        prepare.prepare_frames(args.root, args.out, workers=args.workers, size=args.size,
                               folds=args.folds, threshold=args.threshold, console=console)
    return 0


# ------------------------------------------------------------- train / eval / bench


def _cmd_train(args) -> int:
    from mmengine.dist import get_rank

    from auzoo.engine.records import RunSpec
    from auzoo.engine.train import distributed_session, train

    spec = RunSpec(model=args.model, data=args.data, fold=args.fold, seed=args.seed,
                   work_dir=args.work_dir, cfg_options=_train_cfg_options(args),
                   device=args.device, resume=True, force=args.force, test_data=tuple(args.test_data or ()),
                   allow_random_init=args.allow_random_init, preset=args.preset)
    with distributed_session():
        result = train(spec)
        if get_rank() == 0:
            print_result(result)
    return 0


def _scores_table(title: str, scores, baseline: bool = True):
    from rich.table import Table

    table = Table(title=title)
    table.add_column("")
    names = list(scores.f1)
    for au in names:
        table.add_column(au, justify="right")
    table.add_column("mean", justify="right")
    table.add_row("F1", *(f"{scores.f1[a]:.1f}" for a in names), f"{scores.f1_mean:.1f}")
    table.add_row("accuracy", *(f"{scores.acc[a]:.1f}" for a in names), f"{scores.acc_mean:.1f}")
    if baseline and scores.baseline_f1:
        table.add_row("F1 always present", *(f"{scores.baseline_f1[a]:.1f}" for a in names),
                      f"{scores.baseline_f1_mean:.1f}", style="dim")
    return table


def _intensity_table(title: str, scores):
    """ICC(3,1), PCC and MAE per AU, and the zero predictor's."""
    from rich.table import Table

    def cell(v, digits=3):
        return "–" if v is None else f"{v:.{digits}f}"

    table = Table(title=title)
    table.add_column("", no_wrap=True)
    names = list(scores.icc)
    for au in names:
        table.add_column(au, justify="right")
    table.add_column("mean", justify="right")
    for key, label in (("icc", "ICC(3,1)"), ("pcc", "PCC"), ("mae", "MAE")):
        values = getattr(scores, key)
        table.add_row(label, *(cell(values[a]) for a in names), cell(getattr(scores, f"{key}_mean")))
    for key, label in (("icc", "ICC zero predictor"), ("mae", "MAE zero predictor")):
        values = getattr(scores, f"baseline_{key}")
        if values:
            table.add_row(label, *(cell(values[a]) for a in names), cell(scores.baseline_mean(key)),
                          style="dim")
    return table


def _frames(scores, intensity) -> str:
    n = scores.frames if scores is not None else max(intensity.frames.values(), default=0)
    return f"{n} frames"


def _print_scores(console, title: str, scores, intensity) -> None:
    title = f"{title} ({_frames(scores, intensity)})"
    if scores is not None:
        console.print(_scores_table(title, scores))
    if intensity is not None:
        console.print(_intensity_table(title, intensity))


def print_result(result) -> None:
    """A run's test scores (and scores on other datasets) as rich tables."""
    from auzoo.engine.records import AUScores, IntensityScores
    from auzoo.utils.console import make_console

    console = make_console()
    p, t = result.provenance, result.training
    _print_scores(console, f"{p.model} fold {p.fold} on {p.dataset}: test subjects "
                  f"{', '.join(p.test_subjects)}", result.scores, result.intensity)
    for data, other in result.cross.items():
        left = other["left_out"]
        _print_scores(console, f"{p.model} on {other['dataset']} ({data}), every subject, "
                      f"shared AUs; left out: model-only {left['model_only']}, "
                      f"data-only {left['data_only']}",
                      AUScores.from_dict(other["scores"]) if other.get("scores") else None,
                      IntensityScores.from_dict(other["intensity"]) if other.get("intensity") else None)
    if t is not None:
        console.print(f"best epoch {t.best_epoch} of {t.epochs} (chosen on {p.select_on}); "
                      f"backbone {p.backbone_init.get('weights', '?')}; checkpoint {t.checkpoint}")


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


def _write_eval(path, out) -> None:
    """Per-AU scores to ``path`` (CSV) and what was scored to ``path.json``."""
    import json
    from pathlib import Path

    import pandas as pd

    from auzoo.engine.checkpoint import plain
    from auzoo.utils.io import atomic_write_text

    scores, intensity, meta = out["scores"], out.get("intensity"), out["meta"]
    rows = []
    for au in (list(scores.f1) if scores is not None else list(intensity.icc)):
        row = dict(AU=au)
        if scores is not None:
            row.update(f1=scores.f1[au], accuracy=scores.acc[au], **scores.counts[au])
        if intensity is not None:
            row.update(icc=intensity.icc[au], pcc=intensity.pcc[au], mae=intensity.mae[au],
                       intensity_frames=intensity.frames[au])
        rows.append(row)
    mean = dict(AU="mean")
    if scores is not None:
        mean.update(f1=scores.f1_mean, accuracy=scores.acc_mean)
    if intensity is not None:
        mean.update(icc=intensity.icc_mean, pcc=intensity.pcc_mean, mae=intensity.mae_mean)
    rows.append(mean)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows).to_csv(path, index=False)
    record = {k: v for k, v in out.items()
              if k not in ("scores", "intensity", "meta", "predictions")}
    record.update(produced_by="auzoo eval", model=meta.get("model"), aus=meta.get("aus"),
                  loaded_from=meta.get("loaded_from"),
                  scores=scores.to_dict() if scores is not None else None,
                  intensity=intensity.to_dict() if intensity is not None else None)
    atomic_write_text(Path(str(path) + ".json"), json.dumps(plain(record), indent=1))


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
