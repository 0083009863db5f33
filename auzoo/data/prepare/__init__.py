"""``auzoo prepare``: write a dataset's cache (decode, find/align faces, index once).

One writer (:mod:`.writer`: parallel, resumable, reported) and one source per
dataset: :mod:`.disfa`, :mod:`.bp4d`, :mod:`.frames` (a lab's own CSV).
"""
from auzoo.data.prepare.bp4d import prepare_bp4d
from auzoo.data.prepare.disfa import prepare_disfa
from auzoo.data.prepare.frames import prepare_frames
from auzoo.data.prepare.writer import is_done, run_prepare

__all__ = ["is_done", "prepare_bp4d", "prepare_disfa", "prepare_frames", "run_prepare"]
