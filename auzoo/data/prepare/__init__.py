"""``auzoo prepare``: the cache writer every dataset shares (decode, find/align
faces, index once).

One writer (:mod:`.writer`: parallel, resumable, reported, its workers in
:mod:`.workers`), the arrays of one subject (:mod:`.frames_out`) and the
report's tables (:mod:`.report`). Each dataset gives the writer a
:class:`~auzoo.data.prepare.writer.Source` from its own folder
(``auzoo.data.datasets.<name>.prepare``).
"""
from auzoo.data.prepare.writer import Source, is_done, run_prepare

__all__ = ["Source", "is_done", "run_prepare"]
