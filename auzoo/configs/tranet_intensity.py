# TRA-Net for AU intensity: the paper's parts (SENet-50, decoder, three hard
# region masks, 3 x CBAM per region) with an intensity head on every branch in
# place of the occurrence head: the same two FC layers, read out as 5 sigmoid(s)
# (bounded regression, trained with MSE). On DISFA it predicts the 12 labelled
# AUs (0-5); on BP4D the FERA 2015 five (6, 10, 12, 14, 17).
# Other readings of the same branch: --cfg-options
#   model.intensity_head.type=OrdinalIntensityHead loss.type=OrdinalIntensityLoss
#   model.intensity_head.type=LevelsIntensityHead loss.type=LevelsIntensityLoss
_base_ = ['./_base_/default_runtime.py', './_base_/data/au_frames.py', './_base_/schedules/paper.py',
          './_base_/tranet_model.py']
model = dict(
    head=None,
    intensity_head=dict(type='RegressionIntensityHead', pool_size=4, hidden=1024, dropout=0.5),
)
# The task decides the labels served, the loss, the validation metrics
# (ICC(3,1), PCC, MAE) and the score the best epoch and early stopping go by.
task = 'intensity'
loss = dict(_delete_=True, type='IntensityMSELoss', scale=5.0)   # MSE of y/5, as TAS trains
val_evaluator = [dict(type='AUIntensityMetric')]
select_by = 'icc_mean'
# The synthetic demo: regression from random weights reads intensity slower
# than the occurrence head learns presence; at the preset's 4 epochs the mean
# ICC was still rising (0.04, 0.22, 0.35, 0.40 on the synthetic demo, fold 1),
# so its demo trains 12 epochs (0.57 at the 12th).
demo = {'train_cfg.max_epochs': 12,
        'custom_hooks': [dict(type='ResumableEarlyStopping', patience=12, begin=0)]}
