"""Training and scoring on mmengine: settings, runner, the training module,
losses, metrics, hooks, the one inference path, run records, checkpoints.

Submodules import torch and mmengine; import them directly::

    from auzoo.engine.records import RunSpec, RunResult
    from auzoo.engine.train import train
    from auzoo.engine.evaluate import evaluate_checkpoint
    from auzoo.engine.inference import Inference
"""
