# Table 2, "TRA-Net with residual structure": each CBAM block returns x + CBAM(x).
_base_ = ['./_base_/disfa.py', './_base_/schedule_paper.py', './_base_/tranet_model.py']
model = dict(attention=[dict(type='CBAM', residual=True)] * 3)
