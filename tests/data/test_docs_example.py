"""The own-data example in docs/data.md runs as written."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _example() -> str:
    text = (REPO / "docs" / "data.md").read_text()
    block = re.search(r"<!-- example: own-data -->\s*```bash\n(.*?)```\s*<!-- end example -->",
                      text, re.S)
    assert block, "docs/data.md lost its own-data example"
    return block.group(1)


def test_own_data_example_runs(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, target in (("python", f'exec "{sys.executable}" "$@"'),
                         ("auzoo", f'exec "{sys.executable}" -c "import sys; from auzoo.cli import '
                                   f'main; sys.exit(main())" "$@"')):
        (bin_dir / name).write_text(f"#!/bin/sh\n{target}\n")
        (bin_dir / name).chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "PYTHONPATH": str(REPO),
           "COLUMNS": "120"}
    run = subprocess.run(["bash", "-euo", "pipefail", "-c", _example()], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "(6, 12, 25) (('SN002', 'SN003'), ('SN001',)) value >= 2" in run.stdout
    assert (tmp_path / "lab_cache" / "meta.json").is_file()
