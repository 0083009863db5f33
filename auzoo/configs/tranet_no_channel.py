# Table 2, "SENet-50 + HM + CBAM w/o AT": TRA-Net whose CBAM blocks have no channel attention.
_base_ = ['./_base_/default_runtime.py', './_base_/data/au_frames.py', './_base_/schedules/paper.py',
          './_base_/tranet_model.py']
model = dict(attention=[dict(type='CBAM', channel_attention=False)] * 3)
