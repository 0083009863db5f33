"""DISFA: its protocol (:mod:`.protocol`), the reader of a copy on disk
(:mod:`.reader`, :mod:`.files`), ``auzoo prepare disfa`` (:mod:`.prepare`)
and ``auzoo synth disfa`` (:mod:`.synth`). Importing the package registers
the protocol only; the rest is imported when a command needs it."""
from auzoo.data.datasets.disfa.protocol import (DISFA, DISFA_LABELLED_AUS, DISFA_SUBJECTS,
                                                ERROR_LOG_RANGES, DisfaDataset, error_log_mask)

__all__ = ["DISFA", "DISFA_LABELLED_AUS", "DISFA_SUBJECTS", "ERROR_LOG_RANGES", "DisfaDataset",
           "error_log_mask"]
