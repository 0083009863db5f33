"""Every report file of one results folder, from every finished cell in it:
occurrence (results.csv, F1 tables) from the runs that predict occurrence,
intensity (intensity_results.csv, ICC/PCC/MAE tables) from those that predict
intensity; one results.md with both."""
from __future__ import annotations

from pathlib import Path
from typing import Dict, Optional, Sequence

import pandas as pd

from auzoo.engine.records import RunResult
from auzoo.report.markdown import SYNTHETIC_NOTE, markdown_report, provenance_section
from auzoo.report.plots import write_plots
from auzoo.report.stats import paired_comparison, per_subject_table
from auzoo.report.tables import cross_frame, model_means, published_by_model, results_frame
from auzoo.utils.io import atomic_write, atomic_write_text

RESULTS_CSV = "results.csv"
RESULTS_MD = "results.md"
COMPARISON_CSV = "comparison.csv"
CROSS_CSV = "cross_results.csv"
INTENSITY_CSV = "intensity_results.csv"
INTENSITY_COMPARISON_CSV = "intensity_comparison.csv"


def _csv(frame: pd.DataFrame, path: Path) -> None:
    atomic_write(path, lambda tmp: frame.to_csv(tmp, index=False, float_format="%.4g"))


def write_reports(out: Path, results: Sequence[RunResult], *, synthetic: bool,
                  plots: bool = True) -> Dict[str, object]:
    """results.csv, results.md, comparison.csv (two or more models),
    cross_results.csv (scores on --test-data), intensity_results.csv and
    intensity_comparison.csv (intensity models) and plots/, each written
    whole (a reader never sees a half file) with a normal file mode."""
    out = Path(out)
    if not results:
        raise ValueError(f"{out}: no finished cell to report")
    # drawn faces, whether the demo made them or the user prepared `auzoo synth` output
    synthetic = synthetic or any((r.provenance.protocol or {}).get("synthetic") for r in results)
    occurrence = [r for r in results if r.scores is not None]
    intensity = [r for r in results if r.intensity is not None]
    published = published_by_model(results)
    report: Dict[str, object] = dict(frame=None, comparison=None, cross=None, published=published,
                                     intensity_frame=None, intensity_comparison=None)
    text = ""
    if occurrence:
        frame = results_frame(occurrence)
        comparison: Optional[pd.DataFrame] = None
        if len({r.provenance.model for r in occurrence}) >= 2:
            comparison = paired_comparison(per_subject_table(occurrence))
            _csv(comparison, out / COMPARISON_CSV)
        cross = cross_frame(occurrence)
        if len(cross):
            _csv(cross, out / CROSS_CSV)
        _csv(frame, out / RESULTS_CSV)
        text = markdown_report(frame, occurrence, synthetic=synthetic, published=published,
                               comparison=comparison, cross=cross)
        if plots:
            write_plots(model_means(frame), published, out / "plots", synthetic=synthetic)
        report.update(frame=frame, comparison=comparison, cross=cross)
    if intensity:
        text = _with_intensity(out, text, intensity, synthetic, published, plots, report)
    atomic_write_text(out / RESULTS_MD, text)
    return report


def _with_intensity(out: Path, text: str, results, synthetic: bool, published, plots: bool,
                    report: Dict[str, object]) -> str:
    """Write the intensity tables and plots; results.md's text with their sections."""
    from auzoo.report.intensity import intensity_frame, intensity_sections
    from auzoo.report.intensity_plots import write_intensity_plots

    frame = intensity_frame(results)
    comparison: Optional[pd.DataFrame] = None
    if len({r.provenance.model for r in results}) >= 2:
        comparison = paired_comparison(per_subject_table(results, "icc"), value="icc")
        _csv(comparison, out / INTENSITY_COMPARISON_CSV)
    _csv(frame, out / INTENSITY_CSV)
    if plots:
        write_intensity_plots(model_means(frame), out / "plots")
    report.update(intensity_frame=frame, intensity_comparison=comparison)
    sections = intensity_sections(frame, results, comparison)
    if text:
        return text + "\n" + "\n".join(sections)
    datasets = sorted({r.provenance.dataset for r in results})
    first = results[0].provenance
    head = [f"# auzoo bench: {', '.join(d.upper() for d in datasets)}, AU intensity", ""]
    if synthetic:
        head += [SYNTHETIC_NOTE, ""]
    head += [f"Data: {', '.join(sorted({f'`{r.provenance.data}`' for r in results}))} (checksum "
             f"{', '.join(sorted({r.provenance.data_checksum for r in results}))}); bad frames: "
             f"**{first.bad_frames}**; epoch selected on: **{first.select_on}** by "
             f"**{results[0].training.selected_by if results[0].training else 'icc_mean'}**.", ""]
    return "\n".join(head + sections + provenance_section(results, published))
