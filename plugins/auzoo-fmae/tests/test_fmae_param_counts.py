"""Parameter counts of the four configs against the note's table (computed from
the official layer shapes; the position embedding counts, it is trained), and a
ViT-B pre-training checkpoint in the official layout loading into ``fmae_vitb``.

ViT-B is built for real; ViT-L on the meta device (shapes only)."""
from __future__ import annotations

import torch

import auzoo
from auzoo_fmae.model import BP4D_AUS, DISFA_AUS
from fmae_support import mae_state, write_pretrain_checkpoint

# encoder (no head), + AU head, + identity head (every subject of the dataset,
# as the official head: BP4D 41, DISFA 27)
TABLE = {
    "vitb": dict(encoder=85_798_656, au={"bp4d": 85_807_884, "disfa": 85_804_808},
                 iat={"bp4d": 85_839_413, "disfa": 85_825_571}),
    "vitl": dict(encoder=303_301_632, au={"bp4d": 303_313_932, "disfa": 303_309_832},
                 iat={"bp4d": 303_355_957, "disfa": 303_337_507}),
}
DATASETS = {"bp4d": (BP4D_AUS, 41), "disfa": (DISFA_AUS, 27)}


def count(module):
    return sum(p.numel() for p in module.parameters())


def _check(size, built):
    row = TABLE[size]
    assert count(built.backbone) == row["encoder"]
    assert count(built) == row["au"]["disfa"]
    for dataset, (aus, subjects) in DATASETS.items():
        names = [f"S{i:03d}" for i in range(subjects)]
        with torch.device("meta"):
            au = auzoo.build_model(f"fmae_{size}", aus=aus)
            iat = auzoo.build_model(f"fmae_iat_{size}", aus=aus, train_subjects=names)
        assert count(au) == row["au"][dataset]
        assert count(iat) == row["iat"][dataset]
        assert iat.grad_reverse == 0.5 and iat.identity_head.out_features == subjects


def test_vit_b_counts_match_the_table():
    model = auzoo.build_model("fmae_vitb")  # really built
    vit = model.backbone.vit
    assert (vit.embed_dim, len(vit.blocks), vit.blocks[0].attn.num_heads) == (768, 12, 12)
    assert vit.patch_embed.patch_size == (16, 16) and vit.pos_embed.shape == (1, 197, 768)
    assert vit.blocks[0].norm1.eps == 1e-6 and vit.fc_norm.eps == 1e-6
    assert vit.blocks[0].attn.qkv.bias is not None
    assert abs(vit.blocks[-1].drop_path1.drop_prob - 0.1) < 1e-6  # drop path rising to 0.1
    assert isinstance(vit.blocks[0].drop_path1, torch.nn.Identity)
    _check("vitb", model)


def test_vit_l_counts_match_the_table():
    with torch.device("meta"):
        model = auzoo.build_model("fmae_vitl")
    vit = model.backbone.vit
    assert (vit.embed_dim, len(vit.blocks), vit.blocks[0].attn.num_heads) == (1024, 24, 16)
    _check("vitl", model)


def test_a_vit_b_pretraining_checkpoint_loads_into_fmae_vitb(tmp_path):
    """The released ViT-B file's layout, from a random timm ViT-B/16 at 224."""
    state = mae_state(img_size=224, decoder_dim=512, embed_dim=768, depth=12, num_heads=12)
    path = write_pretrain_checkpoint(tmp_path / "FMAE_ViT_base.pth", state)
    model = auzoo.build_model("fmae_iat_vitb", **{"backbone.weights": str(path)})
    loaded = model.backbone.vit.state_dict()
    for key in ("pos_embed", "cls_token", "patch_embed.proj.weight", "blocks.11.mlp.fc2.bias"):
        assert torch.equal(loaded[key], state[key]), key
    assert model.backbone.load_record["format"] == "face-MAE pre-training"
