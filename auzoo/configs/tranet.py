# TRA-Net as published: SENet-50 + decoder + hard masks + 3 x CBAM (no residual) per region.
_base_ = ['./_base_/disfa.py', './_base_/schedule_paper.py', './_base_/tranet_model.py']
