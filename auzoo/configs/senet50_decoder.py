# Table 2's missing step, "SENet-50 + decoder": TRA-Net without hard masks and
# without CBAM -- one branch sees the whole decoded face and its two FC layers
# (the same head as TRA-Net's branches) predict every AU.
_base_ = ['./_base_/disfa.py', './_base_/schedule_paper.py', './_base_/tranet_model.py']
model = dict(
    splitter=dict(type='WholeFaceSplitter'),
    attention=[],
    branches=[dict(region='face')],  # all of model.aus
)
