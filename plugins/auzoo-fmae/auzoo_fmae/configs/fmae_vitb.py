# FMAE with ViT-B/16 (86 M): the face-MAE pre-trained encoder fine-tuned with
# an AU head. Weights from the released checkpoint (a local file):
#   --cfg-options model.backbone.weights=FMAE_ViT_base.pth
_base_ = ['./_recipe.py']

model = dict(backbone=dict(model_name='vit_base_patch16_224'))

