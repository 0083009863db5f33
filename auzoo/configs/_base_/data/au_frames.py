# Frames from a prepared cache (auzoo prepare …). The dataset, its AUs, folds
# and label rule come from the cache itself (its meta names the registered
# dataset); these keys choose among the dataset's documented options.
data = dict(
    bad_frames='drop',  # DISFA: 'drop' = JAA-Net's policy; 'keep' = ME-GraphAU's
    threshold=None,     # positive = intensity >= threshold; None: the dataset's own (DISFA: 2)
)
# How a face becomes the model's input (auzoo.data.transforms), from the cache's
# loose crop; a resize to img_size ends both. TRA-Net's recipe: the paper's
# alignment (nose at the centre, midline vertical, chin at 0.9 of the height),
# mirrored at random while training (landmarks renumbered with the image).
img_size = 224
train_pipeline = [
    dict(type='AlignMidline', size=224),
    dict(type='RandomFlip', prob=0.5),
]
test_pipeline = [
    dict(type='AlignMidline', size=224),
]
train_dataloader = dict(
    batch_size=64,      # the global batch; under DDP each of W ranks loads 64 / W
    num_workers=None,   # None: 0 on a CPU, up to 8 per GPU
    sampler=dict(type='AUWeightedBatchSampler', iters_per_epoch=100),
)
val_dataloader = dict(batch_size=256, num_workers=None)
