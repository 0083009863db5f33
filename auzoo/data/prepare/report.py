"""What ``auzoo prepare`` prints when a cache is finished: a table per subject,
the totals, what was left out and why, and the comparison with published counts."""
from __future__ import annotations

from typing import List, Sequence

from auzoo.data.detected import ANNOTATED


def table(title: str, columns: Sequence[str], rows: List[Sequence[str]], total: Sequence[str]):
    from rich.table import Table

    t = Table(title=title)
    for col in columns:
        t.add_column(col, justify="left" if col in ("subject", "sequence", "") else "right")
    for row in rows:
        t.add_row(*row)
    t.add_row(*total, style="bold")
    return t


def notes(meta: dict, console) -> None:
    for line in meta.get("label_checks", ()):
        console.print(line)
    console.print(f"data checksum {meta['checksum']}")


def disfa_report(meta: dict, skipped: List[str], console) -> None:
    detected = meta.get("landmark_source", ANNOTATED) != ANNOTATED
    t = meta["totals"]
    if detected:
        columns = ("subject", "frames", "labels", "no face", "lm unusable", "bad", "")
        rows = [(s, f"{r['frames']:,}", f"{r['label_lines']:,}", str(r["landmarks_missing"]),
                 str(r["landmarks_unusable"]), str(r["bad_landmark_frames"]),
                 "resumed" if s in skipped else "") for s, r in meta["subjects"].items()]
        total = ("all", f"{t['frames']:,}", "", str(t["landmarks_missing"]),
                 str(t["landmarks_unusable"]), str(t["bad_landmark_frames"]), "")
        title = (f"DISFA cache {meta['checksum']} ({meta['camera']} camera, {meta['size']} px, "
                 f"landmarks: {meta['landmark_source']})")
    else:
        columns = ("subject", "frames", "labels", "lm files", "lm missing", "lm unusable",
                   "Error_LOG", "bad", "")
        rows = [(s, f"{r['frames']:,}", f"{r['label_lines']:,}", f"{r['landmark_files']:,}",
                 str(r["landmarks_missing"]), str(r["landmarks_unusable"]),
                 str(r["error_log_frames"]), str(r["bad_landmark_frames"]),
                 "resumed" if s in skipped else "") for s, r in meta["subjects"].items()]
        total = ("all", f"{t['frames']:,}", "", "", str(t["landmarks_missing"]),
                 str(t["landmarks_unusable"]), str(t["error_log_frames"]),
                 str(t["bad_landmark_frames"]), "")
        title = f"DISFA cache {meta['checksum']} ({meta['camera']} camera, {meta['size']} px)"
    console.print(table(title, columns, rows, total))
    if detected:
        console.print(f"{t['frames']:,} frames of {len(meta['subjects'])} subjects; landmarks found "
                      f"by dlib on each frame. {t['landmarks_missing']} with no face found and "
                      f"{t['landmarks_unusable']} with unusable landmarks (kept in the index, "
                      "flagged, image left black). DISFA's Error_LOG lists errors of the left "
                      "camera's annotations and is not applied.")
    else:
        console.print(f"{t['frames']:,} frames of {len(meta['subjects'])} subjects; "
                      f"{t['landmarks_missing']} without a landmark file and "
                      f"{t['landmarks_unusable']} with unusable landmarks (kept in the index, "
                      f"flagged, image left black); {t['error_log_frames']} in DISFA's "
                      "Error_LOG ranges.")
    for s, r in meta["subjects"].items():
        if r.get("label_lines_per_au"):
            console.print(f"[yellow]{s}: AU files differ in length {r['label_lines_per_au']}; "
                          "the shortest was used[/]")
    notes(meta, console)
