"""The synthetic DISFA's intensities are graded, as intensity models need:
every level 0-5 occurs, and the face moves in proportion to the level."""
import numpy as np

from auzoo.data.datasets.disfa import DISFA_LABELLED_AUS
from auzoo.data.synth import AU_MOTION, au_timeline, face_landmarks, make_identity


def test_episodes_rise_and_fall_through_every_level():
    labels = au_timeline(np.random.default_rng(0), 480)
    assert set(np.unique(labels)) == {0, 1, 2, 3, 4, 5}
    # within an episode an AU passes through the levels below its peak
    col = labels[:, DISFA_LABELLED_AUS.index(12)]
    peak = int(np.argmax(col))
    rising = col[max(0, peak - 6):peak + 1]
    assert col[peak] >= 3 and len(set(rising.tolist())) >= 3


def test_landmarks_move_in_proportion_to_intensity():
    identity = make_identity(np.random.default_rng(1), 320, 240)
    au = DISFA_LABELLED_AUS.index(12)
    moved = []
    for level in range(6):
        intensities = np.zeros(12)
        intensities[au] = level
        moved.append(face_landmarks(identity, intensities) - identity.shape)
    np.testing.assert_allclose(moved[5], AU_MOTION[au])
    for level in range(6):
        np.testing.assert_allclose(moved[level], moved[5] * level / 5)
