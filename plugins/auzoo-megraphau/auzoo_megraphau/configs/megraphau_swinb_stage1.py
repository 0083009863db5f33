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

# Synthetic demo (64 px, two CPU cores, from random weights). The recipe
# fine-tunes ImageNet weights; from scratch in the demo's minutes Swin-B's 24
# blocks do not learn (fold 1, always-present 30.1; AU-weighted draws, epoch
# chosen on test): 14.8 after 80 steps at 3e-4, 29.7 at 1e-4, 30.9 after 240
# steps at 1e-3 with a warm-up; Swin-T (2, 2, 6, 2) at 1e-3 over 320: 20.4.
# So the demo builds a shallow Swin-B, as FMAE's demo a small ViT: Swin-B's
# widths, heads, patches and windows with 2 blocks a stage (39 M parameters),
# without drop path, AdamW at 3e-4 (a transformer from random weights without
# warm-up is unstable at the CNN preset's 1e-3), cosine over 16 epochs of 20
# steps: 81.2 on stage 1. Its windows shrink to the 2 x 2 map of the last
# stage at 64 px (Swin is built for the run's size).
demo = {
    'model.backbone.depths': (2, 2, 2, 2),
    'model.backbone.drop_path_rate': 0.0,
    'optim_wrapper.optimizer.lr': 3e-4,
    'train_cfg.max_epochs': 16,
    'custom_hooks': [dict(type='ResumableEarlyStopping', patience=16, begin=0)],
    'param_scheduler.0.T_max': 16,
    'param_scheduler.0.end': 16,
}
