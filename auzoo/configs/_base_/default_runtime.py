# What every run shares, in mmengine's own schema (Runner.from_cfg reads it).
default_scope = 'auzoo'   # configs name auzoo's (and plugins') hooks, metrics, losses by type
env_cfg = dict(
    cudnn_benchmark=True,  # fixed input size: let cuDNN pick the fastest kernels
    # forkserver, not fork: a forked DataLoader worker inherits CUDA and thread state
    mp_cfg=dict(mp_start_method='forkserver', opencv_num_threads=0),
    dist_cfg=dict(backend='nccl'),  # gloo where there is no GPU (auzoo.engine.runner)
)
randomness = dict(seed=0, deterministic=False)  # --seed sets the seed
log_level = 'INFO'
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=20),
    param_scheduler=dict(type='ParamSchedulerHook'),
    sampler_seed=None,  # the sampler's epoch is set by auzoo's EpochSeedHook, with its seeds
)
# Early stopping is a hook, as in mmengine: stop after `patience` epochs without
# a better score (the monitor defaults to the run's select_by: mean F1, or mean
# ICC for intensity), counted from epoch `begin`: at 6,400 frames an epoch, a
# DISFA fold's ~87k training frames take 14 epochs to see once (docs/training.md,
# 'When training stops'). ResumableEarlyStopping keeps its counters across a
# resume; mmengine's EarlyStoppingHook works too. A config that sets
# custom_hooks replaces this list: keep the hook in it to keep early stopping.
custom_hooks = [
    dict(type='ResumableEarlyStopping', patience=10, min_delta=0.0, begin=14),
]
precision = dict(train='bf16', eval='fp32')  # on a GPU; a CPU trains and scores in fp32
channels_last = True                          # on a GPU
compile = False                               # torch.compile the model (True or a dict of options)
task = 'occurrence'   # what the model predicts: 'occurrence', 'intensity' or 'both'
# select_by: the validation score the best epoch and early stopping go by;
# unset: 'f1_mean' for occurrence, 'icc_mean' for intensity and both
