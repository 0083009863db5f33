"""The cosine classifier: its range, and logits that keep p's precision near 0 and 1."""
import math

import pytest
import torch

from auzoo_megraphau.classifier import TINY, CosineAUClassifier, cosine_logit


def _classifier_with(vector):
    clf = CosineAUClassifier(num_aus=1, channels=len(vector))
    with torch.no_grad():
        clf.weight.copy_(torch.tensor([vector]))
    return clf


def test_probabilities_are_cosines_in_unit_range_and_logits_agree():
    torch.manual_seed(0)
    clf = CosineAUClassifier(num_aus=5, channels=16)
    nodes = torch.relu(torch.randn(64, 5, 16))
    nodes[0, 0] = 0  # an all-zero node scores 0
    p = clf.probabilities(nodes)
    assert p.shape == (64, 5) and (p >= 0).all() and (p <= 1).all()
    assert p[0, 0] == 0
    s = torch.relu(clf.weight)
    cos = torch.nn.functional.cosine_similarity(nodes[1:], s.unsqueeze(0), dim=-1)
    assert torch.allclose(p[1:], cos, atol=1e-6)
    with torch.no_grad():
        logits = clf(nodes)
    assert torch.isfinite(logits).all()
    assert torch.allclose(torch.sigmoid(logits), p, atol=1e-6)
    # ReLU(s): negative entries of s are ignored.
    with torch.no_grad():
        clf.weight[0, :8] = -5.0
    cos = torch.nn.functional.cosine_similarity(nodes[1:, 0], torch.relu(clf.weight[0]), dim=-1)
    assert torch.allclose(clf.probabilities(nodes)[1:, 0], cos, atol=1e-6)


@pytest.mark.parametrize("t", [1e-2, 1e-3, 1e-4, 1e-5])
def test_logits_near_one_keep_one_minus_p(t):
    """node (1, t) against class vector (1, 0): 1 - p = 1 - 1/sqrt(1 + t^2) ~ t^2 / 2."""
    clf = _classifier_with([1.0, 0.0])
    node = torch.tensor([[[1.0, t]]])
    with torch.no_grad():
        logit = clf(node)[0, 0]
    t64 = float(torch.tensor(t))  # the float32 input, exactly
    one_minus_p = -math.expm1(-0.5 * math.log1p(t64 * t64))
    expected = math.log1p(-one_minus_p) - math.log(one_minus_p)
    assert logit.item() == pytest.approx(expected, rel=1e-5)
    # The round trip: sigmoid(-logit) gives back 1 - p where p itself is 1.0 in float32.
    assert torch.sigmoid(-logit).item() == pytest.approx(one_minus_p, rel=1e-4)
    # The naive route through the float32 probability loses it.
    if t <= 1e-4:
        naive = torch.logit(clf.probabilities(node)[0, 0])
        assert not math.isfinite(naive.item()) or abs(naive.item() - expected) > 1.0


@pytest.mark.parametrize("t", [1e-3, 1e-10, 1e-20, 1e-30])
def test_logits_near_zero_keep_p(t):
    """node (t, 1) against class vector (1, 0): p = t / sqrt(1 + t^2)."""
    clf = _classifier_with([1.0, 0.0])
    node = torch.tensor([[[t, 1.0]]])
    with torch.no_grad():
        logit = clf(node)[0, 0]
    t64 = float(torch.tensor(t))
    p = t64 / math.sqrt(1 + t64 * t64)
    assert logit.item() == pytest.approx(math.log(p) - math.log1p(-p), rel=1e-5)
    assert torch.sigmoid(logit).item() == pytest.approx(p, rel=1e-4)


def test_logits_stay_finite_with_finite_gradients_at_the_ends():
    clf = _classifier_with([1.0, 2.0, 0.0])
    nodes = torch.tensor([[[2.0, 4.0, 0.0]], [[0.0, 0.0, 3.0]]], requires_grad=True)  # p = 1, p = 0
    logits = clf(nodes)[:, 0]
    bound = math.log(1.0) - math.log(TINY)
    assert logits[0].item() == pytest.approx(bound, rel=1e-6)
    assert logits[1].item() == pytest.approx(math.log(TINY), rel=1e-6)  # orthogonal: 1 - p = 1
    logits.sum().backward()
    assert torch.isfinite(nodes.grad).all() and torch.isfinite(clf.weight.grad).all()


def test_classifier_runs_in_float32_under_autocast():
    clf = _classifier_with([1.0, 0.0])
    node = torch.tensor([[[1.0, 1e-4]]])
    with torch.autocast("cpu", dtype=torch.bfloat16):
        logit = clf(node.bfloat16())
    assert logit.dtype == torch.float32 and logit.item() > 18.0


def test_cosine_logit_is_log_odds_of_the_dot_product():
    torch.manual_seed(0)
    a = torch.nn.functional.normalize(torch.rand(10, 7, dtype=torch.float64), dim=-1)
    b = torch.nn.functional.normalize(torch.rand(10, 7, dtype=torch.float64), dim=-1)
    p = (a * b).sum(-1)
    assert torch.allclose(cosine_logit(a, b), torch.log(p / (1 - p)), rtol=1e-9)
