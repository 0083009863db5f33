"""Every `auzoo COMMAND --help` says what each option is, shows its default
and gives an example that the parser itself accepts."""
from __future__ import annotations

import argparse
import shlex

import pytest

from auzoo.cli import build_parser
from auzoo.cli.help import EXAMPLES


def _commands():
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return sub.choices


@pytest.mark.parametrize("name", sorted(_commands()))
def test_every_option_has_help_its_default_and_an_example(name):
    command = _commands()[name]
    text = command.format_help()
    for action in command._actions:
        if isinstance(action, argparse._HelpAction):
            continue
        assert action.help, f"auzoo {name}: {action.dest} has no help"
        if action.default not in (None, False, [], {}):
            rendered = command._get_formatter()._get_help_string(action)
            assert "default" in rendered.lower(), f"auzoo {name} {action.dest}: no default shown"
    assert "example:" in text and f"auzoo {name} " in text.split("example:")[1]


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_each_example_parses(name):
    parser = build_parser()
    for line in EXAMPLES[name]:
        argv = shlex.split(line.split("#")[0])[1:]
        args = parser.parse_args(argv)
        assert args.command == name


def test_no_help_suggests_a_key_that_is_refused():
    from auzoo.engine.settings import resolve_config

    text = " ".join(c.format_help() for c in _commands().values())
    assert "train.max_epochs" not in text
    resolve_config("tranet", {"train_cfg.max_epochs": 5, "early_stopping.patience": 3})
