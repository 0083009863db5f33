# Table 2, "SENet-50 + HM": TRA-Net without CBAM -- each masked region goes
# straight from the decoder to its two FC layers.
_base_ = ['./_base_/default_runtime.py', './_base_/data/au_frames.py', './_base_/schedules/paper.py',
          './_base_/tranet_model.py']
model = dict(attention=[])
# The demo's AdamW at 1e-3 diverges on this model: without CBAM's gates the
# decoder's map (SE with the Eq. 3 residual) reaches the 8192-input FC layers
# at full scale (synthetic demo, fold 1: F1 32.6 at 1e-3; 61.4 after 3 epochs at 3e-4).
demo = {'optim_wrapper.optimizer.lr': 3e-4}
