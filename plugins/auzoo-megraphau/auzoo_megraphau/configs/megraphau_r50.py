# ME-GraphAU (stage 2, MEFL) with ResNet-50: the deployed model. Stage 1
# (megraphau_r50_stage1) is trained first on the same fold; its backbone,
# reduction, AFG and classifier vectors initialise this model (the FGG is
# dropped); GEM, the gated GCN and the edge head start fresh.
_base_ = ['./megraphau_r50_stage1.py']

model = dict(graph=dict(type='MEFL', layers=2, _delete_=True))

# Weighted asymmetric loss + 0.05 x edge loss (README's ResNet-50 command).
loss = dict(type='MEGraphAULoss', edge_weight=0.05, eps=1e-8, _delete_=True)
optim_wrapper = dict(optimizer=dict(lr=1e-5))  # stage 2: the code default (README R50 command)

init_from = dict(config='megraphau_r50_stage1',
                 keys=['backbone.', 'reduction.', 'afg.', 'classifier.'])
