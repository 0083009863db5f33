"""How the ``auzoo`` command prints and writes scores: occurrence (F1,
accuracy, always-present) and intensity (ICC(3,1), PCC, MAE, the zero
predictor) tables of a run or an ``auzoo eval``."""
from __future__ import annotations


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
