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
# As senet50_hm: no gates between the decoder and the FC layers, so the demo's
# AdamW runs at 3e-4 (at 1e-3: F1 9.5 on the synthetic demo, fold 1).
demo = {'optim_wrapper.optimizer.lr': 3e-4}
