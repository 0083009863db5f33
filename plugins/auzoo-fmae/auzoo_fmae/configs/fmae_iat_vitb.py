# FMAE-IAT with ViT-B/16: FMAE plus the identity head behind a gradient
# reversal (lambda 0.5, the published DISFA value; BP4D: 2). The head tells
# the fold's training subjects apart; auzoo train fills train_subjects.
_base_ = ['./fmae_vitb.py']

model = dict(grad_reverse=0.5, train_subjects=None)
