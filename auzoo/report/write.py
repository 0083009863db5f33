"""Every report file of one results folder, from every finished cell in it."""
from __future__ import annotations

from pathlib import Path
from typing import Dict, Optional, Sequence

import pandas as pd

from auzoo.engine.records import RunResult
from auzoo.report.markdown import markdown_report
from auzoo.report.plots import write_plots
from auzoo.report.stats import paired_comparison, per_subject_table
from auzoo.report.tables import cross_frame, model_means, published_by_model, results_frame
from auzoo.utils.io import atomic_write, atomic_write_text

RESULTS_CSV = "results.csv"
RESULTS_MD = "results.md"
COMPARISON_CSV = "comparison.csv"
CROSS_CSV = "cross_results.csv"


def _csv(frame: pd.DataFrame, path: Path) -> None:
    atomic_write(path, lambda tmp: frame.to_csv(tmp, index=False, float_format="%.4g"))


def write_reports(out: Path, results: Sequence[RunResult], *, synthetic: bool,
                  plots: bool = True) -> Dict[str, object]:
    """results.csv, results.md, comparison.csv (two or more models),
    cross_results.csv (scores on --test-data) and plots/, each written whole
    (a reader never sees a half file) with a normal file mode."""
    out = Path(out)
    if not results:
        raise ValueError(f"{out}: no finished cell to report")
    # drawn faces, whether the demo made them or the user prepared `auzoo synth` output
    synthetic = synthetic or any((r.provenance.protocol or {}).get("synthetic") for r in results)
    frame = results_frame(results)
    published = published_by_model(results)
    comparison: Optional[pd.DataFrame] = None
    if len({r.provenance.model for r in results}) >= 2:
        comparison = paired_comparison(per_subject_table(results))
        _csv(comparison, out / COMPARISON_CSV)
    cross = cross_frame(results)
    if len(cross):
        _csv(cross, out / CROSS_CSV)
    _csv(frame, out / RESULTS_CSV)
    atomic_write_text(out / RESULTS_MD, markdown_report(
        frame, results, synthetic=synthetic, published=published, comparison=comparison,
        cross=cross))
    if plots:
        write_plots(model_means(frame), published, out / "plots", synthetic=synthetic)
    return dict(frame=frame, comparison=comparison, cross=cross, published=published)
