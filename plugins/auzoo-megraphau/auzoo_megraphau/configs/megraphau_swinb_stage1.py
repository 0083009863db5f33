# ME-GraphAU stage 1 (ANFL) with Swin-B (patch 4, window 7, 224 px): the
# tokens after Swin's final LayerNorm. The official code starts from the
# ImageNet-1k Swin-B: the Swin repository's swin_base_patch4_window7_224.pth
# ({'model': ...}, its own layout) or timm's tag
# swin_base_patch4_window7_224.ms_in1k (the same weights in timm's layout;
# not timm's default tag, which is fine-tuned from ImageNet-22k). Either
# file, local, gives the backbone and the final norm:
#   --cfg-options model.backbone.weights=swin_base_patch4_window7_224.pth
_base_ = ['./megraphau_r50_stage1.py']

model = dict(
    channels=512,  # 1024 / 2
    # img_size: Swin is built for the run's input size (its patch grid and
    # windows); auzoo writes the config's img_size here (--img-size reaches it).
    backbone=dict(_delete_=True, type='TimmBackbone', model_name='swin_base_patch4_window7_224',
                  weights=None, out_indices=(3,), drop_path_rate=0.5, img_size=224),
    token_norm=True,  # Swin's final norm, which timm's feature extractor leaves out
)
optim_wrapper = dict(optimizer=dict(lr=1e-4))  # README stage-1 commands

# Synthetic demo at the preset's 64 px (Swin is built for it: its windows shrink
# to the 2 x 2 map of the last stage), without drop-path (a regulariser that only
# slows 80 steps down), and with AdamW at 3e-4: a transformer from random
# weights without warm-up is unstable at the CNN preset's 1e-3. Its 80 steps
# draw AU-weighted batches, as TRA-Net's recipe does: shuffled draws show it
# too few rare-AU frames to learn them from random weights in that time
# (fold 1, seeds 0 and 1: 42.6 and 26.7 F1 shuffled, always-present 30.1).
demo = {
    'model.backbone.drop_path_rate': 0.0,
    'train_dataloader.sampler.type': 'AUWeightedBatchSampler',
    'optim_wrapper.optimizer.lr': 3e-4,
    'param_scheduler.0.T_max': 4,
    'param_scheduler.0.end': 4,
}
