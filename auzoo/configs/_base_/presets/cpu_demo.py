# The synthetic demo: every model from random weights in minutes on two CPU
# cores. Merged over a model's config by `auzoo bench` without --data; a model
# that needs another demo schedule carries `demo = dict(...)` (dotted keys),
# merged over this one and recorded in its results.
img_size = 64
train_dataloader = dict(batch_size=32, sampler=dict(iters_per_epoch=20))
val_dataloader = dict(batch_size=64)
train_cfg = dict(max_epochs=4, val_begin=1)
custom_hooks = [dict(type='ResumableEarlyStopping', patience=4, begin=0)]
optim_wrapper = dict(optimizer=dict(type='AdamW', lr=1e-3, weight_decay=1e-4, _delete_=True))
