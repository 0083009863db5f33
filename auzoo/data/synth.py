"""A synthetic DISFA in the real layout: drawn faces whose AUs move the landmarks.

``auzoo synth disfa OUT`` writes what a real copy has (see ``auzoo.data.disfa``)
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
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import cv2
import numpy as np
import scipy.io

from auzoo.data.align import FLIP_PERMUTATION_66, landmarks68_to_66
from auzoo.data.datasets.disfa import DISFA, DISFA_LABELLED_AUS, DISFA_SUBJECTS
from auzoo.data.mean_face import MEAN_FACE_68 as _MEAN_FACE_68

SYNTH_MARKER = "auzoo_synth.json"
FPS = 20

def _neutral_face() -> np.ndarray:
    """Symmetric 66-point neutral face, origin at the nose midpoint, lips closed."""
    pts = landmarks68_to_66(_MEAN_FACE_68).astype(np.float64)
    pts -= (pts[27] + pts[30]) / 2
    mirrored = pts[FLIP_PERMUTATION_66] * (-1, 1)
    pts = (pts + mirrored) / 2
    # Close the mouth: inner upper and lower lip meet on one line.
    mid = (pts[[60, 61, 62]] + pts[[65, 64, 63]]) / 2
    pts[[60, 61, 62]] = mid - (0, 0.003)
    pts[[65, 64, 63]] = mid + (0, 0.003)
    return pts


NEUTRAL_FACE = _neutral_face()
_CHIN_REACH = float(NEUTRAL_FACE[8, 1])  # nose midpoint -> chin, in face units

# How each AU moves the landmarks at full intensity (5), in face units
# (the face is ~0.9 wide; x grows to the image right, y downwards). Points on
# the image-left half mirror those on the right: (index, dx, dy) pairs are
# given for the image-left point and mirrored automatically.
_AU_MOTION_LEFT: Dict[int, List[Tuple[int, float, float]]] = {
    1: [(21, 0.0, -0.065), (20, 0.0, -0.05), (19, 0.0, -0.02)],                # inner brow raiser
    2: [(17, 0.0, -0.065), (18, 0.0, -0.055), (19, 0.0, -0.035), (20, 0.0, -0.01)],  # outer brow
    4: [(21, 0.03, 0.045), (20, 0.02, 0.04), (19, 0.01, 0.03), (18, 0.0, 0.02),
        (17, 0.0, 0.01)],                                                      # brow lowerer
    5: [(37, 0.0, -0.03), (38, 0.0, -0.03), (19, 0.0, -0.01)],                 # upper lid raiser
    6: [(41, 0.0, -0.025), (40, 0.0, -0.025), (36, 0.0, -0.008), (2, 0.0, -0.015)],  # cheek raiser
    9: [(31, 0.0, -0.04), (32, 0.0, -0.045), (21, 0.005, 0.02), (49, 0.0, -0.02),
        (50, 0.0, -0.02)],                                                     # nose wrinkler
    12: [(48, -0.04, -0.045), (49, -0.015, -0.02), (59, -0.02, -0.02), (60, -0.01, -0.01),
         (65, -0.01, -0.01)],                                                  # lip corner puller
    15: [(48, 0.0, 0.045), (59, 0.0, 0.02), (49, 0.0, 0.01), (60, 0.0, 0.01), (65, 0.0, 0.01)],
    17: [(59, 0.0, -0.025), (58, 0.0, -0.03), (65, 0.0, -0.02), (7, 0.0, -0.025),
         (6, 0.0, -0.01)],                                                     # chin raiser
    20: [(48, -0.05, 0.005), (49, -0.025, 0.005), (59, -0.025, 0.0), (60, -0.02, 0.0),
         (65, -0.02, 0.0), (50, 0.0, 0.006), (58, 0.0, -0.006)],               # lip stretcher
    25: [(65, 0.0, 0.04), (59, 0.0, 0.02), (58, 0.0, 0.025), (60, 0.0, -0.006),
         (49, 0.0, -0.004)],                                                   # lips part
    26: [(7, 0.0, 0.09), (6, 0.0, 0.07), (5, 0.0, 0.05), (4, 0.0, 0.03), (3, 0.0, 0.015),
         (59, 0.0, 0.06), (58, 0.0, 0.065), (65, 0.0, 0.07), (48, 0.0, 0.02)],   # jaw drop
}
# Midline points (no mirror image) and their motion.
_AU_MOTION_MID: Dict[int, List[Tuple[int, float, float]]] = {
    9: [(33, 0.0, -0.045), (29, 0.0, -0.012), (51, 0.0, -0.02)],
    12: [(57, 0.0, -0.005)],
    15: [(57, 0.0, 0.01)],
    17: [(57, 0.0, -0.03), (64, 0.0, -0.02), (8, 0.0, -0.025)],
    20: [(51, 0.0, 0.006), (57, 0.0, -0.006)],
    25: [(64, 0.0, 0.045), (57, 0.0, 0.028), (61, 0.0, -0.006)],
    26: [(8, 0.0, 0.095), (57, 0.0, 0.07), (64, 0.0, 0.08)],
}


def _au_motion() -> np.ndarray:
    """(12, 66, 2) landmark displacement of each labelled AU at intensity 5."""
    motion = np.zeros((len(DISFA_LABELLED_AUS), 66, 2))
    for i, au in enumerate(DISFA_LABELLED_AUS):
        for k, dx, dy in _AU_MOTION_LEFT.get(au, ()):
            motion[i, k] = (dx, dy)
            motion[i, FLIP_PERMUTATION_66[k]] = (-dx, dy)
        for k, dx, dy in _AU_MOTION_MID.get(au, ()):
            motion[i, k] = (dx, dy)
    return motion


AU_MOTION = _au_motion()

# Expression episodes: which AUs move together, with each member's chance of
# taking part. The first five together cover the 8 evaluated AUs, and every
# subject gets each of them at least once.
_EPISODES: Tuple[Dict[int, float], ...] = (
    {1: 1.0, 2: 1.0, 5: 0.6, 25: 0.3, 26: 0.2},   # surprise
    {4: 1.0, 17: 0.4, 15: 0.3, 20: 0.2},          # frown
    {9: 1.0, 4: 0.4, 25: 0.3, 17: 0.2},           # disgust
    {6: 1.0, 12: 1.0, 25: 0.6, 26: 0.2},          # smile
    {25: 1.0, 26: 0.7, 20: 0.2},                  # speech / mouth open
    {1: 1.0, 4: 0.8, 15: 0.8, 17: 0.6},           # sadness
    {12: 1.0, 25: 0.3},                           # closed smile
    {20: 1.0, 1: 0.5, 2: 0.4, 4: 0.4, 25: 0.6},   # fear
    {26: 1.0, 25: 1.0},                           # yawn
)
_REQUIRED_EPISODES = 5
_EVALUATED = [DISFA_LABELLED_AUS.index(a) for a in DISFA.aus]


def au_timeline(rng: np.random.Generator, n: int) -> np.ndarray:
    """(n, 12) uint8 intensities 0-5 rising and falling in expression episodes.

    Every evaluated AU reaches intensity >= 2 for at least 3 frames.
    """
    mean_len = float(np.clip(n / 9, 6, 120))
    for _ in range(100):
        out = np.zeros((n, len(DISFA_LABELLED_AUS)))
        order = list(rng.permutation(_REQUIRED_EPISODES))
        t = int(rng.integers(0, max(1, int(mean_len / 3))))
        while t < n:
            kind = order.pop() if order else int(rng.integers(len(_EPISODES)))
            length = max(5, int(round(mean_len * rng.uniform(0.7, 1.5))))
            for au, p in _EPISODES[kind].items():
                if rng.random() > p:
                    continue
                peak = rng.uniform(2.6, 5.4) if p == 1.0 else rng.uniform(0.6, 5.4)
                start = t + int(rng.integers(0, max(1, length // 6)))
                stop = t + length - int(rng.integers(0, max(1, length // 6)))
                if start >= n or stop - start < 2:
                    continue
                ramp = max(1, (stop - start) // 4)
                k = np.arange(stop - start)
                env = np.minimum(1.0, np.minimum(k + 1, stop - start - k) / ramp)
                col = DISFA_LABELLED_AUS.index(au)
                end = min(stop, n)  # an episode still going when the video ends is cut
                out[start:end, col] = np.maximum(out[start:end, col], peak * env[:end - start])
            t += length + int(round(mean_len * rng.uniform(0.15, 0.9)))
        labels = np.clip(np.rint(out), 0, 5).astype(np.uint8)
        if (labels[:, _EVALUATED] >= 2).sum(0).min() >= 3:
            return labels
    raise ValueError(f"{n} frames are too few to show every AU; use at least 48")


# ------------------------------------------------------------------ identities

@dataclass
class Identity:
    shape: np.ndarray            # (66, 2) neutral landmarks of this person, face units
    px_per_unit: float
    centre: np.ndarray           # nose midpoint in the image, pixels
    roll: float                  # degrees
    motion_phase: np.ndarray     # head-motion phases
    skin: Tuple[float, float, float]
    lip: Tuple[float, float, float]
    brow: Tuple[float, float, float]
    hair: Tuple[float, float, float]
    iris: Tuple[float, float, float]
    brow_width: float            # face units
    background: np.ndarray       # (H, W, 3) uint8 BGR
    noise: List[Tuple[np.ndarray, np.ndarray]]  # a few noise fields (+, -) uint8, cycled


def _scale_about(points: np.ndarray, idx, sx: float, sy: float) -> None:
    c = points[idx].mean(0)
    points[idx] = c + (points[idx] - c) * (sx, sy)


def make_identity(rng: np.random.Generator, width: int, height: int) -> Identity:
    shape = NEUTRAL_FACE.copy()
    jaw = list(range(0, 17))
    shape[jaw, 0] *= rng.uniform(0.88, 1.1)                 # face width
    shape[jaw[3:14], 1] *= rng.uniform(0.92, 1.08)          # jaw length
    left_eye, right_eye = list(range(36, 42)), list(range(42, 48))
    eye_size = rng.uniform(0.85, 1.2)
    spread = rng.uniform(-0.02, 0.02)
    for eye, sign in ((left_eye, -1), (right_eye, 1)):
        _scale_about(shape, eye, eye_size, eye_size * rng.uniform(0.9, 1.15))
        shape[eye, 0] += sign * spread
    brows = list(range(17, 27))
    shape[brows, 1] += rng.uniform(-0.025, 0.015)
    nose = list(range(31, 36))
    _scale_about(shape, nose, rng.uniform(0.85, 1.25), 1.0)
    shape[[29, 30] + nose, 1] += rng.uniform(-0.02, 0.02)
    mouth = list(range(48, 66))
    _scale_about(shape, mouth, rng.uniform(0.85, 1.15), rng.uniform(0.8, 1.3))
    shape[mouth, 1] += rng.uniform(-0.02, 0.02)
    shape = (shape + shape[FLIP_PERMUTATION_66] * (-1, 1)) / 2   # stay symmetric
    shape += rng.normal(0, 0.003, shape.shape)                    # but not perfectly

    reach = height * rng.uniform(0.2, 0.3)                  # nose midpoint -> chin, pixels
    px = reach / _CHIN_REACH
    centre = np.array([width * rng.uniform(0.42, 0.58), height * rng.uniform(0.4, 0.5)])

    tone = rng.uniform(0, 1)
    light = np.array([205, 220, 245]) * rng.uniform(0.9, 1.05)
    dark = np.array([55, 80, 115]) * rng.uniform(0.9, 1.1)
    skin = dark + (light - dark) * tone
    lip = skin * np.array([0.7, 0.62, 0.9])
    brow = np.array([30, 35, 45]) + rng.uniform(0, 60) * np.array([0.5, 0.7, 1.0])
    hair = brow * rng.uniform(0.8, 1.3)
    iris = rng.choice([(40, 60, 90), (90, 70, 40), (60, 90, 60), (30, 40, 50)]) * rng.uniform(0.8, 1.2)

    # Background: a gradient towards a second colour, plus the light falling
    # from one side; noise fields are drawn once and cycled over frames.
    c0, c1 = rng.uniform(30, 220, 3), rng.uniform(30, 220, 3)
    direction = rng.uniform(-1, 1, 2)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    ramp = (direction[0] * xx / width + direction[1] * yy / height)
    ramp = (ramp - ramp.min()) / max(1e-6, float(np.ptp(ramp)))
    background = (c0 + (c1 - c0) * ramp[..., None]).astype(np.uint8)
    sigma = rng.uniform(2, 7)
    noise = []
    for _ in range(3):
        field = np.rint(rng.normal(0, sigma, (height, width, 3)))
        noise.append((np.clip(field, 0, 255).astype(np.uint8), np.clip(-field, 0, 255).astype(np.uint8)))
    return Identity(shape=shape, px_per_unit=px, centre=centre, roll=rng.uniform(-7, 7),
                    motion_phase=rng.uniform(0, 2 * np.pi, 4), skin=tuple(skin), lip=tuple(lip),
                    brow=tuple(brow), hair=tuple(hair), iris=tuple(iris),
                    brow_width=rng.uniform(0.022, 0.04), background=background, noise=noise)


def face_landmarks(identity: Identity, intensities: np.ndarray) -> np.ndarray:
    """(66, 2) landmarks in face units of ``identity`` showing AU ``intensities`` (12,)."""
    weights = np.asarray(intensities, dtype=np.float64) / 5.0
    return identity.shape + np.tensordot(weights, AU_MOTION, axes=1)


def head_pose(identity: Identity, t: int, width: int) -> np.ndarray:
    """2x3 matrix face units -> image pixels for frame ``t``: slow roll, sway, zoom."""
    ph = identity.motion_phase
    angle = np.deg2rad(identity.roll + 3.0 * np.sin(t / 37.0 + ph[0]))
    scale = identity.px_per_unit * (1 + 0.03 * np.sin(t / 53.0 + ph[1]))
    shift = 0.015 * width * np.array([np.sin(t / 41.0 + ph[2]), np.sin(t / 29.0 + ph[3])])
    c, s = np.cos(angle) * scale, np.sin(angle) * scale
    return np.array([[c, -s, identity.centre[0] + shift[0]], [s, c, identity.centre[1] + shift[1]]])


# ------------------------------------------------------------------ drawing

_SHIFT = 4                     # sub-pixel bits for cv2 drawing
_ONE = 1 << _SHIFT


def _fix(points: np.ndarray) -> np.ndarray:
    return np.round(np.asarray(points) * _ONE).astype(np.int32)


def _to_image(points: np.ndarray, pose: np.ndarray) -> np.ndarray:
    return points @ pose[:, :2].T + pose[:, 2]


def _shade(colour, factor: float):
    return tuple(float(np.clip(c * factor, 0, 255)) for c in colour)


def _line(img, pts, colour, thickness, closed=False):
    cv2.polylines(img, [_fix(pts)], closed, colour, max(1, int(round(thickness))),
                  cv2.LINE_AA, _SHIFT)


def _fill(img, pts, colour):
    cv2.fillPoly(img, [_fix(pts)], colour, cv2.LINE_AA, _SHIFT)


def _ellipse(img, centre, axes, angle, colour, thickness=-1):
    cv2.ellipse(img, tuple(int(v) for v in _fix(centre)), tuple(int(v) for v in _fix(axes)),
                angle, 0, 360, colour, thickness, cv2.LINE_AA, _SHIFT)


def _forehead(face: np.ndarray, height: float) -> np.ndarray:
    """Face-unit points of the forehead arc from jaw point 16 over to jaw point 0."""
    left, right = face[0], face[16]
    centre = (left + right) / 2
    rx = (right[0] - left[0]) / 2
    ry = centre[1] - (face[17:27, 1].min() - height)
    theta = np.linspace(0, np.pi, 15)
    return np.stack([centre[0] + rx * np.cos(theta), centre[1] - ry * np.sin(theta)], 1)


def draw_face(img: np.ndarray, identity: Identity, face: np.ndarray, pose: np.ndarray,
              intensities: np.ndarray) -> np.ndarray:
    """Draw the face with landmarks ``face`` (face units) into ``img`` (BGR).

    Returns the (66, 2) landmarks in image pixels.
    """
    a = dict(zip(DISFA_LABELLED_AUS, np.asarray(intensities, dtype=np.float64) / 5.0))
    px = float(np.hypot(*pose[:, 0]))
    P = _to_image(face, pose)
    skin = identity.skin
    fold = _shade(skin, 0.72)

    # Head: hair behind, neck, ears, then the skin of the face.
    top = _forehead(face, 0.32)
    hair = _forehead(face * (1.12, 1.0) + (0, -0.05), 0.42)
    _fill(img, _to_image(np.vstack([hair, face[[0, 16]] * (1.12, 1) + (0, 0.25)]), pose),
          identity.hair)
    neck = np.array([[-0.26, 0.45], [0.26, 0.45], [0.3, 1.3], [-0.3, 1.3]]) + (0, identity.shape[8, 1] - 0.6)
    _fill(img, _to_image(neck, pose), _shade(skin, 0.8))
    for side in (0, 16):
        ear_c = _to_image(face[side] + ((-0.03 if side == 0 else 0.03), 0.06), pose)
        _ellipse(img, ear_c, (0.04 * px, 0.09 * px), 0, _shade(skin, 0.9))
    _fill(img, _to_image(np.vstack([face[0:17], top]), pose), skin)

    # Cheeks (AU6 raises and reddens them) and nasolabial folds (AU6/9/12 deepen).
    for eye_c, sign in ((face[36:42].mean(0), -1), (face[42:48].mean(0), 1)):
        lift = 0.04 * a[6]
        cheek = eye_c + (sign * 0.02, 0.15 - lift)
        _ellipse(img, _to_image(cheek, pose), (0.085 * px, (0.055 + 0.02 * a[6]) * px),
                 0, _shade(skin, 1.0 + 0.06 * a[6]))
    for wing, corner in ((31, 48), (35, 54)):
        depth = 0.25 + 0.5 * max(a[12], a[9], a[6])
        fold_pts = np.array([face[wing] + (np.sign(face[wing, 0]) * 0.03, -0.01),
                             (face[wing] + face[corner]) / 2 + (np.sign(face[wing, 0]) * 0.05, 0),
                             face[corner] + (np.sign(face[corner, 0]) * 0.03, 0.02)])
        _line(img, _to_image(fold_pts, pose), _shade(skin, 1 - 0.35 * depth), 0.008 * px)

    # Forehead wrinkles (AU1/AU2) and the furrow between the brows (AU4).
    raise_ = max(a[1], a[2])
    if raise_ > 0.15:
        y0 = face[17:27, 1].min()
        for k in range(3):
            y = y0 - 0.05 - 0.035 * k
            xs = np.linspace(-0.2, 0.2, 7)
            line = np.stack([xs, y + 0.008 * np.cos(xs * 12)], 1)
            _line(img, _to_image(line, pose), _shade(skin, 1 - 0.3 * raise_), 0.006 * px)
    if a[4] > 0.1:
        for sign in (-1, 1):
            x = sign * (0.025 + 0.01 * (1 - a[4]))
            y0 = (face[21, 1] + face[22, 1]) / 2
            _line(img, _to_image(np.array([[x, y0 - 0.06], [x * 0.6, y0 + 0.01]]), pose),
                  _shade(skin, 1 - 0.4 * a[4]), 0.007 * px)

    # Eyes: sclera and iris clipped to the lids, lid lines; AU6 crow's feet.
    for ids in (list(range(36, 42)), list(range(42, 48))):
        eye = P[ids]
        x0, y0 = np.floor(eye.min(0)).astype(int) - 2
        x1, y1 = np.ceil(eye.max(0)).astype(int) + 3
        x0, y0 = max(x0, 0), max(y0, 0)
        x1, y1 = min(x1, img.shape[1]), min(y1, img.shape[0])
        if x1 > x0 and y1 > y0:
            roi = img[y0:y1, x0:x1]
            patch = np.empty_like(roi)
            patch[:] = (235, 238, 240)
            local = eye - (x0, y0)
            centre = local.mean(0)
            r = 0.28 * np.ptp(local[:, 0])
            _ellipse(patch, centre, (r, r), 0, identity.iris)
            _ellipse(patch, centre, (r * 0.45, r * 0.45), 0, (15, 15, 15))
            mask = np.zeros(roi.shape[:2], np.uint8)
            _fill(mask, local, 255)
            roi[mask > 127] = patch[mask > 127]
        _line(img, eye[[0, 1, 2, 3]], (25, 25, 30), 0.012 * px)
        _line(img, eye[[3, 4, 5, 0]], _shade(skin, 0.6), 0.006 * px)
        if a[6] > 0.15:
            outer = face[ids[0]] if ids[0] == 36 else face[ids[3]]
            sign = np.sign(outer[0])
            for k in (-1, 0, 1):
                crow = np.array([outer + (sign * 0.02, 0.015 * k),
                                 outer + (sign * 0.07, 0.035 * k)])
                _line(img, _to_image(crow, pose), _shade(skin, 1 - 0.35 * a[6]), 0.006 * px)

    # Brows.
    for ids in (list(range(17, 22)), list(range(22, 27))):
        _line(img, P[ids], identity.brow, identity.brow_width * px)

    # Nose: bridge shading, AU9 wrinkles across the bridge, nostrils.
    _line(img, P[[27, 28, 29, 30]], _shade(skin, 0.85), 0.01 * px)
    if a[9] > 0.1:
        for k in range(3):
            y = face[28, 1] - 0.03 + 0.03 * k
            wr = np.array([[-0.045, y + 0.01], [0, y], [0.045, y + 0.01]])
            _line(img, _to_image(wr, pose), _shade(skin, 1 - 0.45 * a[9]), 0.007 * px)
    _line(img, P[31:36], fold, 0.01 * px)
    for k in (32, 34):
        _ellipse(img, P[k] + (pose[:, 1] * -0.012), (0.018 * px, 0.01 * px),
                 float(np.degrees(np.arctan2(pose[1, 0], pose[0, 0]))), (35, 35, 45))

    # Mouth: lips, the dark opening with teeth when the lips part, AU17 chin bump.
    _fill(img, P[48:60], identity.lip)
    inner = P[[48, 60, 61, 62, 54, 63, 64, 65]]
    _fill(img, inner, (30, 20, 40))
    gap = face[64, 1] - face[61, 1]
    if gap > 0.02:
        teeth = np.array([face[60], face[61], face[62],
                          face[62] + (0, 0.35 * gap), face[60] + (0, 0.35 * gap)])
        _fill(img, _to_image(teeth, pose), (225, 230, 232))
    _line(img, P[[48, 60, 61, 62, 54]], _shade(identity.lip, 0.6), 0.006 * px)
    if a[17] > 0.1:
        bump = np.array([[-0.06, 0.0], [0.0, 0.015], [0.06, 0.0]]) + (0, face[57, 1] + 0.06)
        _line(img, _to_image(bump, pose), _shade(skin, 1 - 0.35 * a[17]), 0.008 * px)
    return P


def frame_code_geometry(width: int, height: int) -> Tuple[int, int, int]:
    """``(block, x0, y0)`` of the 16-bit frame code strip."""
    block = max(4, height // 64)
    return block, block, height - 2 * block


def draw_frame_code(img: np.ndarray, number: int) -> None:
    block, x0, y0 = frame_code_geometry(img.shape[1], img.shape[0])
    for bit in range(16):
        on = (number >> bit) & 1
        img[y0:y0 + block, x0 + bit * block:x0 + (bit + 1) * block] = 235 if on else 20


def read_frame_code(img: np.ndarray) -> int:
    """The frame number drawn by :func:`draw_frame_code` (works after JPEG)."""
    block, x0, y0 = frame_code_geometry(img.shape[1], img.shape[0])
    value = 0
    for bit in range(16):
        c = img[y0 + block // 2, x0 + bit * block + block // 2]
        value |= int(np.mean(c) > 127) << bit
    return value


def render_frame(identity: Identity, intensities: np.ndarray, t: int,
                 width: int, height: int) -> Tuple[np.ndarray, np.ndarray]:
    """``(image BGR uint8, landmarks (66, 2) 0-based pixels)`` of frame ``t``."""
    pose = head_pose(identity, t, width)
    face = face_landmarks(identity, intensities)
    img = identity.background.copy()
    points = draw_face(img, identity, face, pose, intensities)
    brighter, darker = identity.noise[t % len(identity.noise)]
    cv2.add(img, brighter, dst=img)          # saturating, unlike numpy's +
    cv2.subtract(img, darker, dst=img)
    draw_frame_code(img, t)
    return img, points


# ------------------------------------------------------------------ writing

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
            context = multiprocessing.get_context("forkserver")
            with ProcessPoolExecutor(workers, mp_context=context) as pool:
                futures = {a[1]: pool.submit(_write_subject, *a) for a in args}
                for s, f in futures.items():
                    plans[s] = f.result()
                    progress.advance(task)
    marker = {"generator": "auzoo synth disfa", "seed": seed, "frames": frames,
              "width": width, "height": height, "fps": FPS, "subjects": plans}
    (out / SYNTH_MARKER).write_text(json.dumps(marker, indent=1, sort_keys=True) + "\n")
    return out
