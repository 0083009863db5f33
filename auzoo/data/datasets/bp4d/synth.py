"""A synthetic BP4D in the real layout: ``auzoo synth bp4d OUT``.

The drawn faces of :mod:`auzoo.data.synth` (DISFA's AUs move the landmarks),
written as BP4D has them: one folder of JPEGs per subject x task, an
occurrence CSV per sequence, and JAA-Net-style 49-point landmark lists. BP4D
AUs without a drawn motion of their own follow one that has one (7 <- 6,
10 <- 9, 14 <- 20, 23 <- 17, 24 <- 15, at a higher intensity), so every label
can be learnt from the face. The quirks of real copies are reproduced:

* the coded segment starts mid-sequence (T3 at frame 1, as in BP4D), and the
  sequence has frames before and after it that are not coded;
* image names are zero-padded to 4 digits (``0007.jpg``), CSV frames are not;
* the first subject's T1 misses the image of one coded frame;
* the protocol's AU23 column holds 9 (not coded) for a run of frames of the
  first subject's T2, and AU1 for a run of the second subject's T1;
* the CSVs have the AU columns 1-39 (those BP4D does not code all 9s) plus
  columns 40-45 of 9s, and one CSV lists its columns in another order;
* the 49-point lists (1-based, ``\\r\\n`` line ends) miss one frame's points;
* intensity codes of FERA 2015's five AUs (6, 10, 12, 14, 17: the drawn
  intensity of the AU each follows, 0-5) in one header-less ``frame,intensity``
  CSV per AU and sequence; the first subject's T2 has 9s (not coded) for a
  run of AU12 frames, and the second subject's T1 AU10 file a row for a
  frame its occurrence CSV does not code;
* ``--layout fera`` writes the FERA 2015 copy's folders (``BP4D-training/``,
  CSVs directly in ``AUCoding/``, ``AU Intensity Codes3.0/``) instead of the
  full release's (``AUCoding/AU_INT/``).

dlib finds the drawn faces at full size, but slowly; the lists make
preparing the synthetic copy fast and exact: prepare it with
``--landmarks OUT/landmarks49``. :func:`sequence_truth` gives what was written.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Dict

import cv2
import numpy as np

from auzoo.data.datasets.bp4d.protocol import (BP4D_AUS, CSV_NOT_CODED, FERA2015_INTENSITY_AUS,
                                               MAX_CODED_AU, PARTS)
from auzoo.data.datasets.disfa.protocol import DISFA_LABELLED_AUS
from auzoo.data.synth import SYNTH_MARKER
from auzoo.data.synth.draw import render_frame
from auzoo.data.synth.face import au_timeline, face_landmarks, head_pose, make_identity
from auzoo.data.synth.face import to_image as _to_image

# BP4D AU -> (drawn DISFA AU it follows, least intensity for "present").
_FOLLOWS = {1: (1, 2), 2: (2, 2), 4: (4, 2), 6: (6, 2), 7: (6, 3), 10: (9, 2), 12: (12, 2),
            14: (20, 2), 15: (15, 2), 17: (17, 2), 23: (17, 3), 24: (15, 3)}
EXTRA_COLUMNS = tuple(range(MAX_CODED_AU + 1, MAX_CODED_AU + 7))
LANDMARK_FOLDER = "landmarks49"
LAYOUTS = {"full": ("Sequences(2D+3D)", "AUCoding/AU_OCC", "AUCoding/AU_INT"),
           "fera": ("BP4D-training", "AUCoding", "AU Intensity Codes3.0")}


@dataclass(frozen=True)
class SequenceSettings:
    """What every sequence of a synthetic BP4D shares."""

    frames: int = 24        # coded frames per sequence
    seed: int = 0
    width: int = 1040
    height: int = 1392
    tasks: int = 8          # tasks per subject (T1..)
    layout: str = "full"    # a key of LAYOUTS


def synth_subjects(n: int) -> tuple:
    """The first ``n`` subjects taken from the three parts in turn (every fold has tests)."""
    order = [s for trio in zip(*(PARTS[p] for p in ("part1", "part2", "part3"))) for s in trio]
    order += [s for p in PARTS.values() for s in p if s not in order]
    if not 1 <= n <= len(order):
        raise ValueError(f"--subjects must be 1-{len(order)}, not {n}")
    return tuple(order[:n])


def sequence_truth(subject: str, task: int, settings: SequenceSettings, first: bool = False,
                   second: bool = False) -> dict:
    """What a synthetic sequence holds: images ``1..n_images``, coded ``start..start+frames-1``.

    ``first`` and ``second``: the subject is the first (second) written, which
    carry the planted quirks.

    Returns ``start``, ``n_images``, ``labels`` (frames, 12) 0/1/9 in BP4D_AUS
    order, ``intensity_codes`` (frames, 5) 0-5/9 of FERA 2015's intensity AUs,
    ``intensities`` (the drawn 12) and ``landmarks`` (n_images, 66, 2) 0-based
    pixels for every image, and the quirks planted in it.
    """
    frames, tasks, width = settings.frames, settings.tasks, settings.width
    rng = np.random.default_rng([settings.seed, sum(map(ord, subject))])
    identity = make_identity(rng, width, settings.height)
    lead = [0 if t == 3 else int(rng.integers(3, 9)) for t in range(1, tasks + 1)]
    block = 8 + frames + 3          # the most images a sequence has
    timeline = au_timeline(rng, max(48, tasks * block))
    k = task - 1
    start = lead[k] + 1
    n_images = lead[k] + frames + 3
    cut = timeline[k * block:k * block + n_images]
    coded = cut[start - 1:start - 1 + frames]
    labels = np.stack([(coded[:, DISFA_LABELLED_AUS.index(d)] >= level).astype(np.uint8)
                       for d, level in (_FOLLOWS[a] for a in BP4D_AUS)], 1)
    codes = np.stack([coded[:, DISFA_LABELLED_AUS.index(_FOLLOWS[a][0])]
                      for a in FERA2015_INTENSITY_AUS], 1).astype(np.uint8)
    quirks = {}
    if first and task == 2:
        codes[1:4, FERA2015_INTENSITY_AUS.index(12)] = CSV_NOT_CODED
        quirks["intensity_not_coded"] = {"au12": list(range(start + 1, start + 4))}
    if second and task == 1:
        quirks["intensity_extra_row"] = {"au10": start + frames}
    if first and task == 2:
        labels[frames // 3:frames // 3 + 4, BP4D_AUS.index(23)] = CSV_NOT_CODED
        quirks["not_coded"] = {"au23": list(range(start + frames // 3, start + frames // 3 + 4))}
    if second and task == 1:
        labels[2:5, BP4D_AUS.index(1)] = CSV_NOT_CODED
        quirks["not_coded"] = {"au1": list(range(start + 2, start + 5))}
    if first and task == 1:
        quirks["missing_image"] = start + frames // 2
    if first and task == 1 and frames > 6:
        quirks["missing_landmarks"] = start + 1
    if second and task == 2:
        quirks["shuffled_columns"] = True
    landmarks = np.stack([_to_image(face_landmarks(identity, cut[t]), head_pose(identity, t, width))
                          for t in range(n_images)])
    return {"start": start, "n_images": n_images, "labels": labels, "intensity_codes": codes,
            "intensities": cut,
            "identity": identity, "landmarks": landmarks, "quirks": quirks}


def _csv_text(truth: dict, frames: int, shuffled: bool) -> str:
    columns = [0, *range(1, MAX_CODED_AU + 1), *EXTRA_COLUMNS]
    if shuffled:
        columns = [columns[0], *reversed(columns[1:])]
    lines = [",".join(map(str, columns))]
    for j in range(frames):
        row = {0: truth["start"] + j}
        for c in columns[1:]:
            row[c] = int(truth["labels"][j, BP4D_AUS.index(c)]) if c in BP4D_AUS else CSV_NOT_CODED
        lines.append(",".join(str(row[c]) for c in columns))
    return "\n".join(lines) + "\n"


def _write_intensity(folder: Path, subject: str, task: int, truth: dict) -> None:
    """One header-less ``frame,intensity`` CSV per intensity AU."""
    extra = truth["quirks"].get("intensity_extra_row", {})
    for c, au in enumerate(FERA2015_INTENSITY_AUS):
        (folder / f"AU{au:02d}").mkdir(parents=True, exist_ok=True)
        lines = [f"{truth['start'] + j},{v}" for j, v in enumerate(truth["intensity_codes"][:, c])]
        if f"au{au}" in extra:
            lines.append(f"{extra[f'au{au}']},0")
        (folder / f"AU{au:02d}" / f"{subject}_T{task}_AU{au:02d}.csv").write_text("\n".join(lines) + "\n")


def _write_sequence(out: Path, subject: str, task: int, truth: dict, settings: SequenceSettings,
                    lists: Dict[str, list]) -> dict:
    frames, width, height = settings.frames, settings.width, settings.height
    images_dir, csv_dir, intensity_dir = LAYOUTS[settings.layout]
    _write_intensity(out / intensity_dir, subject, task, truth)
    folder = out / images_dir / subject / f"T{task}"
    folder.mkdir(parents=True, exist_ok=True)
    (out / csv_dir).mkdir(parents=True, exist_ok=True)
    quirks = truth["quirks"]
    (out / csv_dir / f"{subject}_T{task}.csv").write_text(
        _csv_text(truth, frames, quirks.get("shuffled_columns", False)))
    for t in range(truth["n_images"]):
        img, pts = render_frame(truth["identity"], truth["intensities"][t], t, width, height)
        f = t + 1
        if f != quirks.get("missing_image"):
            cv2.imwrite(str(folder / f"{f:04d}.jpg"), img, [cv2.IMWRITE_JPEG_QUALITY, 92])
        if truth["start"] <= f < truth["start"] + frames:
            lists["path"].append(f"{subject}/T{task}/{f:04d}.jpg")
            p49 = pts[17:66] + 1.0 if f != quirks.get("missing_landmarks") else np.zeros((49, 2))
            lists["land"].append(" ".join(f"{v:.3f}" for v in p49.ravel()))
    return {"start": truth["start"], "images": truth["n_images"], **quirks}


def synth_bp4d(out, subjects: int = 3, frames: int = 24, tasks: int = 8, seed: int = 0,
               width: int = 1040, height: int = 1392, layout: str = "full") -> Path:
    """Write a synthetic BP4D (``frames`` coded frames per sequence) to ``out``."""
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {', '.join(LAYOUTS)}, not {layout!r}")
    if frames < 8 or not 1 <= tasks <= 8:
        raise ValueError("need --frames >= 8 and 1-8 tasks")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    names = synth_subjects(subjects)
    settings = SequenceSettings(frames, seed, width, height, tasks, layout)
    lists = {"path": [], "land": []}
    plan: Dict[str, dict] = {}
    for i, s in enumerate(names):
        plan[s] = {}
        for task in range(1, tasks + 1):
            truth = sequence_truth(s, task, settings, i == 0, i == 1)
            plan[s][f"T{task}"] = _write_sequence(out, s, task, truth, settings, lists)
    (out / LANDMARK_FOLDER).mkdir(exist_ok=True)
    for kind in ("path", "land"):
        with open(out / LANDMARK_FOLDER / f"BP4D_all_{kind}.txt", "w", newline="") as f:
            f.write("".join(line + "\r\n" for line in lists[kind]))
    marker = {"generator": "auzoo synth bp4d", "seed": seed, "frames": frames, "tasks": tasks,
              "width": width, "height": height, "layout": layout, "subjects": plan}
    (out / SYNTH_MARKER).write_text(json.dumps(marker, indent=1, sort_keys=True) + "\n")
    return out
