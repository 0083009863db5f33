# TRA-Net: three regions based attention network (the paper's Fig. 1).
#
# VGGFace2 SENet-50 with its stem and first stage frozen, a decoder back to
# stride 8 (28 x 28 at 224 px), three hard row masks (upper / middle / lower
# face), and per region three CBAM blocks without residual, then two FC layers.
# Choices the paper leaves open are listed in docs/models.md.
model = dict(
    type='RegionAUNet',
    aus=(1, 2, 4, 6, 9, 12, 25, 26),
    backbone=dict(
        type='VGGFace2SENet50',
        weights=None,       # a state dict from `auzoo convert-weights senet50_ft_weight.pkl ...`
        frozen_stages=2,    # the paper's Block 1 (stem) and Block 2 (layer1)
    ),
    neck=dict(type='TRADecoder', steps=2),  # 2048x7x7 -> 1024x14x14 -> 512x28x28
    splitter=dict(type='ThreeRegionSplitter'),
    attention=[dict(type='CBAM', residual=False)] * 3,  # in every branch
    head=dict(type='TwoFCHead', pool_size=4, hidden=1024, dropout=0.5),
    branches=[
        dict(region='upper', aus=(1, 2, 4)),
        dict(region='middle', aus=(6, 9)),
        dict(region='lower', aus=(12, 25, 26)),
    ],
    band_only=True,  # branches run on their band of rows only (exact; False: on the masked full map)
)
