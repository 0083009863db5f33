"""Command-line flags that become config keys reach train (and bench)."""
import pytest

from auzoo.cli import _train_cfg_options, build_parser


def test_flags_become_their_config_keys():
    args = build_parser().parse_args(
        ["train", "tranet", "--data", "c", "--fold", "1", "--compile", "--max-epochs", "5",
         "--batch-size", "32", "--iters-per-epoch", "7", "--select-on", "val",
         "--cfg-options", "custom_hooks.0.patience=3"])
    assert _train_cfg_options(args) == {
        "custom_hooks.0.patience": 3, "compile": True, "train_cfg.max_epochs": 5,
        "train_dataloader.batch_size": 32, "train_dataloader.sampler.iters_per_epoch": 7,
        "select_on": "val"}


def test_without_a_flag_the_config_decides():
    args = build_parser().parse_args(["train", "tranet", "--data", "c", "--fold", "1"])
    assert _train_cfg_options(args) == {}


def test_the_flags_change_the_resolved_config():
    from auzoo.engine.settings import resolve_config

    args = build_parser().parse_args(["train", "tranet", "--data", "c", "--fold", "1",
                                      "--max-epochs", "5", "--iters-per-epoch", "7"])
    cfg = resolve_config("tranet", _train_cfg_options(args))
    assert cfg.train_cfg.max_epochs == 5 and cfg.train_dataloader.sampler.iters_per_epoch == 7
    assert cfg.train_dataloader.batch_size == 64  # the paper's, untouched


@pytest.mark.parametrize("old,new", [("train.patience", "custom_hooks"), ("early_stopping.patience", "custom_hooks"),
                                     ("train.eval_batch_size", "val_dataloader.batch_size")])
def test_old_keys_are_refused_by_their_new_name(old, new):
    from auzoo.engine.settings import resolve_config

    with pytest.raises(KeyError, match=new.replace(".", r"\.")):
        resolve_config("tranet", {old: 3})
