auto_scale_lr = dict(base_batch_size=4, enable=True)
auzoo_device = 'cpu'
compile = False
custom_hooks = [
    dict(
        begin=0, monitor='f1_mean', patience=10,
        type='ResumableEarlyStopping'),
    dict(
        keep='/tmp/pytest-of-root/pytest-257/tracked0/epoch.pth',
        key='tracked',
        type='CaptureRunHook'),
    dict(type='BindLossHook'),
    dict(seed=0, type='EpochSeedHook'),
    dict(type='TrainTimeHook'),
    dict(
        monitor='f1_mean',
        predictions_file='best_predictions.npz',
        type='ScoredCheckpointHook'),
]
default_hooks = dict(
    checkpoint=None,
    logger=dict(interval=1, type='LoggerHook'),
    param_scheduler=dict(type='ParamSchedulerHook'),
    sampler_seed=None,
    timer=dict(type='IterTimerHook'))
default_scope = 'auzoo'
env_cfg = dict(
    cudnn_benchmark=False,
    dist_cfg=dict(backend='gloo'),
    mp_cfg=dict(mp_start_method='forkserver', opencv_num_threads=0))
experiment_name = 'tiny'
launcher = 'none'
log_level = 'INFO'
log_processor = dict(by_epoch=True, window_size=7)
model = dict(
    img_size=48,
    init=dict(allow_random=True, run=None),
    log_interval=1,
    loss=dict(reduction='region_sum', type='AUBCELoss'),
    model=dict(
        aus=(
            1,
            2,
            4,
            6,
            9,
            12,
            25,
            26,
        ),
        backbone=dict(
            frozen_stages=1, model_name='test_resnet', type='TimmBackbone'),
        branches=[
            dict(region='upper'),
            dict(region='middle'),
            dict(region='lower'),
        ],
        head=dict(dropout=0.0, hidden=16, pool_size=1, type='TwoFCHead'),
        splitter=dict(type='ThreeRegionSplitter'),
        type='RegionAUNet'),
    name='tiny',
    precision=dict(channels_last=False, eval='fp32', train='fp32'),
    task='occurrence',
    type='AUDetectorModule')
optim_wrapper = dict(
    optimizer=dict(lr=0.05, momentum=0.9, type='SGD', weight_decay=0.001),
    type='OptimWrapper')
param_scheduler = None
randomness = dict(deterministic=False, seed=0)
resume = False
train_cfg = dict(by_epoch=True, max_epochs=2, val_begin=1, val_interval=1)
train_dataloader = dict(
    batch_sampler=dict(iters_per_epoch=3, type='AUWeightedBatchSampler'),
    batch_size=8,
    collate_fn=dict(type='collate_batch'),
    dataset=dict(
        aus=[
            1,
            2,
            4,
            6,
            9,
            12,
            25,
            26,
        ],
        bad_frames='drop',
        cache='/tmp/pytest-of-root/pytest-257/disfa2/cache',
        img_size=48,
        intensity=False,
        pipeline=[
            dict(size=224, type='AlignMidline'),
            dict(prob=0.5, type='RandomFlip'),
        ],
        subjects=[
            'SN001',
            'SN002',
            'SN006',
            'SN009',
            'SN010',
            'SN011',
            'SN012',
            'SN013',
            'SN016',
            'SN018',
            'SN021',
            'SN024',
            'SN026',
            'SN027',
            'SN028',
            'SN030',
            'SN031',
            'SN032',
        ],
        threshold=None,
        type='AUFrames'),
    multiprocessing_context=None,
    num_workers=0,
    persistent_workers=False,
    pin_memory=False,
    sampler=dict(shuffle=False, type='DefaultSampler'))
val_cfg = dict()
val_dataloader = dict(
    batch_size=256,
    collate_fn=dict(type='collate_batch'),
    dataset=dict(
        aus=[
            1,
            2,
            4,
            6,
            9,
            12,
            25,
            26,
        ],
        bad_frames='drop',
        cache='/tmp/pytest-of-root/pytest-257/disfa2/cache',
        img_size=48,
        intensity=False,
        pipeline=[
            dict(size=224, type='AlignMidline'),
        ],
        subjects=[
            'SN003',
            'SN004',
            'SN005',
            'SN007',
            'SN008',
            'SN017',
            'SN023',
            'SN025',
            'SN029',
        ],
        threshold=None,
        type='AUFrames'),
    multiprocessing_context=None,
    num_workers=0,
    persistent_workers=False,
    pin_memory=False,
    sampler=None)
val_evaluator = [
    dict(aus=(
        1,
        2,
        4,
        6,
        9,
        12,
        25,
        26,
    ), type='AUMetric'),
]
visualizer = dict(
    type='Visualizer',
    vis_backends=[
        dict(type='TensorboardVisBackend'),
        dict(
            exp_name='tiny',
            tracking_uri=
            'sqlite:////tmp/pytest-of-root/pytest-257/tracked0/mlflow.db',
            type='MLflowVisBackend'),
    ])
work_dir = '/tmp/pytest-of-root/pytest-257/tracked0/run'
