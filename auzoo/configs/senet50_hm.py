# Table 2, "SENet-50 + HM": TRA-Net without CBAM -- each masked region goes
# straight from the decoder to its two FC layers.
_base_ = ['./_base_/disfa.py', './_base_/schedule_paper.py', './_base_/tranet_model.py']
model = dict(attention=[])
