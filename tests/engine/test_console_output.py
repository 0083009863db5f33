"""Written to a file or a pipe, nothing auzoo prints is cut or wrapped: wide
tables whole, one line per epoch, and heartbeat lines while an epoch runs."""
from __future__ import annotations

import io
import subprocess

from engine_support import PYTHON, cli_env


def test_a_console_on_a_file_prints_wide_tables_whole():
    from rich.table import Table

    from auzoo.utils.console import make_console

    out = io.StringIO()
    console = make_console(file=out)
    assert not console.is_terminal
    table = Table(title="wide")
    names = [f"AU{i}_{'x' * 8}" for i in range(25)]
    for name in names:
        table.add_column(name)
    table.add_row(*(f"{i:.1f} ± 0.{i}" for i in range(25)))
    console.print(table)
    console.print("a long line " * 40)
    lines = out.getvalue().splitlines()
    assert all(name in lines[2] for name in names)           # the header row, whole
    assert "24.0 ± 0.24" in lines[4] and "…" not in out.getvalue()
    assert ("a long line " * 40).strip() in [line.strip() for line in lines]  # not wrapped


def test_list_models_in_a_pipe_keeps_every_path():
    proc = subprocess.run([PYTHON, "-m", "auzoo.cli", "list", "models"], capture_output=True,
                          text=True, env=cli_env(), timeout=120)
    assert proc.returncode == 0, proc.stderr
    from auzoo import registry

    registry.ensure_loaded()
    builtins = {n: p for n, p in registry.CONFIG_PROVIDERS.items() if p.name == registry.BUILTIN}
    assert builtins  # the subprocess loads no plugins
    for name, provider in builtins.items():
        assert any(name in line and provider.where in line for line in proc.stdout.splitlines())


def test_training_into_a_pipe_prints_a_heartbeat_and_one_line_per_epoch(
        tiny_cache, tiny_config, tmp_path, capsys, monkeypatch):
    from auzoo.cli import main
    from auzoo.engine.progress import ProgressHook

    monkeypatch.setattr(ProgressHook, "heartbeat_s", 0.0)  # every iteration, for the test
    label = "a-model-with-a-rather-long-name-" + "x" * 80  # longer than 80 columns: no wrap
    code = main(["train", str(tiny_config), "--data", str(tiny_cache), "--fold", "1",
                 "--work-dir", str(tmp_path / "run"), "--device", "cpu", "--max-epochs", "2",
                 "--cfg-options", f"name={label}"])
    out = capsys.readouterr().out
    assert code == 0
    lines = out.splitlines()
    assert f"{label} fold 1: training, at most 2 epochs of 3 iterations" in lines
    beats = [line for line in lines if ": iteration " in line]
    assert [b.split(": iteration ")[1].split(",")[0] for b in beats] == ["1/3", "2/3", "3/3"] * 2
    assert beats[0].startswith(f"{label} fold 1 · epoch 1/2: iteration 1/3")
    epochs = [line for line in lines if line.startswith(f"{label} fold 1 epoch ")]
    assert len(epochs) == 2 and all("F1 " in e and "acc " in e and "(best" in e for e in epochs)
