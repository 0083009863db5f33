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
loss = dict(type='AUBCELoss', reduction='branch_sum')  # the branch losses "were summed"
select_on = 'test'   # the paper picks its epoch on the test fold; 'val' holds out subjects
val_subjects = 3     # training subjects held out by select_on='val'
early_stopping = dict(patience=10, min_delta=0.0)  # epochs without a better mean F1
