"""FMAE's forward pass against a hand-composed timm ViT, the gradient reversal of
FMAE-IAT and its identity head sized by the training subjects."""
from __future__ import annotations

import pytest
import timm
import torch
from timm.data import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD

import auzoo
from auzoo_fmae import FMAE, GradReverse
from auzoo_fmae.model import DISFA_AUS
from fmae_support import TINY, tiny_backbone

SUBJECTS = ("SN001", "SN002", "SN009", "SN010", "SN016")


def _tiny(grad_reverse=0.5, subjects=SUBJECTS, seed=0):
    torch.manual_seed(seed)
    return FMAE(tiny_backbone(), aus=DISFA_AUS, grad_reverse=grad_reverse, train_subjects=subjects)


def test_logits_are_timms_vit_with_average_pooling_on_the_same_weights():
    """fmae_vitb's logits = timm's ViT-B/16 (global_pool='avg': mean of the patch
    tokens, fc_norm, head) on ImageNet-normalised input, with the same weights."""
    torch.manual_seed(0)
    model = auzoo.build_model("fmae_vitb").eval()
    reference = timm.create_model("vit_base_patch16_224", pretrained=False, global_pool="avg",
                                  num_classes=len(DISFA_AUS)).eval()
    torch.manual_seed(1)
    with torch.no_grad():
        reference.head.weight.normal_(0, 0.02)  # not the 2e-5 init: logits of some size
        reference.head.bias.normal_(0, 0.1)
    state = {f"backbone.vit.{k}": v for k, v in reference.state_dict().items()
             if not k.startswith("head.")}
    state.update({"head.weight": reference.head.weight, "head.bias": reference.head.bias})
    model.load_state_dict(state, strict=True)
    images = torch.rand(2, 3, 224, 224)
    mean = torch.tensor(IMAGENET_DEFAULT_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_DEFAULT_STD).view(1, 3, 1, 1)
    with torch.no_grad():
        got = model(images)
        expected = reference((images - mean) / std)
        # the same thing composed from the pieces: patch tokens -> mean -> fc_norm -> head
        tokens = reference.forward_features((images - mean) / std)
        composed = reference.head(reference.fc_norm(tokens[:, 1:].mean(dim=1)))
    assert got.shape == (2, 8)
    assert torch.allclose(got, expected, atol=1e-5) and torch.allclose(got, composed, atol=1e-5)
    assert got.abs().max() > 0.05  # a real comparison, not of near-zero logits
    train_out = model.forward_train(images)
    assert set(train_out) == {"logits"}  # FMAE: no identity head


def test_au_head_starts_as_published():
    model = _tiny()
    assert model.head.weight.std() < 1e-4  # trunc-normal, std 2e-5
    assert model.identity_head.out_features == len(SUBJECTS)
    assert model.identity_head.in_features == TINY["embed_dim"]


def test_grad_reverse_is_identity_forward_and_minus_lambda_backward():
    x = torch.randn(3, 4, requires_grad=True)
    y = GradReverse.apply(x, 0.5)
    assert torch.equal(y, x)
    grad = torch.randn(3, 4)
    y.backward(grad)
    assert torch.allclose(x.grad, -0.5 * grad)


def test_the_encoder_gets_minus_lambda_times_the_identity_gradient():
    """With IAT the identity head learns as usual and the encoder receives
    -lambda times the gradient the same loss would give it without the reversal;
    the AU path is untouched."""
    lam = 2.0
    model = _tiny(grad_reverse=lam).eval()
    images = torch.rand(4, 3, 64, 64)
    target = torch.tensor([0, 3, 1, 4])

    out = model.forward_train(images)
    torch.nn.functional.cross_entropy(out["identity_logits"], target).backward()
    reversed_grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
    model.zero_grad()

    plain = model.identity_head(model.backbone(images))  # the same head, no reversal
    torch.nn.functional.cross_entropy(plain, target).backward()
    plain_grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}

    assert "head.weight" not in reversed_grads  # the AU head is not on the identity path
    encoder = [n for n in plain_grads if n.startswith("backbone.")]
    assert len(encoder) > 40 and set(encoder) <= set(reversed_grads)
    for name in encoder:
        assert torch.allclose(reversed_grads[name], -lam * plain_grads[name], atol=1e-6,
                              rtol=1e-4), name
    for name in ("identity_head.weight", "identity_head.bias"):
        assert torch.allclose(reversed_grads[name], plain_grads[name])
    assert plain_grads["backbone.vit.blocks.0.attn.qkv.weight"].abs().sum() > 0


def test_iat_needs_the_training_subjects_to_train():
    model = _tiny(subjects=None)
    assert model.identity_head is None
    model(torch.rand(1, 3, 64, 64))  # inference needs no identity head
    with pytest.raises(RuntimeError, match="train_subjects"):
        model.forward_train(torch.rand(1, 3, 64, 64))
    with pytest.raises(ValueError, match="repeated"):
        _tiny(subjects=("SN001", "SN001"))
