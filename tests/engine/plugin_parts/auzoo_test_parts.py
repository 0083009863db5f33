"""A loss, a metric and a hook as a plugin would register them; the core
tests name them in a config and check that each one is used."""
import json
from pathlib import Path

from mmengine.evaluator import BaseMetric
from mmengine.hooks import Hook

from auzoo.engine.losses import AUBCELoss
from auzoo.registry import HOOKS, LOSSES, METRICS


@LOSSES.register_module(force=True)
class CountingLoss(AUBCELoss):
    """AUBCELoss that counts its calls and what bind() saw."""

    calls = 0
    bound_labels = None

    def bind(self, model, train_labels=None):
        super().bind(model, train_labels)
        type(self).bound_labels = train_labels

    def forward(self, outputs, labels, mask, batch=None):
        type(self).calls += 1
        return {"loss_bce": super().forward(outputs, labels, mask, batch),
                "loss_zero": outputs["logits"].sum() * 0.0}


@METRICS.register_module(force=True)
class FramesSeenMetric(BaseMetric):
    """Counts the frames validation scored."""

    default_prefix = "probe"

    def process(self, data_batch, data_samples):
        for out in data_samples:
            self.results.append(len(out["index"]))

    def compute_metrics(self, results):
        return {"frames_seen": float(sum(results))}


@HOOKS.register_module(force=True)
class RecordLrHook(Hook):
    """Writes every iteration's learning rate and the optimizer's class."""

    def __init__(self, out: str):
        self.out = Path(out)

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        optimizer = runner.optim_wrapper.optimizer
        with open(self.out, "a") as f:
            f.write(json.dumps(dict(iter=runner.iter, lr=optimizer.param_groups[0]["lr"],
                                    optimizer=type(optimizer).__name__,
                                    wrapper=type(runner.optim_wrapper).__name__,
                                    max_norm=(runner.optim_wrapper.clip_grad_kwargs or {}).get("max_norm")))
                    + "\n")
