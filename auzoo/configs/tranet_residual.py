# Table 2, "TRA-Net with residual structure": each CBAM block returns x + CBAM(x).
_base_ = ['./_base_/default_runtime.py', './_base_/data/au_frames.py', './_base_/schedules/paper.py',
          './_base_/tranet_model.py']
model = dict(attention=[dict(type='CBAM', residual=True)] * 3)
