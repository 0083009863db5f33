# TRA-Net as published: SENet-50 + decoder + hard masks + 3 x CBAM (no residual) per region.
_base_ = ['./_base_/default_runtime.py', './_base_/data/au_frames.py', './_base_/schedules/paper.py',
          './_base_/tranet_model.py']
