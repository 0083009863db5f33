"""A flag that is a config key is sugar for ``--cfg-options KEY=VALUE``: one
table (engine/settings.CONFIG_FLAGS) gives train, bench and show their flags,
and every command reaches the resolved config through it."""
import pytest

from auzoo.cli import _train_cfg_options, build_parser
from auzoo.engine.settings import CONFIG_FLAGS, OPTION_KEYS, flag_options, resolve_config

# A value per flag that differs from tranet's own config.
SAMPLE = {"max_epochs": "5", "iters_per_epoch": "7", "batch_size": "32", "img_size": "96",
          "select_on": "val", "compile": None, "allow_random_init": None}


def _argv(flag):
    value = SAMPLE[flag.dest]
    return [flag.flag] if value is None else [flag.flag, value]


def _get(cfg, dotted):
    for part in dotted.split("."):
        cfg = cfg.get(part) if cfg is not None else None
    return cfg


def test_the_table_covers_every_flag_it_names():
    assert set(SAMPLE) == set(OPTION_KEYS)  # a new flag needs a sample here
    assert len(set(OPTION_KEYS.values())) == len(OPTION_KEYS)  # one key each


@pytest.mark.parametrize("command", ["train", "bench"])
def test_every_flag_becomes_its_config_key(command):
    base = {"train": ["train", "tranet", "--data", "c", "--fold", "1"],
            "bench": ["bench", "tranet"]}[command]
    argv = base + [a for f in CONFIG_FLAGS if command in f.commands for a in _argv(f)]
    args = build_parser().parse_args(argv + ["--cfg-options", "custom_hooks.0.patience=3"])
    assert _train_cfg_options(args) == {
        "custom_hooks.0.patience": 3, "train_cfg.max_epochs": 5,
        "train_dataloader.sampler.iters_per_epoch": 7, "train_dataloader.batch_size": 32,
        "img_size": 96, "select_on": "val", "compile": True, "allow_random_init": True}


def test_without_a_flag_the_config_decides():
    args = build_parser().parse_args(["train", "tranet", "--data", "c", "--fold", "1"])
    assert _train_cfg_options(args) == {}


def test_a_flag_is_the_same_as_its_cfg_option():
    """Every flag's key is one the schema takes, and lands where the flag says."""
    for flag in CONFIG_FLAGS:
        value = True if SAMPLE[flag.dest] is None else SAMPLE[flag.dest]
        typed = flag.type(value) if flag.type else value
        by_flag = resolve_config("tranet", flag_options({flag.dest: typed}))
        by_key = resolve_config("tranet", {flag.key: typed})
        assert _get(by_flag, flag.key) == _get(by_key, flag.key) == typed, flag.dest
        assert _get(resolve_config("tranet"), flag.key) != typed, flag.dest  # it changed something


def test_a_flag_wins_over_the_same_key_in_cfg_options():
    args = build_parser().parse_args(["train", "tranet", "--data", "c", "--fold", "1",
                                      "--max-epochs", "5", "--cfg-options",
                                      "train_cfg.max_epochs=9"])
    assert _train_cfg_options(args) == {"train_cfg.max_epochs": 5}


def test_the_flags_change_the_resolved_config():
    args = build_parser().parse_args(["train", "tranet", "--data", "c", "--fold", "1",
                                      "--max-epochs", "5", "--iters-per-epoch", "7"])
    cfg = resolve_config("tranet", _train_cfg_options(args))
    assert cfg.train_cfg.max_epochs == 5 and cfg.train_dataloader.sampler.iters_per_epoch == 7
    assert cfg.train_dataloader.batch_size == 64  # the paper's, untouched


def test_bench_hands_its_flags_to_the_grid_as_config_keys(monkeypatch, tmp_path):
    import auzoo.bench.main as bench_main
    from auzoo.cli import main

    seen = {}
    monkeypatch.setattr(bench_main, "bench", lambda options: seen.setdefault("options", options))
    assert main(["bench", "tranet", "--img-size", "64", "--max-epochs", "1", "--folds", "1",
                 "--seeds", "0,1", "--out", str(tmp_path), "--cfg-options",
                 "custom_hooks.0.patience=2"]) == 0
    options = seen["options"]
    assert options.cfg_options == {"img_size": 64, "train_cfg.max_epochs": 1,
                                   "custom_hooks.0.patience": 2}
    assert (options.models, options.folds, options.seeds, options.out) == (
        ("tranet",), "1", "0,1", str(tmp_path))


def test_show_takes_its_flags_from_the_table():
    args = build_parser().parse_args(["show", "tranet", "--img-size", "96"])
    assert _train_cfg_options(args) == {"img_size": 96}
    with pytest.raises(SystemExit):  # show has no training flags
        build_parser().parse_args(["show", "tranet", "--max-epochs", "3"])


def test_unknown_flag_values_are_refused():
    with pytest.raises(TypeError, match="max_epoch"):
        flag_options({"max_epoch": 3})


@pytest.mark.parametrize("old,new", [("train.patience", "custom_hooks"),
                                     ("early_stopping.patience", "custom_hooks"),
                                     ("train.eval_batch_size", "val_dataloader.batch_size")])
def test_old_keys_are_refused_by_their_new_name(old, new):
    with pytest.raises(KeyError, match=new.replace(".", r"\.")):
        resolve_config("tranet", {old: 3})
