# Table 2, "SENet-50 + HM": TRA-Net without CBAM -- each masked region goes
# straight from the decoder to its two FC layers.
_base_ = ['./_base_/default_runtime.py', './_base_/data/au_frames.py', './_base_/schedules/paper.py',
          './_base_/tranet_model.py']
model = dict(attention=[])
