"""Drawing a synthetic face: head, cheeks, wrinkles, eyes, brows, nose, mouth,
and the frame-number bar code, with OpenCV's anti-aliased sub-pixel primitives."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Tuple

import cv2
import numpy as np

from auzoo.data.datasets.disfa.protocol import DISFA_LABELLED_AUS
from auzoo.data.synth.face import Identity, face_landmarks, head_pose
from auzoo.data.synth.face import to_image as _to_image

_SHIFT = 4                     # sub-pixel bits for cv2 drawing
_ONE = 1 << _SHIFT


def _fix(points: np.ndarray) -> np.ndarray:
    return np.round(np.asarray(points) * _ONE).astype(np.int32)


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


@dataclass
class _Pen:
    """What every part of a face is drawn with: the image, the pose and the AUs."""

    img: np.ndarray
    identity: Identity
    face: np.ndarray     # (66, 2) face units
    pose: np.ndarray     # 2x3 face units -> pixels
    a: dict              # AU -> intensity / 5
    px: float            # pixels per face unit
    P: np.ndarray        # (66, 2) pixels

    def line(self, pts, colour, width, image_space=False):
        _line(self.img, pts if image_space else _to_image(pts, self.pose), colour, width * self.px)


def _head(p: _Pen) -> None:
    """Hair behind, neck, ears, then the skin of the face."""
    face, skin, img, pose, px = p.face, p.identity.skin, p.img, p.pose, p.px
    top = _forehead(face, 0.32)
    hair = _forehead(face * (1.12, 1.0) + (0, -0.05), 0.42)
    _fill(img, _to_image(np.vstack([hair, face[[0, 16]] * (1.12, 1) + (0, 0.25)]), pose),
          p.identity.hair)
    neck = (np.array([[-0.26, 0.45], [0.26, 0.45], [0.3, 1.3], [-0.3, 1.3]])
            + (0, p.identity.shape[8, 1] - 0.6))
    _fill(img, _to_image(neck, pose), _shade(skin, 0.8))
    for side in (0, 16):
        ear_c = _to_image(face[side] + ((-0.03 if side == 0 else 0.03), 0.06), pose)
        _ellipse(img, ear_c, (0.04 * px, 0.09 * px), 0, _shade(skin, 0.9))
    _fill(img, _to_image(np.vstack([face[0:17], top]), pose), skin)


def _cheeks_and_wrinkles(p: _Pen) -> None:
    """Cheeks (AU6 raises and reddens them), nasolabial folds (AU6/9/12 deepen),
    forehead wrinkles (AU1/AU2) and the furrow between the brows (AU4)."""
    face, skin, a = p.face, p.identity.skin, p.a
    for eye_c, sign in ((face[36:42].mean(0), -1), (face[42:48].mean(0), 1)):
        cheek = eye_c + (sign * 0.02, 0.15 - 0.04 * a[6])
        _ellipse(p.img, _to_image(cheek, p.pose), (0.085 * p.px, (0.055 + 0.02 * a[6]) * p.px),
                 0, _shade(skin, 1.0 + 0.06 * a[6]))
    for wing, corner in ((31, 48), (35, 54)):
        depth = 0.25 + 0.5 * max(a[12], a[9], a[6])
        fold_pts = np.array([face[wing] + (np.sign(face[wing, 0]) * 0.03, -0.01),
                             (face[wing] + face[corner]) / 2 + (np.sign(face[wing, 0]) * 0.05, 0),
                             face[corner] + (np.sign(face[corner, 0]) * 0.03, 0.02)])
        p.line(fold_pts, _shade(skin, 1 - 0.35 * depth), 0.008)
    raise_ = max(a[1], a[2])
    if raise_ > 0.15:
        y0 = face[17:27, 1].min()
        for k in range(3):
            y = y0 - 0.05 - 0.035 * k
            xs = np.linspace(-0.2, 0.2, 7)
            p.line(np.stack([xs, y + 0.008 * np.cos(xs * 12)], 1), _shade(skin, 1 - 0.3 * raise_),
                   0.006)
    if a[4] > 0.1:
        for sign in (-1, 1):
            x = sign * (0.025 + 0.01 * (1 - a[4]))
            y0 = (face[21, 1] + face[22, 1]) / 2
            p.line(np.array([[x, y0 - 0.06], [x * 0.6, y0 + 0.01]]), _shade(skin, 1 - 0.4 * a[4]),
                   0.007)


def _eye(p: _Pen, ids) -> None:
    """Sclera and iris clipped to the lids, lid lines; AU6 crow's feet."""
    img, skin = p.img, p.identity.skin
    eye = p.P[ids]
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
        _ellipse(patch, centre, (r, r), 0, p.identity.iris)
        _ellipse(patch, centre, (r * 0.45, r * 0.45), 0, (15, 15, 15))
        mask = np.zeros(roi.shape[:2], np.uint8)
        _fill(mask, local, 255)
        roi[mask > 127] = patch[mask > 127]
    p.line(eye[[0, 1, 2, 3]], (25, 25, 30), 0.012, image_space=True)
    p.line(eye[[3, 4, 5, 0]], _shade(skin, 0.6), 0.006, image_space=True)
    if p.a[6] > 0.15:
        outer = p.face[ids[0]] if ids[0] == 36 else p.face[ids[3]]
        sign = np.sign(outer[0])
        for k in (-1, 0, 1):
            crow = np.array([outer + (sign * 0.02, 0.015 * k), outer + (sign * 0.07, 0.035 * k)])
            p.line(crow, _shade(skin, 1 - 0.35 * p.a[6]), 0.006)


def _brows_and_nose(p: _Pen) -> None:
    """Brows; the nose's bridge shading, AU9 wrinkles across it, nostrils."""
    skin, P, pose, px = p.identity.skin, p.P, p.pose, p.px
    for ids in (list(range(17, 22)), list(range(22, 27))):
        p.line(P[ids], p.identity.brow, p.identity.brow_width, image_space=True)
    p.line(P[[27, 28, 29, 30]], _shade(skin, 0.85), 0.01, image_space=True)
    if p.a[9] > 0.1:
        for k in range(3):
            y = p.face[28, 1] - 0.03 + 0.03 * k
            p.line(np.array([[-0.045, y + 0.01], [0, y], [0.045, y + 0.01]]),
                   _shade(skin, 1 - 0.45 * p.a[9]), 0.007)
    p.line(P[31:36], _shade(skin, 0.72), 0.01, image_space=True)
    for k in (32, 34):
        _ellipse(p.img, P[k] + (pose[:, 1] * -0.012), (0.018 * px, 0.01 * px),
                 float(np.degrees(np.arctan2(pose[1, 0], pose[0, 0]))), (35, 35, 45))


def _mouth(p: _Pen) -> None:
    """Lips, the dark opening with teeth when the lips part, AU17 chin bump."""
    face, P, lip = p.face, p.P, p.identity.lip
    _fill(p.img, P[48:60], lip)
    _fill(p.img, P[[48, 60, 61, 62, 54, 63, 64, 65]], (30, 20, 40))
    gap = face[64, 1] - face[61, 1]
    if gap > 0.02:
        teeth = np.array([face[60], face[61], face[62],
                          face[62] + (0, 0.35 * gap), face[60] + (0, 0.35 * gap)])
        _fill(p.img, _to_image(teeth, p.pose), (225, 230, 232))
    p.line(P[[48, 60, 61, 62, 54]], _shade(lip, 0.6), 0.006, image_space=True)
    if p.a[17] > 0.1:
        bump = np.array([[-0.06, 0.0], [0.0, 0.015], [0.06, 0.0]]) + (0, face[57, 1] + 0.06)
        p.line(bump, _shade(p.identity.skin, 1 - 0.35 * p.a[17]), 0.008)


def draw_face(img: np.ndarray, identity: Identity, face: np.ndarray, pose: np.ndarray,
              intensities: np.ndarray) -> np.ndarray:
    """Draw the face with landmarks ``face`` (face units) into ``img`` (BGR).

    Returns the (66, 2) landmarks in image pixels.
    """
    a = dict(zip(DISFA_LABELLED_AUS, np.asarray(intensities, dtype=np.float64) / 5.0))
    pen = _Pen(img, identity, face, pose, a, float(np.hypot(*pose[:, 0])), _to_image(face, pose))
    _head(pen)
    _cheeks_and_wrinkles(pen)
    for ids in (list(range(36, 42)), list(range(42, 48))):
        _eye(pen, ids)
    _brows_and_nose(pen)
    _mouth(pen)
    return pen.P


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
