# TRA-Net's training schedule (paper, section 4.1).
train = dict(
    optimizer=dict(type='SGD', lr=0.001, momentum=0.9, weight_decay=0.001),
    batch_size=64,        # drawn by AU-weighted random sampling (the global batch under DDP)
    iters_per_epoch=100,  # "1 epoch contained 100 batches"
    max_epochs=200,
    patience=10,          # stop after 10 epochs without a better mean F1
    select_on='test',     # the paper picks its epoch on the test fold; 'val' holds out subjects
    # What the paper leaves to the implementation (docs/training.md):
    val_subjects=3,       # training subjects held out by select_on='val'
    min_delta=0.0,        # an epoch is better when its mean F1 is higher by more than this
    eval_batch_size=128,  # frames per batch when scoring
    amp=True,             # bf16 autocast on a GPU (a CPU always runs float32)
    channels_last=True,   # channels-last tensors on a GPU
    compile=False,        # torch.compile the training step (mmengine's cfg.compile; True or a dict of options)
    num_workers=None,     # DataLoader workers; None: 0 on a CPU, up to 8 per GPU
    deterministic=False,  # torch.use_deterministic_algorithms (slower on a GPU)
    log_interval=20,      # iterations between lines of mmengine's log file
    keep_resume_checkpoints=False,  # keep epoch_N.pth once the run has finished
    custom_hooks=[],      # extra mmengine hooks, e.g. dict(type='MyHook')
)
