# JAA-Net (Shao, Liu, Cai & Ma, ECCV 2018): joint AU detection and face
# alignment with adaptive attention, with the authors' (PyTorch, v1) recipe:
# from scratch on BP4D; on DISFA from their BP4D model (init_from below;
# jaanet_scratch trains DISFA from random weights). DISFA's 8 AUs by default;
# for BP4D's 12:
#   --cfg-options "model.aus=(1,2,4,6,7,10,12,14,15,17,23,24)"
_base_ = [
    'auzoo::_base_/default_runtime.py',
    'auzoo::_base_/data/au_frames.py',
    'auzoo::_base_/schedules/paper.py',
]

# JAA-Net's input: 176 px crops (44 x 44 shared feature map, 5 x 5 trunk outputs).
# Any square size of at least 32 px builds the same network: the trunks pool
# to 5 x 5 and the attention maps follow the feature map (auzoo_jaanet/jaanet.py).
# Its faces: eye line level, the box of eye centres, nose tip and mouth corners
# enlarged 2.9 times warped to 200 px on grey; training takes a random 176 crop
# (offsets 0-24) and mirrors half (landmarks renumbered), testing the centre crop.
img_size = 176
train_pipeline = [
    dict(type='AlignEyeBox', size=200, enlarge=2.9, border=128),
    dict(type='RandomCrop', size=176),
    dict(type='RandomFlip', prob=0.5),
]
test_pipeline = [
    dict(type='AlignEyeBox', size=200, enlarge=2.9, border=128),
    dict(type='CenterCrop', size=176),
]

model = dict(
    type='JAANet',
    aus=(1, 2, 4, 6, 9, 12, 25, 26),
    region=dict(type='JAARegionLearning', widths=(32, 64)),
    unit_dim=8,
    trunk_grid=5,
    align_frame=176,      # the alignment head regresses points in a 176 px crop's pixels
    spatial_ratio=0.14,   # initial attention: a square 0.14 of the map wide ...
    fill_coeff=0.56,      # ... falling by 0.56 / (0.14 L) per cell of Manhattan distance
    local_reduce='mean',  # the PyTorch code averages the AUs' local features; Caffe sums them
)

# E_softmax + E_dice (class-weighted; weights from the training fold via bind)
# + 0.5 E_align + 2e-4 / 2 E_r (the other half of the "gradient enhancement"
# lambda_3 = 2 is the refinement nets' doubled learning rate below).
loss = dict(_delete_=True, type='JAANetLoss', au_weight=1.0, align_weight=0.5,
            refine_weight=1e-4, dice='batch')

# SGD with Nesterov momentum, lr 0.01 x 0.3 every 2 epochs, 12 epochs, batch 8.
optim_wrapper = dict(
    optimizer=dict(_delete_=True, type='SGD', lr=0.01, momentum=0.9, nesterov=True,
                   weight_decay=5e-4),
    paramwise_cfg=dict(custom_keys={'attention_refine': dict(lr_mult=2.0)}),
)
param_scheduler = [dict(type='StepLR', by_epoch=True, step_size=2, gamma=0.3)]
train_cfg = dict(max_epochs=12)
# An epoch of JAA-Net is one shuffled pass over the training frames (about
# 100,000 on two BP4D parts, 12,500 batches of 8; DISFA about 87,000); its
# loss weights the AUs, so the draws are not weighted too.
train_dataloader = dict(
    batch_size=8,
    sampler=dict(_delete_=True, type='ShuffledBatchSampler', iters_per_epoch=None))
custom_hooks = [dict(type='ResumableEarlyStopping', patience=12)]  # the recipe trains all 12 epochs

# Both of the authors' codes train and score in float32, and so does this
# recipe on a GPU: under bf16 autocast the attention maps are rounded (0.9231
# becomes 0.9219) and the refinement loss's target is read back from them
# (README of the plugin, 'Official recipe and auzoo').
precision = dict(train='fp32', eval='fp32')

# DISFA as the authors' released code trains it: from their BP4D model of
# parts 1+3 (auzoo's BP4D fold 2) at epoch 5. Region layers, alignment and
# global branches whole; each DISFA AU's refinement net and local trunk from
# one BP4D AU's (25 <- 23, 26 <- 17, the others their own); AU9 and the two
# final FCs fresh. Give the BP4D run with init_from.checkpoint=WORK_DIR (a run
# is refused without it, with the command that makes it), or its data with
# init_from.source_data=BP4D_CACHE to train it first. BP4D and other data
# train from scratch.
init_from = dict(
    datasets=('disfa',),
    source=dict(config='jaanet', dataset='bp4d', fold=2, epoch=5,
                cfg_options=dict(model=dict(aus=(1, 2, 4, 6, 7, 10, 12, 14, 15, 17, 23, 24)))),
    transfer=dict(type='JAANetAUTransfer',
                  au_map=((1, 1), (2, 2), (4, 4), (6, 6), (12, 12), (25, 23), (26, 17))),
    checkpoint=None,
    source_data=None,
    scratch='jaanet_scratch',
)
# A BP4D run keeps its epoch-5 weights (WORK_DIR/weights/epoch_5.pth) for DISFA.
keep_epochs = (5,)

# The synthetic demo (64 px, batches of 32, from random weights) keeps
# JAA-Net's own optimiser. The preset's AdamW at lr 1e-3 moves every one of
# the classifier's 12,000 weights per unit by about the learning rate in its
# first step, all over non-negative (ReLU) features: the logits jump to about
# -50 and the demo ends below always-present. It keeps the rate constant (the
# recipe's cut every 2 epochs comes after 25,000 steps on real data), draws
# the AU-weighted batches every other demo draws (in 80 shuffled batches the
# rare AUs are too few: F1 0 on AU1, AU6 and AU9, mean 25.9; over 8 shuffled
# epochs 58.3 and 29.3 on seeds 0 and 1), and trains 8 epochs of 20. Fold 1,
# jaanet_scratch: mean F1 75.7 (seed 0), 77.3 (seed 1), always-present 30.1.
# On the synthetic DISFA the recipe's BP4D run is a demo run too: jaanet on
# the synthetic BP4D (fold 2, the same schedule), trained first inside the
# cell, and its epoch 5 starts the DISFA model, as the recipe's does.
demo = {
    'optim_wrapper.optimizer': dict(_delete_=True, type='SGD', lr=0.01, momentum=0.9,
                                    nesterov=True, weight_decay=5e-4),
    'param_scheduler': [],
    'train_dataloader.sampler.type': 'AUWeightedBatchSampler',
    'train_cfg.max_epochs': 8,
    'custom_hooks': [dict(type='ResumableEarlyStopping', patience=8, begin=0)],
    'init_from.source_data': 'synthetic:bp4d',
}
