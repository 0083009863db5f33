# Table 2, "SENet-50 + HM + CBAM w/o ST": TRA-Net whose CBAM blocks have no spatial attention.
_base_ = ['./_base_/default_runtime.py', './_base_/data/au_frames.py', './_base_/schedules/paper.py',
          './_base_/tranet_model.py']
model = dict(attention=[dict(type='CBAM', spatial_attention=False)] * 3)
