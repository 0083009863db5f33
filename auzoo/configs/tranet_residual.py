# Table 2, "TRA-Net with residual structure": each CBAM block returns x + CBAM(x).
_base_ = ['./_base_/default_runtime.py', './_base_/data/au_frames.py', './_base_/schedules/paper.py',
          './_base_/tranet_model.py']
model = dict(attention=[dict(type='CBAM', residual=True)] * 3)
# As senet50_hm: with residual blocks nothing damps the features between the
# decoder and the FC layers, and the demo's AdamW at 1e-3 is unstable (synthetic
# demo, fold 1: F1 25.9, the loss rising in epoch 3), so the demo runs at 3e-4.
demo = {'optim_wrapper.optimizer.lr': 3e-4}
