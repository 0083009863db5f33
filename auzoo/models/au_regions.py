"""Which face region each action unit occurs in, for region-branch models.

TRA-Net's hard masks cut the aligned face's feature map into three bands of
rows around the face centre (midway between nose root and nose tip): the
*upper* face (brows, eyes), the *middle* band (eyes' lower lids, cheeks,
nose, upper lip) and the *lower* face (mouth, chin). A branch predicts the AUs
whose movement lies in its band. The paper gives DISFA's grouping; the other
AUs follow FACS's description of where each one moves the face. Sources per
AU are in docs/models.md.
"""
from __future__ import annotations

from typing import Dict, Iterable, Optional, Sequence, Tuple

UPPER, MIDDLE, LOWER = "upper", "middle", "lower"

# AU -> region. DISFA's eight as the TRA-Net paper groups them ("upper branch
# is only used to detect AU1, AU2, and AU4"; Table 2's middle branch: 6, 9;
# lower: 12, 25, 26); the others from where FACS says each AU moves the face.
AU_REGIONS: Dict[int, str] = {
    1: UPPER,    # inner brow raiser                       (paper)
    2: UPPER,    # outer brow raiser                       (paper)
    4: UPPER,    # brow lowerer                            (paper)
    5: UPPER,    # upper lid raiser: the upper eyelid
    6: MIDDLE,   # cheek raiser                            (paper)
    7: UPPER,    # lid tightener: the eyelids, as AU5
    9: MIDDLE,   # nose wrinkler                           (paper)
    10: MIDDLE,  # upper lip raiser: upper lip and nasolabial furrow, beside AU9
    11: MIDDLE,  # nasolabial deepener
    12: LOWER,   # lip corner puller                       (paper)
    13: LOWER,   # sharp lip puller (cheek puffer in older FACS): lip corners
    14: LOWER,   # dimpler: lip corners
    15: LOWER,   # lip corner depressor
    16: LOWER,   # lower lip depressor
    17: LOWER,   # chin raiser
    18: LOWER,   # lip pucker
    20: LOWER,   # lip stretcher
    22: LOWER,   # lip funneler
    23: LOWER,   # lip tightener
    24: LOWER,   # lip pressor
    25: LOWER,   # lips part                               (paper)
    26: LOWER,   # jaw drop                                (paper)
    27: LOWER,   # mouth stretch
    28: LOWER,   # lip suck
    43: UPPER,   # eyes closed
    45: UPPER,   # blink
}

# The AUs a model predicts when neither its config nor a dataset names any:
# DISFA's protocol AUs, in protocol order.
DEFAULT_AUS: Tuple[int, ...] = (1, 2, 4, 6, 9, 12, 25, 26)


def region_of(au: int) -> str:
    """The region AU ``au`` occurs in; a clear error for an AU not in the table."""
    try:
        return AU_REGIONS[int(au)]
    except KeyError:
        raise KeyError(f"AU{au} has no face region in auzoo.models.au_regions.AU_REGIONS "
                       f"(known: {', '.join(map(str, sorted(AU_REGIONS)))}); give each branch its "
                       "own aus in the config (model.branches=[dict(region=..., aus=(...)), ...])") from None


def aus_in_region(aus: Iterable[int], region: str) -> Tuple[int, ...]:
    """The AUs of ``aus`` (in their order) that occur in ``region``."""
    return tuple(int(au) for au in aus if region_of(au) == region)


def group_by_region(aus: Sequence[int], regions: Sequence[str]) -> Dict[str, Tuple[int, ...]]:
    """``{region: its AUs}`` for the given regions, empty regions left out."""
    groups = {region: aus_in_region(aus, region) for region in regions}
    return {region: group for region, group in groups.items() if group}


def resolve_aus(aus: Optional[Sequence[int]]) -> Tuple[int, ...]:
    """A model's AUs: the given ones, or :data:`DEFAULT_AUS` for None."""
    if aus is None:
        return DEFAULT_AUS
    resolved = tuple(int(au) for au in aus)
    if not resolved:
        raise ValueError("a model needs at least one AU")
    if len(set(resolved)) != len(resolved):
        raise ValueError(f"model aus {resolved} name an AU twice")
    return resolved


__all__ = ["AU_REGIONS", "DEFAULT_AUS", "LOWER", "MIDDLE", "UPPER", "aus_in_region",
           "group_by_region", "region_of", "resolve_aus"]
