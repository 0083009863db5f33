"""Command-line flags that become config keys reach train and bench."""
from auzoo.cli import build_parser
from auzoo.engine.train import cli_cfg_options


def test_compile_flag_becomes_train_compile():
    parser = build_parser()
    args = parser.parse_args(["train", "tranet", "--data", "c", "--fold", "1", "--compile",
                              "--cfg-options", "train.patience=3"])
    assert cli_cfg_options(args) == {"train.patience": 3, "train.compile": True}
    args = parser.parse_args(["bench", "tranet", "--compile"])
    assert cli_cfg_options(args) == {"train.compile": True}


def test_without_the_flag_the_config_decides():
    args = build_parser().parse_args(["bench", "tranet", "senet50"])
    assert "train.compile" not in cli_cfg_options(args)
