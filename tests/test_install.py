"""What a fresh install gets: one OpenCV distribution, and a README whose
install blocks bring what it names."""
from __future__ import annotations

import re
import tomllib
from importlib.metadata import requires
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _dependencies():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return {re.split(r"[=<>!~ ]", d)[0].lower(): d for d in project["dependencies"]}


def test_one_opencv_distribution_the_one_mmengine_requires():
    deps = _dependencies()
    opencv = [name for name in deps if name.startswith("opencv")]
    mmengine_needs = {re.split(r"[=<>!~ ;]", r)[0].lower() for r in requires("mmengine") or ()}
    assert opencv == ["opencv-python"] and "opencv-python" in mmengine_needs
    for plugin in (ROOT / "plugins").glob("*/pyproject.toml"):
        assert "opencv-python-headless" not in plugin.read_text(), plugin


def test_readme_install_blocks():
    text = (ROOT / "README.md").read_text()
    fresh = text.split("## On a fresh machine")[1].split("\n## ")[0]
    blocks = re.findall(r"```bash\n(.*?)```", fresh, re.S)
    assert sum(b.count("python3 -m venv .venv") for b in blocks) <= 2  # the GPU line, or the CPU one
    assert "python3 -m venv" not in blocks[-1] and "scripts/test.sh" in blocks[-1]  # same venv
    assert any("--index-url https://download.pytorch.org/whl/cpu" in b for b in blocks)
    torch_pin = _dependencies()["torch"].split("==")[1]
    assert f"torch=={torch_pin}" in fresh
    # every plugin model the README names is installable by its blocks
    installed = " ".join(blocks)
    for folder in re.findall(r"plugin `(plugins/auzoo-[a-z-]+)`", text):
        assert f"-e {folder}" in installed, folder
    for folder in sorted((ROOT / "plugins").glob("auzoo-*")):
        assert f"-e plugins/{folder.name}" in installed
