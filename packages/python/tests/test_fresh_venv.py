"""`pip install` of the generated types and this package into a fresh venv (from PyPI for the
dependencies), then the README example run there. Slow and needs the package registry, so it
is deselected by default: `pytest -m fresh_venv`."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import ROOT

PACKAGE = Path(__file__).resolve().parents[1]


@pytest.mark.fresh_venv
def test_pip_install_into_a_fresh_venv_and_run_the_readme(nats_url: str, fileserver: str, tmp_path: Path) -> None:
    # Copies, so that the build leaves nothing behind in the repository.
    types_src = shutil.copytree(ROOT / "generated/python", tmp_path / "types", ignore=shutil.ignore_patterns(".mypy_cache"))
    pkg_src = shutil.copytree(PACKAGE, tmp_path / "pkg",
                              ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__", ".*_cache"))
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    py = str(venv / "bin/python")
    subprocess.run([py, "-m", "pip", "install", "-q", str(types_src), str(pkg_src)], check=True, timeout=600)
    example = re.findall(r"```python\n(.*?)```", (PACKAGE / "README.md").read_text(), re.S)[0]
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(NATS_URL=nats_url, FILESERVER_URL=fileserver)
    out = subprocess.run([py, "-c", example], env=env, capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines()[-1] == "table arrowtable link 1000000 rows"
    where = subprocess.run([py, "-c", "import natsbridge; print(natsbridge.__file__)"], env=env, capture_output=True,
                           text=True, cwd=tmp_path, check=True)
    assert str(venv) in where.stdout
