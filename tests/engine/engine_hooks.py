"""Hooks the engine tests load into ``auzoo train`` subprocesses through a
config's ``custom_imports`` and ``train.custom_hooks``."""
import json
import time
from pathlib import Path

from mmengine.dist import get_rank
from mmengine.hooks import Hook
from mmengine.registry import HOOKS


@HOOKS.register_module(force=True)
class RecordBatchesHook(Hook):
    """Appends each training batch's dataset indices to OUT/rank{R}.jsonl."""

    def __init__(self, out: str):
        self.out = Path(out)

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        self.out.mkdir(parents=True, exist_ok=True)
        with open(self.out / f"rank{get_rank()}.jsonl", "a") as f:
            f.write(json.dumps(dict(epoch=runner.epoch, iter=runner.iter, batch=batch_idx,
                                    index=data_batch["index"].tolist())) + "\n")


@HOOKS.register_module(force=True)
class SlowEpochHook(Hook):
    """Sleeps before each epoch after the first, when the previous one has
    been scored and its checkpoint written (whatever the order of the hooks
    that do that), so a test can kill the run between epochs."""

    priority = "LOWEST"

    def __init__(self, seconds: float):
        self.seconds = seconds

    def before_train_epoch(self, runner):
        if runner.epoch > 0:
            time.sleep(self.seconds)
