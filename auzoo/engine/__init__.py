"""Training (mmengine Runner), evaluation, metrics and checkpoints.

Submodules import torch and mmengine; import them directly::

    from auzoo.engine.train import train, evaluate
    from auzoo.engine.metrics import au_f1, au_scores
    from auzoo.engine.checkpoint import load_checkpoint, build_from_checkpoint
"""
