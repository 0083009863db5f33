# JAA-Lite: per-AU attention centred on landmark-derived AU centres (JAA-Net's
# rules) over a ResNet-50 + TRA-Net-decoder feature map (512 x 28 x 28 at 224 px).
# The data and train sections come from a built-in config; the model is replaced.
# Backbone weights from a local file, as for the built-in resnet50:
#   --cfg-options model.backbone.pretrained_file=resnet50_a1_0-14fe96d1.pth
_base_ = ['auzoo::resnet50']

published = 'JAA'  # the published row this model is set beside (JAA-Net)

model = dict(
    _delete_=True,
    type='JAALite',
    aus=(1, 2, 4, 6, 9, 12, 25, 26),
    backbone=dict(type='TimmBackbone', model_name='resnet50', pretrained_file=None,
                  frozen_stages=2),
    neck=dict(type='TRADecoder', steps=2),  # 2048x7x7 -> 1024x14x14 -> 512x28x28
    width=64,
    spatial_ratio=0.14,  # JAA-Net's attention square: 0.14 of the face wide
    fill_coeff=0.56,     # and its fall-off inside it
    supersample=4,
)
