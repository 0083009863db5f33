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


def bp4d_report(meta: dict, skipped: List[str], console) -> None:
    """Per subject x task: coded rows, range, holes, missing images, 9s, no face."""
    columns = ("subject", "sequence", "coded", "range", "holes", "no image", "9s", "no face", "")
    rows = []
    for s, r in meta["subjects"].items():
        for t, q in r["sequences"].items():
            rows.append((s, t, f"{q['csv_rows']:,}", f"{q['first']}-{q['last']}", str(q["holes"]),
                         str(len(q["missing_images"])), str(q["not_coded"]), str(q["no_face"]),
                         "resumed" if s in skipped else ""))
    t = meta["totals"]
    total = ("all", "", f"{t['csv_rows']:,}", "", "", str(t["missing_images"]), str(t["not_coded"]),
             str(t["no_face"]), "")
    console.print(table(f"BP4D cache {meta['checksum']} ({meta['layout']}, {meta['size']} px, "
                        f"landmarks: {meta['landmark_source']})", columns, rows, total))
    console.print(f"{t['csv_rows']:,} coded frames in the CSVs of {len(meta['subjects'])} subjects; "
                  f"{t['missing_images']} without an image (left out), {t['frames']:,} in the "
                  f"cache, {t['no_face']} of them without a face and {t['landmarks_unusable']} "
                  "with unusable landmarks (kept in the index, flagged, image left black); "
                  f"{t['not_coded']} labels of the 12 protocol AUs are 9 (not coded: masked).")
    names = [n for r in meta["subjects"].values() for n in r["missing_image_frames"]]
    if names:
        more = f" … and {len(names) - 20} more (meta.json lists all)" if len(names) > 20 else ""
        console.print(f"[yellow]coded frames without an image: {', '.join(names[:20])}{more}[/]")
    if meta.get("csv_columns_left_out"):
        console.print(f"CSV columns left out (not AUs 1-39): {', '.join(meta['csv_columns_left_out'])}")
    if meta.get("intensity_aus"):
        console.print(f"intensity codes of AUs {', '.join(map(str, meta['intensity_aus']))} from "
                      f"{meta['intensity_folder']}: {t.get('intensity_rows', 0):,} rows read, "
                      f"{t.get('intensity_not_coded', 0):,} labels of coded frames not coded "
                      f"(9 or no row: masked), {t.get('intensity_unmatched', 0):,} rows for frames "
                      "the occurrence CSVs do not code (left out)")
        if meta.get("intensity_files_left_out"):
            console.print("intensity files without an occurrence CSV (left out): "
                          + ", ".join(meta["intensity_files_left_out"]))
    else:
        console.print("no intensity codes found (AUCoding/AU_INT/ or an 'AU Intensity Codes' folder)")
    notes(meta, console)


def frames_report(meta: dict, skipped: List[str], console) -> None:
    """Per subject: rows, files missing, frames, no face; the folds; what was left out."""
    proto = meta["protocol"]
    fold_of = {s: k for k, subjects in proto["test_folds"].items() for s in subjects}
    columns = ("subject", "rows", "missing", "frames", "no face", "test fold", "")
    rows = [(s, str(r["rows"]), str(r["missing_files"]), str(r["frames"]), str(r["no_face"]),
             fold_of.get(s, "-"), "resumed" if s in skipped else "")
            for s, r in meta["subjects"].items()]
    t = meta["totals"]
    total = ("all", str(t["rows"]), str(t["missing_files"]), str(t["frames"]), str(t["no_face"]),
             "", "")
    console.print(table(f"cache {meta['checksum']} of {proto['label']} ({meta['size']} px, AUs "
                        f"{', '.join(map(str, proto['aus']))}, positive: value >= "
                        f"{proto['threshold']})", columns, rows, total))
    console.print(f"{t['rows']} labelled rows; {t['missing_files']} left out (file missing or "
                  f"unreadable); {t['frames']} in the cache, {t['no_face']} of them without a face "
                  "(kept in the index, flagged, image left black).")
    for r in meta["subjects"].values():
        for line in r["missing"]:
            console.print(f"[yellow]left out: {line}[/]")
    if not proto["test_folds"]:
        console.print("[yellow]one subject only: no folds (train and eval need at least two)[/]")
    if meta.get("csv_columns_left_out"):
        console.print(f"CSV columns left out: {', '.join(meta['csv_columns_left_out'])}")
    notes(meta, console)
