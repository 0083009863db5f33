# TRA-Net: three regions based attention network (the paper's Fig. 1).
#
# VGGFace2 SENet-50 with its stem and first stage frozen, a decoder back to
# stride 8 (28 x 28 at 224 px), three hard row masks (upper / middle / lower
# face), and per region three CBAM blocks without residual, then two FC layers.
# Choices the paper leaves open are listed in docs/models.md.
model = dict(
    type='RegionAUNet',
    aus=None,  # None: the dataset's AUs (without data: DISFA's 1, 2, 4, 6, 9, 12, 25, 26)
    backbone=dict(
        type='VGGFace2SENet50',
        weights=None,       # a state dict from `auzoo convert-weights senet50_ft_weight.pkl senet50_ft.pth`
        frozen_stages=2,    # the paper's Block 1 (stem) and Block 2 (layer1)
    ),
    # 2048x7x7 -> 1024x14x14 -> 512x28x28; SE with the residual of the paper's Eq. 3
    neck=dict(type='TRADecoder', steps=2, se_residual=True),
    splitter=dict(type='ThreeRegionSplitter'),
    attention=[dict(type='CBAM', residual=False)] * 3,  # in every branch
    head=dict(type='TwoFCHead', pool_size=4, hidden=1024, dropout=0.5),
    # One branch per region; each predicts the model's AUs that
    # auzoo/models/au_regions.py puts in its region (DISFA: upper 1, 2, 4;
    # middle 6, 9; lower 12, 25, 26). A region with none of the AUs is left out.
    branches=[dict(region='upper'), dict(region='middle'), dict(region='lower')],
    band_only=True,  # branches run on their band of rows only (exact; False: on the masked full map)
)
# Training with frozen stages and no weight file is refused unless this is True
# (--allow-random-init); the synthetic demo trains every stage instead.
allow_random_init = False
demo = {'model.backbone.frozen_stages': 0}
