# FMAE with ViT-L/16 (303 M), the size of every published AU number.
#   --cfg-options model.backbone.weights=FMAE_ViT_large.pth
_base_ = ['./_recipe.py']

model = dict(backbone=dict(model_name='vit_large_patch16_224'))
