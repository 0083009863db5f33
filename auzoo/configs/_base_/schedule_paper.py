# TRA-Net's training schedule (paper, section 4.1).
train = dict(
    optimizer=dict(type='SGD', lr=0.001, momentum=0.9, weight_decay=0.001),
    batch_size=64,        # drawn by AU-weighted random sampling
    iters_per_epoch=100,  # "1 epoch contained 100 batches"
    max_epochs=200,
    patience=10,          # stop after 10 epochs without a better mean F1
    select_on='test',     # the paper picks its epoch on the test fold; 'val' holds out subjects
)
