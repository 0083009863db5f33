"""mmengine's Runner keys in an auzoo config act as mmengine documents them:
``visualizer`` (TensorBoard event files, an MLflow store), ``log_processor``,
``auto_scale_lr``, ``load_from`` (an auzoo ``best.pth`` and mmengine's own
``epoch_N.pth``) and a custom hook; a key that cannot work is refused by name."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch
from mmengine.hooks import Hook
from mmengine.registry import HOOKS

from auzoo.engine.records import RunSpec

SEEN: dict = {}


@HOOKS.register_module(force=True)
class CaptureRunHook(Hook):
    """Keeps what the run starts with (weights, log processor, learning rate)
    and a copy of its last mmengine checkpoint."""

    def __init__(self, key: str, keep: str = ""):
        self.key, self.keep = key, keep

    def before_train(self, runner) -> None:
        SEEN[self.key] = dict(
            weights={k: v.detach().clone() for k, v in runner.model.model.state_dict().items()},
            log_processor=runner.log_processor, lr=runner.optim_wrapper.get_lr()["lr"][0])

    def after_train(self, runner) -> None:
        if self.keep:
            last = max(Path(runner.work_dir).glob("epoch_*.pth"), key=lambda p: p.stat().st_mtime)
            shutil.copy(last, self.keep)


def _train(config, cache, work_dir, **options):
    from auzoo.engine.train import train

    options.setdefault("train_cfg.max_epochs", 2)
    return train(RunSpec(model=str(config), data=str(cache), fold=1, work_dir=str(work_dir),
                         device="cpu", cfg_options=options))


def _hooks(key: str, keep: str = "") -> list:
    return [dict(type="ResumableEarlyStopping", patience=10, begin=0),
            dict(type="CaptureRunHook", key=key, keep=keep)]


@pytest.fixture(scope="module")
def tracked(tiny_cache, tiny_config, tmp_path_factory):
    """One tiny run with TensorBoard and MLflow backends, a log processor,
    auto_scale_lr and a custom hook; it keeps its last epoch_N.pth."""
    pytest.importorskip("tensorboard")
    pytest.importorskip("mlflow")
    root = tmp_path_factory.mktemp("tracked")
    store = f"sqlite:///{root / 'mlflow.db'}"  # a local store in one file
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(root)  # MLflow keeps the run's artifacts in ./mlruns: here, not the caller's folder
        result = _train(tiny_config, tiny_cache, root / "run",
                        visualizer=dict(type="Visualizer", vis_backends=[
                            dict(type="TensorboardVisBackend"),
                            dict(type="MLflowVisBackend", tracking_uri=store, exp_name="tiny")]),
                        log_processor=dict(window_size=7, by_epoch=True),
                        auto_scale_lr=dict(enable=True, base_batch_size=4),
                        custom_hooks=_hooks("tracked", keep=str(root / "epoch.pth")),
                        **{"default_hooks.logger.interval": 1})  # the loss of every step
    return dict(root=root, store=store, result=result, seen=SEEN["tracked"])


def test_tensorboard_event_files_hold_a_val_score_per_epoch(tracked):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = sorted(tracked["root"].joinpath("run").rglob("events.out.tfevents*"))
    assert events, "no TensorBoard event file under the work dir"
    acc = EventAccumulator(str(events[0].parent))
    acc.Reload()
    tags = acc.Tags()["scalars"]
    f1 = [t for t in tags if t.endswith("f1_mean")]
    assert f1 and "loss" in tags, tags
    steps = [e.step for e in acc.Scalars(f1[0])]
    assert steps == [1, 2]  # one validation score an epoch
    training = tracked["result"].training  # the chosen epoch's score, as logged
    chosen = acc.Scalars(f1[0])[training.best_epoch - 1].value
    assert chosen == pytest.approx(training.selection_f1_mean, abs=1e-3)


def test_mlflow_store_holds_the_run_with_its_metrics(tracked):
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=tracked["store"])
    experiment = client.get_experiment_by_name("tiny")
    runs = client.search_runs([experiment.experiment_id])
    assert len(runs) == 1
    metrics = runs[0].data.metrics
    f1 = [k for k in metrics if k.endswith("f1_mean")]
    assert f1 and "loss" in metrics
    assert len(client.get_metric_history(runs[0].info.run_id, f1[0])) == 2


def test_log_processor_and_auto_scale_lr_reach_the_runner(tracked):
    processor = tracked["seen"]["log_processor"]
    assert processor.window_size == 7 and processor.by_epoch is True
    # the global batch of 8 over a base of 4: twice the config's lr of 0.05
    assert tracked["seen"]["lr"] == pytest.approx(0.1)


@pytest.mark.parametrize("kind", ["best.pth", "epoch.pth"])
def test_load_from_starts_the_run_from_the_checkpoint(tracked, tiny_cache, tiny_config, tmp_path,
                                                      kind):
    from auzoo.engine.checkpoint import mmengine_safe_globals

    source = tracked["root"] / ("run/best.pth" if kind == "best.pth" else "epoch.pth")
    with mmengine_safe_globals():
        state = torch.load(source, map_location="cpu", weights_only=True)["state_dict"]
    if kind == "epoch.pth":  # mmengine's: the wrapper's state, the model under 'model.'
        state = {k[len("model."):]: v for k, v in state.items() if k.startswith("model.")}
    _train(tiny_config, tiny_cache, tmp_path / "run", load_from=str(source),
           custom_hooks=_hooks(kind), **{"train_cfg.max_epochs": 1})
    start = SEEN[kind]["weights"]
    assert set(start) == set(state)
    for name, value in state.items():
        torch.testing.assert_close(start[name], value, rtol=0, atol=0, msg=name)


def test_a_key_that_cannot_work_is_refused_by_name(tiny_cache, tiny_config, tmp_path):
    with pytest.raises(ValueError, match="'data_preprocessor' cannot work.*normalisation lives "
                                         "in each backbone"):
        _train(tiny_config, tiny_cache, tmp_path / "run",
               data_preprocessor=dict(type="BaseDataPreprocessor"))


def test_the_old_early_stopping_key_names_custom_hooks(tmp_path):
    from auzoo.engine.settings import resolve_config

    path = tmp_path / "old.py"
    path.write_text("_base_ = ['auzoo::tranet']\nearly_stopping = dict(patience=3)\n")
    with pytest.raises(KeyError, match="custom_hooks = \\[dict\\(type='ResumableEarlyStopping'"):
        resolve_config(str(path))
