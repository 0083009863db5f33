# JAA-Lite: per-AU attention centred on landmark-derived AU centres (JAA-Net's
# rules) over ResNet-50's stride-16 map (1024 x 14 x 14 at 224 px), one small
# head per AU. The data and train sections come from a built-in config; the
# model is replaced. Backbone weights from a local file, as for the built-in
# resnet50:
#   --cfg-options model.backbone.weights=resnet50_a1_0-14fe96d1.pth
# For a finer map at about twice the cost, climb back to stride 8 with TRA-Net's
# decoder, in a config file of your own:
#   _base_ = ['auzoo::jaa_lite']
#   model = dict(backbone=dict(out_indices=None), neck=dict(type='TRADecoder', steps=2))
# A light model after JAA-Net, not JAA-Net: it has no published row (the full
# JAA-Net and its published rows are the auzoo-jaanet plugin's `jaanet`).
_base_ = ['auzoo::resnet50']

model = dict(
    _delete_=True,
    type='JAALite',
    aus=(1, 2, 4, 6, 9, 12, 25, 26),
    backbone=dict(type='TimmBackbone', model_name='resnet50',
                  out_indices=(3,),  # layer3: stride 16; layer4 is never built
                  frozen_stages=2),  # stem + layer1, as for the built-in resnet50
    width=64,
    spatial_ratio=0.14,  # JAA-Net's attention square: 0.14 of the face wide
    fill_coeff=0.56,     # and its fall-off inside it
    supersample=4,       # 4 x 4 attention points per 16 x 16 px cell
)
