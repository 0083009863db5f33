# Table 2, "SENet-50 + CBAM": TRA-Net without hard masks -- one branch sees the
# whole decoded face through 3 x CBAM and predicts every AU.
_base_ = ['./_base_/disfa.py', './_base_/schedule_paper.py', './_base_/tranet_model.py']
model = dict(
    splitter=dict(type='WholeFaceSplitter'),
    branches=[dict(region='face')],  # all of model.aus
)
