# DRML (Zhao, Chu & Zhang, CVPR 2016) under auzoo's DISFA protocol and schedule.
# The data and train sections come from a built-in config; the model is DRML's own.
_base_ = ['auzoo::resnet50']

published = 'DRML'  # the published row this model is set beside

# The paper's input: 170×170 faces, so that conv1 leaves 160×160 and each of the
# region layer's 8×8 patches is 20×20.
img_size = 170

model = dict(
    _delete_=True,
    type='DRML',
    aus=None,  # None: the dataset's AUs (without data: DISFA's 1, 2, 4, 6, 9, 12, 25, 26)
    grid=(8, 8),
    pooled_size=16,
    dropout=0.5,
)
# DRML has no backbone to freeze: nothing of the built-in demo entry applies.
demo = dict(_delete_=True)
