# JAA-Net from random weights on every dataset: the `jaanet` recipe without
# its DISFA start from a BP4D run (on BP4D the two are the same run). Results
# say so: result.json's provenance.extra.init.
_base_ = ['./jaanet.py']

init_from = None

# jaanet's demo entry without the synthetic BP4D run.
demo = {
    '_delete_': True,
    'optim_wrapper.optimizer': dict(_delete_=True, type='SGD', lr=0.01, momentum=0.9,
                                    nesterov=True, weight_decay=5e-4),
    'param_scheduler': [],
    'train_dataloader.sampler.type': 'AUWeightedBatchSampler',
    'train_cfg.max_epochs': 8,
    'custom_hooks': [dict(type='ResumableEarlyStopping', patience=8, begin=0)],
}
