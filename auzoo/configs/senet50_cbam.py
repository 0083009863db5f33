# Table 2, "SENet-50 + CBAM": TRA-Net without hard masks -- one branch sees the
# whole decoded face through 3 x CBAM and predicts every AU.
_base_ = ['./_base_/default_runtime.py', './_base_/data/au_frames.py', './_base_/schedules/paper.py',
          './_base_/tranet_model.py']
model = dict(
    splitter=dict(type='WholeFaceSplitter'),
    branches=[dict(region='face')],  # all of model.aus
)
