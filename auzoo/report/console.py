"""The table ``auzoo bench`` prints: mean F1 per model, its published row under it."""
from __future__ import annotations

from typing import Any, Mapping

import pandas as pd

from auzoo.report.markdown import fmt, fmt_std
from auzoo.report.tables import BASELINE, scored_aus, model_means


def console_table(frame: pd.DataFrame, published: Mapping[str, Any], title: str = ""):
    from rich.table import Table

    means = model_means(frame)
    aus = scored_aus(frame)
    seeds = int(means["n_seeds"].max()) if "n_seeds" in means and means["n_seeds"].notna().any() else 1
    table = Table(title=title or ("F1-frame (%), mean over folds"
                                  + (f" and {seeds} seeds (± std)" if seeds > 1 else "")),
                  box=None, padding=(0, 0, 0, 2), header_style="bold underline")
    table.add_column("model", no_wrap=True, max_width=18)
    for au in aus:
        table.add_column(au, justify="right", no_wrap=True)
    table.add_column("Avg", justify="right", style="bold", no_wrap=True)
    table.add_column("acc", justify="right", no_wrap=True)
    for name, row in means.iterrows():
        table.add_row(str(name), *(fmt(row.get(f"f1_{au}")) for au in aus),
                      fmt_std(row, "f1_mean"), fmt(row["acc_mean"]),
                      style="dim" if name == BASELINE else None)
        pub = published.get(name)
        if pub is not None:
            theirs = dict(zip((f"AU{a}" for a in pub.aus), pub.f1))
            table.add_row("  published", *(fmt(theirs.get(au)) for au in aus), fmt(pub.average),
                          fmt(pub.acc_avg), style="italic")
    return table
