# FMAE-IAT with ViT-L/16: the published FMAE-IAT (DISFA 70.1, BP4D 67.1),
# lambda 0.5 (DISFA; BP4D: 2).
_base_ = ['./fmae_vitl.py']

model = dict(grad_reverse=0.5, train_subjects=None)
