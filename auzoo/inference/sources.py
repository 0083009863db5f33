"""What ``auzoo predict`` reads: files and folders in, an ordered list of images
and videos out, with the folder entries it skipped."""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, List, Optional, Tuple, Union

import cv2
import numpy as np

from auzoo.vision.video import is_video

PathLike = Union[str, os.PathLike]
log = logging.getLogger("auzoo.inference")

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp",
                              ".jp2", ".pgm", ".ppm", ".pbm", ".pnm", ".sr", ".ras", ".exr",
                              ".hdr", ".pic"})
VIDEO_EXTENSIONS = frozenset({".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg",
                              ".wmv", ".flv", ".3gp", ".ts", ".mts", ".m2ts", ".ogv", ".mxf"})


class InputError(ValueError):
    """An input that cannot be read; the message names the file."""


@dataclass(frozen=True)
class Source:
    """One input file: a still image or a video."""

    path: Path
    kind: str  # 'image' | 'video'

    @property
    def name(self) -> str:
        return str(self.path)


def _kind(path: Path) -> Optional[str]:
    suffix = path.suffix.lower()
    if suffix in IMAGE_EXTENSIONS:
        return "image"
    if suffix in VIDEO_EXTENSIONS:
        return "video"
    return None


def _sniff(path: Path) -> Optional[str]:
    """Kind of a file whose extension says nothing: try it as an image, then a video."""
    if cv2.haveImageReader(str(path)):
        return "image"
    return "video" if is_video(path) else None


def collect_sources(inputs: Union[PathLike, Iterable[PathLike]]) -> Tuple[List[Source], List[Path]]:
    """Input files in order, and the folder entries that were skipped.

    A folder contributes its images and videos, sorted by name (not its
    subfolders); other entries are skipped and returned so they can be
    counted. A file named directly must be an image or a video. A file named
    twice is read once (and logged once).
    """
    if isinstance(inputs, (str, os.PathLike)):
        inputs = [inputs]
    sources: List[Source] = []
    skipped: List[Path] = []
    seen = set()

    def add(source: Source) -> None:
        key = source.path.resolve()
        if key in seen:
            log.warning("%s: given more than once; read once", source.path)
            return
        seen.add(key)
        sources.append(source)

    for raw in inputs:
        path = Path(raw)
        if path.is_dir():
            found = 0
            for entry in sorted(path.iterdir()):
                kind = _kind(entry) if entry.is_file() else None
                if kind is None:
                    skipped.append(entry)
                    continue
                add(Source(entry, kind))
                found += 1
            if not found:
                raise InputError(f"{path}: no images or videos in this folder"
                                 + (f" ({len(skipped)} other entries skipped)" if skipped else ""))
        elif path.is_file():
            kind = _kind(path) or _sniff(path)
            if kind is None:
                raise InputError(f"{path}: not an image or a video auzoo can read")
            add(Source(path, kind))
        else:
            raise FileNotFoundError(f"input not found: {path}")
    if not sources:
        raise InputError("no inputs given")
    return sources, skipped


def read_image(path: Path) -> np.ndarray:
    """An image file as RGB uint8 (EXIF orientation applied), or InputError."""
    data = np.fromfile(str(path), dtype=np.uint8)  # also reads non-ASCII paths
    image = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    if image is None:
        raise InputError(f"{path}: not a readable image")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


__all__ = ["IMAGE_EXTENSIONS", "VIDEO_EXTENSIONS", "InputError", "Source", "collect_sources",
           "read_image"]
