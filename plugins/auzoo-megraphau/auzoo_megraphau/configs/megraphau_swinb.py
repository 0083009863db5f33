# ME-GraphAU (stage 2, MEFL) with Swin-B: the deployed model, initialised from
# megraphau_swinb_stage1 (backbone, final norm, reduction, AFG, classifier).
_base_ = ['./megraphau_swinb_stage1.py']

model = dict(graph=dict(type='MEFL', layers=2, _delete_=True))

# Weighted asymmetric loss + 0.01 x edge loss, lr 1e-6 (README's DISFA Swin-B command).
loss = dict(type='MEGraphAULoss', edge_weight=0.01, eps=1e-8, _delete_=True)
optim_wrapper = dict(optimizer=dict(lr=1e-6))

init_from = dict(config='megraphau_swinb_stage1',
                 keys=['backbone.', 'token_norm.', 'reduction.', 'afg.', 'classifier.'])
