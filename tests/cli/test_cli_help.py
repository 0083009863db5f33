"""Every `auzoo COMMAND --help` says what each option is, shows its default
and gives an example that the parser itself accepts."""
from __future__ import annotations

import argparse
import re
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


KEY = re.compile(r"[a-z_][a-z0-9_]*(\.[a-z0-9_]+)*")


def _option_keys(text):
    """The KEY of every KEY=VALUE that follows a --cfg-options in ``text``
    (commands continued with a backslash are one line)."""
    keys = []
    for line in text.replace("\\\n", " ").splitlines():
        if "--cfg-options" not in line:
            continue
        rest = line.split("--cfg-options", 1)[1].split("`")[0]
        for token in rest.split():
            key = token.strip("\"'").split("=", 1)[0]
            if "=" not in token or not KEY.fullmatch(key):
                break
            keys.append(key)
    return keys


def test_no_help_suggests_a_key_that_is_refused():
    """Every KEY=VALUE an option's help or an example shows is a key the
    schema takes (resolved for TRA-Net, the examples' model)."""
    from auzoo.engine.settings import resolve_config

    keys = set(_option_keys("\n".join(line for lines in EXAMPLES.values() for line in lines)))
    for command in _commands().values():
        for action in (a for a in command._actions if a.dest == "cfg_options"):
            keys |= {m.group(0) for m in re.finditer(KEY.pattern + r"(?==\S)", action.help or "")}
    assert {"train_cfg.max_epochs", "custom_hooks.0.patience", "model.backbone.weights"} <= keys
    values = {"model.backbone.weights": "w.pth", "model.neck.steps": 1}
    resolve_config("tranet", {k: values.get(k, 3) for k in keys})


def test_no_doc_example_uses_a_key_of_the_first_schema():
    from pathlib import Path

    from auzoo.engine.settings import _renamed

    root = Path(__file__).resolve().parents[2]
    files = [root / "README.md", *sorted((root / "docs").glob("*.md")),
             *sorted(root.glob("plugins/*/README.md"))]
    found = {str(f.relative_to(root)): _option_keys(f.read_text()) for f in files}
    assert sum(map(len, found.values())) > 20  # the examples were read
    old = {f: [k for k in keys if _renamed(k)] for f, keys in found.items()}
    assert not any(old.values()), old
