"""Where a key of a run's config came from: the config file (and, depth
first, the files its ``_base_`` names) and the line that sets it, or the
command line's ``--cfg-options``; :func:`key_locator` hands
:func:`auzoo.config_check.check_config` the place to name in its errors."""
from __future__ import annotations

import ast
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence



def config_files(filename: Optional[str]) -> List[Path]:
    """A config file and, depth first, the files its ``_base_`` names."""
    from auzoo.config import _PREFIX, config_path

    if not filename or not Path(filename).is_file():
        return []
    out: List[Path] = []

    def visit(path: Path) -> None:
        path = path.resolve()
        if path in out or not path.is_file():
            return
        out.append(path)
        for base in _bases(path):
            if base.startswith(_PREFIX):
                try:
                    visit(config_path(base[len(_PREFIX):]))
                except KeyError:
                    pass
            elif "::" not in base:
                visit(path.parent / base)

    visit(Path(filename))
    return out


def _bases(path: Path) -> List[str]:
    try:
        tree = ast.parse(path.read_text())
    except (SyntaxError, OSError, UnicodeDecodeError):
        return []
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "_base_"
                                                for t in node.targets):
            try:
                value = ast.literal_eval(node.value)
            except ValueError:
                return []
            return [value] if isinstance(value, str) else [str(v) for v in value]
    return []


def _line_of(path: Path, key: str, top: bool) -> Optional[int]:
    try:
        tree = ast.parse(path.read_text())
    except (SyntaxError, OSError, UnicodeDecodeError):
        return None
    nodes = tree.body if top else ast.walk(tree)
    for node in nodes:
        if top and isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(getattr(t, "id", None) == key for t in targets):
                return node.lineno
        elif not top and isinstance(node, ast.keyword) and node.arg == key:
            return node.lineno
        elif not top and isinstance(node, ast.Dict):
            for k in node.keys:
                if isinstance(k, ast.Constant) and k.value == key:
                    return k.lineno
    return None


def key_locator(cfg, options: Optional[Mapping[str, Any]] = None, option_source: str = "--cfg-options",
                extra_files: Sequence[Path] = ()):
    """``locate(path)``: ``--cfg-options KEY`` where the key was given there,
    else the first of the config's files that writes it (``FILE:LINE``)."""
    files = config_files(getattr(cfg, "filename", None)) + [Path(f) for f in extra_files]
    given = list(options or {})

    def locate(path: List[str]) -> str:
        dotted = ".".join(path)
        for key in given:
            if dotted == key or dotted.startswith(key + ".") or key.startswith(dotted + "."):
                return f"{option_source} {key}"
        for file in files:
            line = _line_of(file, path[-1], top=len(path) == 1)
            if line is not None:
                return f"{file}:{line}"
        return str(getattr(cfg, "filename", None) or "the config")

    return locate


__all__ = ["AUZOO_KEYS", "ConfigKeyError", "SECTIONS", "check_config", "config_files",
           "key_locator", "known_top_level", "register_config_key"]
