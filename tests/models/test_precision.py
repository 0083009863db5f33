"""Mixed precision and deterministic algorithms: what a GPU run switches on."""
from __future__ import annotations

import pytest
import torch
from torch import nn

import auzoo
from auzoo.models import bands
from auzoo.models.pooling import GridAvgPool2d, bin_matrix

from .helpers import randomize_
from .test_region_net import small_backbone_config


@pytest.mark.parametrize("name", ["tranet", "tranet_residual"])
def test_training_step_under_bf16_autocast(name):
    torch.manual_seed(0)
    model = auzoo.build_model(small_backbone_config(name)).train()  # band-only CBAM branches
    images = torch.rand(2, 3, 64, 64)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        logits = model(images)
    loss = nn.functional.binary_cross_entropy_with_logits(logits.float(), torch.ones_like(logits.float()))
    loss.backward()
    assert torch.isfinite(loss)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            assert m.running_mean.dtype == m.running_var.dtype == torch.float32


def test_band_batch_norm_statistics_are_float32_under_bf16():
    bn = nn.BatchNorm2d(3, momentum=0.5).train()
    y = (torch.randn(2, 3, 4, 5) * 3 + 1)
    reference = nn.BatchNorm2d(3, momentum=0.5).train()
    full = torch.zeros(2, 3, 10, 5)
    full[:, :, 2:6] = y
    expected = reference(full)[:, :, 2:6]
    out = bands.batch_norm(y.bfloat16(), bn, full_count=full.numel() // 3)
    assert out.dtype == torch.bfloat16
    torch.testing.assert_close(out.float(), expected, rtol=0, atol=0.1)
    # the statistics come from the bf16 input, taken in float32: close to the fp32 ones
    torch.testing.assert_close(bn.running_mean, reference.running_mean, rtol=0, atol=0.02)
    torch.testing.assert_close(bn.running_var, reference.running_var, rtol=0.02, atol=0.02)


@pytest.mark.parametrize("size, out", [((28, 28), 4), ((7, 7), 4), ((14, 9), 4), ((4, 4), 16),
                                       ((12, 10), (3, 5)), ((13, 28), 1)])
def test_grid_pool_is_adaptive_avg_pool(size, out):
    x = torch.randn(2, 3, *size, dtype=torch.float64, requires_grad=True)
    y = x.detach().clone().requires_grad_(True)
    ours, theirs = GridAvgPool2d(out)(x), nn.AdaptiveAvgPool2d(out)(y)
    torch.testing.assert_close(ours, theirs)
    grad = torch.randn_like(theirs)
    ours.backward(grad), theirs.backward(grad)
    torch.testing.assert_close(x.grad, y.grad)


def test_bin_matrix_rows_average_the_adaptive_bins():
    m = bin_matrix(7, 4)
    assert torch.allclose(m.sum(1), torch.ones(4))
    assert m[1].nonzero().flatten().tolist() == [1, 2, 3]  # bin 1 of 7 -> 4: [floor(7/4), ceil(14/4))


def test_heads_run_under_deterministic_algorithms(monkeypatch):
    monkeypatch.setenv("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    before = torch.are_deterministic_algorithms_enabled()
    torch.use_deterministic_algorithms(True)
    try:
        model = randomize_(auzoo.build_model(small_backbone_config("senet50_hm")))
        assert not any(isinstance(m, nn.AdaptiveAvgPool2d) for m in model.modules())
        model(torch.rand(2, 3, 64, 64)).sum().backward()
    finally:
        torch.use_deterministic_algorithms(before)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_head_backward_is_deterministic_on_cuda():
    torch.use_deterministic_algorithms(True)
    try:
        x = torch.randn(4, 8, 28, 28, device="cuda", requires_grad=True)
        GridAvgPool2d(4)(x).sum().backward()
        with pytest.raises(RuntimeError, match="deterministic"):
            nn.AdaptiveAvgPool2d(4)(x).sum().backward()
    finally:
        torch.use_deterministic_algorithms(False)
