"""A synthetic DISFA in the real layout: drawn faces whose AUs move the landmarks.

``auzoo synth disfa OUT`` writes what a real copy has (see :mod:`.reader`)
with the first N of DISFA's 27 subject ids. Each subject is a drawn face with
its own identity (shape, size, skin tone, position, head roll, lighting,
noise). The 12 labelled AUs rise and fall in episodes (smiles, frowns,
surprise, speech ...) with intensities 0-5, and each AU moves the 66 landmarks
of its own face region, so the face, the landmark files and the labels agree
and a model can learn every AU from the region it lives in.

The quirks of real copies are reproduced so the reader is exercised on them:

* SN010's label files are one line short of its video;
* SN012's video is one frame short of its labels;
* SN011 has one landmark file more than it has frames;
* SN031 names its landmark files ``l0NNNN_lm.mat`` numbered from 1, and misses
  one (real copies miss frame 3631; here frame min(3630, n // 2));
* SN002 misses one landmark file too (so that small sets have a hole);
* SN003's video is ``leftVideoSN003_Comp.avi`` (other subjects:
  ``LeftVideoSNxxx_comp.avi``); SN004's landmark folder is not ``tmp_frame_lm``;
* right-camera videos (half size) sit in ``Video_RightCamera``.

Each frame carries its own number as a 16-bit bar code in the bottom-left
corner (:func:`read_frame_code`), so tests can check which video frame ended up
where. The output is byte-for-byte the same for a seed.
"""
from __future__ import annotations

import io
import json
import os
from pathlib import Path
from typing import Dict, Optional

import cv2
import numpy as np
import scipy.io

from auzoo.data.datasets.disfa.protocol import DISFA, DISFA_LABELLED_AUS, DISFA_SUBJECTS
from auzoo.data.synth import SYNTH_MARKER
from auzoo.data.synth.draw import render_frame
from auzoo.data.synth.face import au_timeline, face_landmarks, head_pose, make_identity
from auzoo.data.synth.face import to_image as _to_image

FPS = 20


def _mat_bytes(pts_1based: np.ndarray) -> bytes:
    """A MAT v5 file holding ``pts`` with a fixed header (scipy stamps the date)."""
    buf = io.BytesIO()
    scipy.io.savemat(buf, {"pts": pts_1based}, do_compression=False)
    data = bytearray(buf.getvalue())
    header = b"MATLAB 5.0 MAT-file, written by auzoo synth"
    data[:116] = header.ljust(116, b" ")
    return bytes(data)


def _video_writer(path: Path, width: int, height: int) -> cv2.VideoWriter:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), FPS, (width, height))
    if not writer.isOpened():
        raise RuntimeError(f"OpenCV cannot write MJPG video {path}")
    return writer


def _subject_plan(subject: str, frames: int) -> dict:
    """How many frames go where for ``subject`` (the quirks of real copies)."""
    missing = []
    if subject == "SN031":
        missing.append(min(3630, frames // 2))
    if subject == "SN002":
        missing.append(frames // 3)
    return {
        "video_frames": frames - 1 if subject == "SN012" else frames,
        "label_lines": frames - 1 if subject == "SN010" else frames,
        "landmark_frames": frames + 1 if subject == "SN011" else frames,
        "missing_landmarks": missing,
        "landmark_naming": "l0NNNN, from 1" if subject == "SN031" else "SNxxx_NNNN, from 0",
        "landmark_folder": "frame_lm" if subject == "SN004" else "tmp_frame_lm",
        "video_name": (f"leftVideo{subject}_Comp.avi" if subject == "SN003"
                       else f"LeftVideo{subject}_comp.avi"),
    }


def subject_truth(subject: str, frames: int, seed: int = 0, width: int = 1024,
                  height: int = 768) -> dict:
    """What the synthetic DISFA holds for ``subject``: the ground truth tests compare with.

    Returns ``plan`` (frame counts and quirks), ``identity``, ``labels``
    (n, 12) uint8 and ``landmarks`` (n, 66, 2), the 0-based points written to
    the landmark files (drawn landmarks plus annotation noise), for every
    frame rendered (n = the largest of the subject's video, label and
    landmark counts).
    """
    plan = _subject_plan(subject, frames)
    rng = np.random.default_rng([seed, DISFA_SUBJECTS.index(subject) + 1])
    identity = make_identity(rng, width, height)
    n = max(plan["video_frames"], plan["label_lines"], plan["landmark_frames"])
    labels = au_timeline(rng, n)
    noise = rng.normal(0, 0.25, (n, 66, 2))  # annotation noise, in pixels
    drawn = np.stack([_to_image(face_landmarks(identity, labels[t]), head_pose(identity, t, width))
                      for t in range(n)])
    return {"plan": plan, "identity": identity, "labels": labels, "landmarks": drawn + noise}


def _write_subject(out: str, subject: str, frames: int, seed: int, width: int, height: int) -> dict:
    out = Path(out)
    truth = subject_truth(subject, frames, seed, width, height)
    plan, identity, labels = truth["plan"], truth["identity"], truth["labels"]
    n_render = len(labels)

    label_dir = out / "ActionUnit_Labels" / subject
    label_dir.mkdir(parents=True, exist_ok=True)
    for col, au in enumerate(DISFA_LABELLED_AUS):
        lines = "".join(f"{k + 1},{labels[k, col]}\n" for k in range(plan["label_lines"]))
        (label_dir / f"{subject}_au{au}.txt").write_text(lines)

    lm_dir = out / "Landmark_Points" / subject / plan["landmark_folder"]
    lm_dir.mkdir(parents=True, exist_ok=True)
    left = _video_writer(out / "Videos_LeftCamera" / plan["video_name"], width, height)
    rw, rh = width // 2 // 2 * 2, height // 2 // 2 * 2
    right = _video_writer(out / "Video_RightCamera" / f"RightVideo{subject}_Comp.avi", rw, rh)
    try:
        for t in range(n_render):
            img, _ = render_frame(identity, labels[t], t, width, height)
            if t < plan["video_frames"]:
                left.write(img)
                right.write(np.ascontiguousarray(img[:2 * rh:2, 2 * rw - 1::-2]))  # half size, mirrored
            if t < plan["landmark_frames"] and t not in plan["missing_landmarks"]:
                if subject == "SN031":
                    name = f"l0{t + 1:04d}_lm.mat"
                else:
                    name = f"{subject}_{t:04d}_lm.mat"
                pts = truth["landmarks"][t] + 1.0  # MATLAB 1-based
                (lm_dir / name).write_bytes(_mat_bytes(pts))
    finally:
        left.release()
        right.release()
    plan["positives"] = {f"au{au}": int((labels[:plan["label_lines"], c] >= DISFA.threshold).sum())
                         for c, au in enumerate(DISFA_LABELLED_AUS)}
    return plan


def synth_disfa(out, subjects: int = 27, frames: int = 300, seed: int = 0,
                width: int = 1024, height: int = 768, workers: Optional[int] = None) -> Path:
    """Write a synthetic DISFA with the first ``subjects`` subject ids to ``out``.

    Subjects are drawn in parallel (``workers`` processes, default: CPU count);
    the bytes written depend only on the arguments, not on ``workers``.
    """
    if not 1 <= subjects <= len(DISFA_SUBJECTS):
        raise ValueError(f"--subjects must be 1-{len(DISFA_SUBJECTS)}, not {subjects}")
    if frames < 48:
        raise ValueError(f"--frames must be at least 48 so every AU shows, not {frames}")
    if width < 128 or height < 96:
        raise ValueError(f"video size {width}x{height} is too small (at least 128x96)")
    out = Path(out)
    (out / "Videos_LeftCamera").mkdir(parents=True, exist_ok=True)
    (out / "Video_RightCamera").mkdir(parents=True, exist_ok=True)
    ids = DISFA_SUBJECTS[:subjects]
    workers = max(1, min(workers or os.cpu_count() or 1, len(ids)))
    args = [(str(out), s, frames, seed, width, height) for s in ids]

    from rich.progress import Progress

    plans: Dict[str, dict] = {}
    with Progress(transient=False) as progress:
        task = progress.add_task(f"synth DISFA -> {out}", total=len(ids))
        if workers == 1:
            for a in args:
                plans[a[1]] = _write_subject(*a)
                progress.advance(task)
        else:
            # Not plain fork: a process forked after OpenCV started its threads can hang.
            from auzoo.data.prepare.workers import worker_pool

            pool, _ = worker_pool(workers)   # workers that exit if synth is killed
            with pool:
                futures = {a[1]: pool.submit(_write_subject, *a) for a in args}
                for s, f in futures.items():
                    plans[s] = f.result()
                    progress.advance(task)
    marker = {"generator": "auzoo synth disfa", "seed": seed, "frames": frames,
              "width": width, "height": height, "fps": FPS, "subjects": plans}
    (out / SYNTH_MARKER).write_text(json.dumps(marker, indent=1, sort_keys=True) + "\n")
    return out
