# Table 2, "SENet-50 + CBAM": TRA-Net without hard masks -- one branch sees the
# whole decoded face through 3 x CBAM and predicts every AU.
_base_ = ['./_base_/default_runtime.py', './_base_/data/au_frames.py', './_base_/schedules/paper.py',
          './_base_/tranet_model.py']
model = dict(
    splitter=dict(type='WholeFaceSplitter'),
    branches=[dict(region='face')],  # all of model.aus
)
# Three sigmoid-gated CBAM blocks on the whole face, without masks, learn
# slowest of the table from random weights: in the demo's 4 epochs the F1 was
# still rising (18.4, 24.3, 29.6 on the synthetic demo, fold 1), so its demo
# trains 8 epochs.
demo = {'train_cfg.max_epochs': 8,
        'custom_hooks': [dict(type='ResumableEarlyStopping', patience=8, begin=0)]}
