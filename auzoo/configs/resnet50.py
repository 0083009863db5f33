# ResNet-50 (any timm weights) with a global-pool two-FC head; the SENet-50
# baseline with a different backbone. Weights come from a local file:
#   --cfg-options model.backbone.weights=resnet50_a1_0-14fe96d1.pth
_base_ = ['./_base_/default_runtime.py', './_base_/data/au_frames.py', './_base_/schedules/paper.py',
          './_base_/tranet_model.py']
model = dict(
    backbone=dict(_delete_=True, type='TimmBackbone', model_name='resnet50',
                  weights=None, frozen_stages=2),  # stem + layer1, as for SENet-50
    neck=None,
    splitter=dict(type='WholeFaceSplitter'),
    attention=[],
    head=dict(pool_size=1),
    branches=[dict(region='face')],
)
