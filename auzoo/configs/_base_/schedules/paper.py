# TRA-Net's training schedule (paper, section 4.1), in mmengine's schema.
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.001, momentum=0.9, weight_decay=0.001),
)
param_scheduler = []  # a constant learning rate
train_cfg = dict(by_epoch=True, max_epochs=200, val_interval=1, val_begin=1)
val_cfg = dict()
test_cfg = dict()
# auzoo's keys, where mmengine has none:
# The branch losses "were summed": per face region, each region's mean BCE; for
# TRA-Net the same as its branch sum, and the single-branch ablations weigh every
# AU as TRA-Net does (docs/models.md, 'Loss scale').
loss = dict(type='AUBCELoss', reduction='region_sum')
select_on = 'test'   # the paper picks its epoch on the test fold; 'val' holds out subjects
val_subjects = 3     # training subjects held out by select_on='val'
# Early stopping (patience 10 from epoch 14): custom_hooks in _base_/default_runtime.py.
