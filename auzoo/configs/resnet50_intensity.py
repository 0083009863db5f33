# The ResNet-50 intensity baseline: any timm ResNet-50 weights, global pooling,
# two FC layers read out as 5 sigmoid(s) per AU (bounded regression with MSE,
# as LibreFace's regression head), one branch for every AU. Weights from a
# local file: --cfg-options model.backbone.weights=resnet50_a1_0-14fe96d1.pth
_base_ = ['./resnet50.py']
model = dict(
    head=None,
    intensity_head=dict(type='RegressionIntensityHead', pool_size=1, hidden=1024, dropout=0.5),
)
task = 'intensity'
loss = dict(_delete_=True, type='IntensityMSELoss', scale=5.0)
val_evaluator = [dict(type='AUIntensityMetric')]
select_by = 'icc_mean'
