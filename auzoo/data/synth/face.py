"""The synthetic faces' model: shape, how each AU moves the landmarks,
expression timelines, identities and head motion (no drawing here)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Tuple

import numpy as np

from auzoo.data.align import FLIP_PERMUTATION_66, landmarks68_to_66
from auzoo.data.datasets.disfa.protocol import DISFA, DISFA_LABELLED_AUS
from auzoo.data.mean_face import MEAN_FACE_68 as _MEAN_FACE_68


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


def to_image(points: np.ndarray, pose: np.ndarray) -> np.ndarray:
    """Face-unit points -> image pixels under a :func:`head_pose` matrix."""
    return points @ pose[:, :2].T + pose[:, 2]
