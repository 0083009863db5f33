"""Face alignment: the similarity transform of the TRA-Net paper.

The midpoint of the nose root (27) and the nose tip (30) goes to the centre of
an S x S output, the face's midline (nose root 27 -> chin 8) is made vertical,
and the scale puts the chin at row ``centre + CHIN_OFFSET * S`` (about 0.9 S),
so the whole face from brows to chin fits and the three horizontal regions the
model splits the face into sit at fixed rows. Rotation, uniform scale and
translation only: the face keeps its shape.

Pixel coordinates are 0-based with pixel centres on integers (OpenCV's
convention); the centre of an S-pixel image is (S - 1) / 2.

The same function serves DISFA's 66 points and dlib's 68 points: the indices it
uses (8, 27, 30) are the same in both schemes.
"""
from __future__ import annotations

from typing import Tuple

import cv2
import numpy as np

NOSE_ROOT, NOSE_TIP, CHIN = 27, 30, 8

# Distance from the nose midpoint (image centre) down to the chin, as a fraction
# of the output size: the chin lands at row (S - 1) / 2 + 0.4 S, i.e. 0.9 S.
CHIN_OFFSET = 0.4

# 68-point indices of the two inner-mouth corners DISFA's 66-point scheme lacks.
_INNER_MOUTH_CORNERS_68 = (60, 64)
_KEEP_68 = np.array([i for i in range(68) if i not in _INNER_MOUTH_CORNERS_68])


def _mirror_pairs() -> np.ndarray:
    pairs = [(i, 16 - i) for i in range(8)]                      # jaw
    pairs += [(17 + i, 26 - i) for i in range(5)]                # brows
    pairs += [(31, 35), (32, 34)]                                # nostril base
    pairs += [(36, 45), (37, 44), (38, 43), (39, 42), (40, 47), (41, 46)]  # eyes
    pairs += [(48, 54), (49, 53), (50, 52), (59, 55), (58, 56)]  # outer lip
    pairs += [(60, 62), (63, 65)]                                # inner lip (66-point)
    perm = np.arange(66)
    for a, b in pairs:
        perm[a], perm[b] = b, a
    return perm


# Index of each 66-point landmark's mirror image: after a horizontal flip the
# subject's left eye is where the right eye was, so point k of the flipped face
# is the mirrored point FLIP_PERMUTATION_66[k]. Points on the midline (8, 27-30,
# 33, 51, 57, 61, 64) map to themselves.
FLIP_PERMUTATION_66 = _mirror_pairs()


def flip_landmarks(points: np.ndarray, width: int) -> np.ndarray:
    """Landmarks (..., 66, 2) of an image of ``width`` pixels flipped left-right."""
    points = np.asarray(points)
    out = points[..., FLIP_PERMUTATION_66, :].copy()
    out[..., 0] = (width - 1) - out[..., 0]
    return out


def landmarks68_to_66(points: np.ndarray) -> np.ndarray:
    """dlib/iBUG 68 points -> DISFA's 66 (drops the inner mouth corners 60 and 64)."""
    points = np.asarray(points)
    if points.shape[-2:] != (68, 2):
        raise ValueError(f"expected (..., 68, 2) landmarks, got shape {points.shape}")
    return points[..., _KEEP_68, :]


def similarity_matrix(landmarks: np.ndarray, size: int = 224) -> np.ndarray:
    """2x3 float64 matrix mapping image pixels to the aligned S x S face.

    ``landmarks``: (66, 2) or (68, 2) (x, y) pixel coordinates. Raises
    ValueError when the points needed are missing (NaN) or degenerate.
    """
    pts = np.asarray(landmarks, dtype=np.float64)
    if pts.ndim != 2 or pts.shape[1] != 2 or pts.shape[0] not in (66, 68):
        raise ValueError(f"expected (66, 2) or (68, 2) landmarks, got shape {pts.shape}")
    root, tip, chin = pts[NOSE_ROOT], pts[NOSE_TIP], pts[CHIN]
    if not np.isfinite([root, tip, chin]).all():
        raise ValueError("landmarks 8, 27 or 30 are not finite")
    centre = (root + tip) / 2
    axis = chin - root                     # the face's midline, pointing down
    length = np.hypot(*axis)
    if length < 1e-6:
        raise ValueError("degenerate landmarks: chin and nose root coincide")
    down = axis / length
    # Distance from the nose midpoint to the chin, measured along the midline.
    reach = float(np.dot(chin - centre, down))
    if reach <= 1e-6:
        raise ValueError("degenerate landmarks: the chin is not below the nose")
    scale = CHIN_OFFSET * size / reach
    # Rotation taking `down` to (0, 1): R = [[dy, -dx], [dx, dy]].
    dx, dy = down
    rot = scale * np.array([[dy, -dx], [dx, dy]])
    target = np.full(2, (size - 1) / 2.0)
    return np.hstack([rot, (target - rot @ centre)[:, None]])


def transform_points(points: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """Apply a 2x3 affine matrix to (..., 2) points (NaN stays NaN)."""
    points = np.asarray(points)
    m = np.asarray(matrix, dtype=np.float64)
    out = points @ m[:, :2].T + m[:, 2]
    return out.astype(np.result_type(points.dtype, np.float32), copy=False)


def align_face(image: np.ndarray, landmarks: np.ndarray, size: int = 224
               ) -> Tuple[np.ndarray, np.ndarray]:
    """Warp ``image`` (H, W[, C] uint8, any channel order) to the aligned face.

    Returns ``(aligned, M)``: the (size, size[, C]) uint8 face and the 2x3
    matrix; ``transform_points(landmarks, M)`` gives the landmarks in it.
    Pixels outside the source image are black.
    """
    matrix = similarity_matrix(landmarks, size)
    aligned = cv2.warpAffine(image, matrix, (size, size), flags=cv2.INTER_LINEAR,
                             borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    return aligned, matrix


# 49-point lists (BP4D / JAA-Net: iBUG-68 without the 17 jaw points and the
# inner mouth corners) hold exactly DISFA's 66-point indices 17-65, in order.
POINTS49_IN_66 = np.arange(17, 66)


def landmarks49_to_66(points: np.ndarray) -> np.ndarray:
    """49 points -> the 66-point scheme, jaw points 0-16 NaN (the list has none)."""
    points = np.asarray(points, dtype=np.float32)
    if points.shape[-2:] != (49, 2):
        raise ValueError(f"expected (..., 49, 2) landmarks, got shape {points.shape}")
    out = np.full((*points.shape[:-2], 66, 2), np.nan, dtype=np.float32)
    out[..., POINTS49_IN_66, :] = points
    return out


def complete_jaw(points: np.ndarray) -> np.ndarray:
    """66 points whose jaw (0-16) is missing, with the jaw of the mean face filled in.

    The mean face is fitted to the points present by a least-squares
    similarity transform; only the alignment uses the filled-in jaw (its chin,
    point 8, sets the scale), the stored landmarks keep NaN there.
    """
    from auzoo.data.mean_face import MEAN_FACE_68

    pts = np.asarray(points, dtype=np.float64)
    template = landmarks68_to_66(MEAN_FACE_68)
    known = np.isfinite(pts).all(axis=1)
    known[:17] = False
    if known.sum() < 3:
        raise ValueError("too few landmarks to place the jaw")
    src, dst = template[known], pts[known]
    src_c, dst_c = src - src.mean(0), dst - dst.mean(0)
    # Similarity (no reflection) as a complex scale-rotation: dst = a * src + t.
    zs, zd = src_c[:, 0] + 1j * src_c[:, 1], dst_c[:, 0] + 1j * dst_c[:, 1]
    a = np.vdot(zs, zd) / np.vdot(zs, zs)
    jaw = (template[:17] - src.mean(0)) @ np.array([[a.real, a.imag], [-a.imag, a.real]]) + dst.mean(0)
    out = pts.copy()
    out[:17] = jaw
    return out.astype(np.float32)


# ---------------------------------------------------------------- the cache's loose crop

# The cache keeps, per frame, an axis-aligned square around the face, not an
# aligned face: every model's own alignment (its recipe's first pipeline step)
# warps from it. Its side is LOOSE_SCALE times the side of TRA-Net's aligned
# window (nose root to chin = 0.4 of it), centred on the nose; at the default
# 320 px that keeps ~68 px between the eye centres of a DISFA face, about what
# each built-in recipe's output has (TRA-Net 62 at 224, JAA-Net 69 at 200, the
# 5-point template 70 at 256), and room for each recipe's window with ~20
# degrees of head roll. No rotation: the crop is a scaled copy of the source
# frame's pixels; a frame costs 300 kB (twice a 224 px face).
LOOSE_SCALE = 1.3
LOOSE_SIZE = 320


def loose_crop_matrix(landmarks: np.ndarray, size: int = LOOSE_SIZE) -> np.ndarray:
    """2x3 matrix (scale + translation only) from image pixels to the cache's loose crop.

    Raises ValueError where TRA-Net's alignment would (it sets the crop's scale).
    """
    aligned = similarity_matrix(landmarks, 224)
    # TRA-Net's window is 224 / a source pixels wide (a: its scale); the crop
    # spans LOOSE_SCALE such windows in `size` pixels.
    a = np.sqrt(abs(np.linalg.det(aligned[:, :2])))
    s = a * size / (LOOSE_SCALE * 224)
    pts = np.asarray(landmarks, dtype=np.float64)
    centre = (pts[NOSE_ROOT] + pts[NOSE_TIP]) / 2
    return np.array([[s, 0.0, (size - 1) / 2.0 - s * centre[0]],
                     [0.0, s, (size - 1) / 2.0 - s * centre[1]]])


def fit_similarity(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Least-squares similarity (rotation, uniform scale, translation) taking ``src``
    points to ``dst`` (Umeyama's closed form without reflection), as a 2x3 matrix."""
    src = np.asarray(src, dtype=np.float64)
    dst = np.asarray(dst, dtype=np.float64)
    sc, dc = src.mean(0), dst.mean(0)
    zs = (src[:, 0] - sc[0]) + 1j * (src[:, 1] - sc[1])
    zd = (dst[:, 0] - dc[0]) + 1j * (dst[:, 1] - dc[1])
    denom = np.vdot(zs, zs).real
    if denom < 1e-12:
        raise ValueError("degenerate landmarks: the points coincide")
    a = np.vdot(zs, zd) / denom                    # dst - dc = a * (src - sc)
    rot = np.array([[a.real, -a.imag], [a.imag, a.real]])
    return np.hstack([rot, (dc - rot @ sc)[:, None]])


# ---------------------------------------------------------------- recipes' alignments

# 66-point indices of the eye contours (subject's right eye first: image left).
RIGHT_EYE, LEFT_EYE = np.arange(36, 42), np.arange(42, 48)
MOUTH_CORNERS = (48, 54)


def five_points(landmarks: np.ndarray) -> np.ndarray:
    """(5, 2): eye centres (image left first), nose tip, mouth corners (image left first),
    the five points MTCNN gives and 5-point face templates use."""
    pts = np.asarray(landmarks, dtype=np.float64)
    return np.stack([pts[RIGHT_EYE].mean(0), pts[LEFT_EYE].mean(0), pts[NOSE_TIP],
                     pts[MOUTH_CORNERS[0]], pts[MOUTH_CORNERS[1]]])


def eye_box_matrix(landmarks: np.ndarray, size: int = 200, enlarge: float = 2.9) -> np.ndarray:
    """JAA-Net's alignment: the eye line made level; the box around the two eye
    centres, the nose tip and the mouth corners (in the levelled frame), enlarged
    ``enlarge`` times around its centre on its longer side, fills the S x S output
    (its centre at (S - 1) / 2, S - 1 pixels across its width)."""
    p = five_points(landmarks)
    if not np.isfinite(p).all():
        raise ValueError("eye, nose-tip or mouth-corner landmarks are not finite")
    dx, dy = p[1] - p[0]
    dist = np.hypot(dx, dy)
    if dist < 1e-6:
        raise ValueError("degenerate landmarks: the eye centres coincide")
    cos, sin = dx / dist, dy / dist
    rot = np.array([[cos, sin], [-sin, cos]])       # eye line -> horizontal
    q = p @ rot.T
    lo, hi = q.min(0), q.max(0)
    centre = (lo + hi) / 2
    half = 0.5 * enlarge * float((hi - lo).max())
    scale = (size - 1) / 2.0 / half
    lin = scale * rot
    return np.hstack([lin, (scale * (half - centre))[:, None]])


# insightface's 5-point template for 112 x 112 face crops (ArcFace): eye centres,
# nose tip, mouth corners. For a size that is a multiple of 128 the template is
# scaled by size / 128 and shifted right by 8 * size / 128, as insightface's
# ``norm_crop`` places it (256: scale 2, shift 16).
ARCFACE_TEMPLATE_112 = np.array([[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366],
                                 [41.5493, 92.3655], [70.7299, 92.2041]])


def five_point_template(size: int) -> np.ndarray:
    if size % 112 == 0:
        return ARCFACE_TEMPLATE_112 * (size / 112)
    ratio = size / 128.0
    return ARCFACE_TEMPLATE_112 * ratio + np.array([8.0 * ratio, 0.0])


def five_point_matrix(landmarks: np.ndarray, size: int = 256) -> np.ndarray:
    """Similarity taking the face's five points onto the 5-point template (least squares)."""
    p = five_points(landmarks)
    if not np.isfinite(p).all():
        raise ValueError("eye, nose-tip or mouth-corner landmarks are not finite")
    return fit_similarity(p, five_point_template(size))


def loose_crop(image: np.ndarray, landmarks: np.ndarray, size: int = LOOSE_SIZE
               ) -> Tuple[np.ndarray, np.ndarray]:
    """``(crop, M)``: the cache's loose crop of ``image`` and its 2x3 matrix (black outside)."""
    matrix = loose_crop_matrix(landmarks, size)
    crop = cv2.warpAffine(image, matrix, (size, size), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    return crop, matrix
