"""The consoles auzoo prints on (rich).

On a terminal a console is as wide as the terminal. Written to a file or a
pipe (a log, ``| tee``, a Slurm job's output) rich would assume 80 columns
and cut tables and wrap lines; there a console is as wide as what it prints:
tables keep every column, a line stays one line.
"""
from __future__ import annotations

from typing import Any

# Columns of a console that writes to a file or a pipe: wider than any table
# auzoo prints, so that none is cut; lines are not wrapped (soft wrap).
LOG_WIDTH = 1000


def make_console(stderr: bool = False, **kwargs: Any):
    """A rich Console on stdout (or stderr) that never cuts or wraps what it
    writes to a file or a pipe."""
    from rich.console import Console

    console = Console(stderr=stderr, **kwargs)
    if console.is_terminal or "width" in kwargs:
        return console
    return Console(stderr=stderr, width=LOG_WIDTH, soft_wrap=True, **kwargs)


def rule(console, title: str) -> None:
    """A heading line: rich's rule on a terminal, the title alone in a log."""
    if console.is_terminal:
        console.rule(title)
    else:
        console.print(f"── {title} ──")


__all__ = ["LOG_WIDTH", "make_console", "rule"]
