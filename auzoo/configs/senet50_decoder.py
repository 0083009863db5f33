# Table 2's missing step, "SENet-50 + decoder": TRA-Net without hard masks and
# without CBAM -- one branch sees the whole decoded face and its two FC layers
# (the same head as TRA-Net's branches) predict every AU.
_base_ = ['./_base_/default_runtime.py', './_base_/data/au_frames.py', './_base_/schedules/paper.py',
          './_base_/tranet_model.py']
model = dict(
    splitter=dict(type='WholeFaceSplitter'),
    attention=[],
    branches=[dict(region='face')],  # all of model.aus
)
