# ME-GraphAU stage 1 (ANFL) with ResNet-50: backbone, shared reduction, AFG,
# the facial graph generator (k-NN graph, one GCN layer) and the cosine
# classifier, trained with the weighted asymmetric loss. The official code
# starts from torchvision's ImageNet-1k ResNet-50 (resnet50-19c8e357.pth, in
# its checkpoints.txt; timm's tag resnet50.tv_in1k holds torchvision's same V1
# weights), from a local file, never downloaded:
#   --cfg-options model.backbone.weights=resnet50-19c8e357.pth
# BP4D: model.aus=(1, 2, 4, 6, 7, 10, 12, 14, 15, 17, 23, 24) and
# model.graph.neighbor_num=4 (README of the plugin).
_base_ = ['./_recipe.py']

model = dict(
    type='MEGraphAU',
    aus=(1, 2, 4, 6, 9, 12, 25, 26),
    channels=512,  # node/edge width: 2048 / 4
    backbone=dict(type='TimmBackbone', model_name='resnet50', weights=None,
                  out_indices=(4,)),  # layer4: 2048 x 7 x 7 -> 49 tokens, no pooling
    graph=dict(type='FacialGraphGenerator', neighbor_num=3),  # K: 3 for DISFA, 4 for BP4D
)

loss = dict(type='WeightedAsymmetricLoss', eps=1e-8, _delete_=True)  # class weights: bind()
optim_wrapper = dict(optimizer=dict(lr=1e-4))  # README stage-1 commands

# Synthetic demo: the preset's AdamW at 1e-3 suits a BatchNorm CNN from random
# weights (the recipe's 1e-4 is for fine-tuning ImageNet weights and would barely
# move them in 80 steps); only the cosine is fitted to the demo's 4 epochs, so
# the per-iteration schedule runs its full course as in the 20-epoch recipe.
demo = {'param_scheduler.0.T_max': 4, 'param_scheduler.0.end': 4}
