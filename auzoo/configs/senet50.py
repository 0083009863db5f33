# Table 2, "SENet-50": the backbone alone with a global-pool two-FC head on its
# last (2048 x 7 x 7) map; no decoder, no masks, no attention.
_base_ = ['./_base_/default_runtime.py', './_base_/data/au_frames.py', './_base_/schedules/paper.py',
          './_base_/tranet_model.py']
model = dict(
    neck=None,
    splitter=dict(type='WholeFaceSplitter'),
    attention=[],
    head=dict(pool_size=1),
    branches=[dict(region='face')],
)
