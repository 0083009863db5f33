# The DISFA protocol every model is trained and scored under (auzoo.data.protocol):
# 8 AUs (1, 2, 4, 6, 9, 12, 25, 26), positive = intensity >= 2, the three
# subject-exclusive folds of JAA-Net/ARL/ME-GraphAU.
data = dict(
    protocol='disfa',
    bad_frames='drop',  # 'drop': JAA-Net's policy; 'keep': ME-GraphAU's
    hflip=True,         # random horizontal flip while training
)
img_size = 224
