"""`pip install` of the generated types and this package into a fresh venv (from PyPI for the
dependencies), then the README example run there and the installed `python -m natsbridge`
exchanging envelopes with the Rust `natsbridge` CLI both ways. Slow and needs the package
registry, so plain `pytest` deselects it; `cargo xtask test` runs it (`pytest -m fresh_venv`)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import ROOT, natsbridge_bin

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

    # The installed CLI against the Rust one, both ways: equal digest lines.
    (tmp_path / "blob.bin").write_bytes(bytes(range(256)) * 2400)  # 600 KB: by link
    payload_args = ["--payload", "hello:text:hi there", "--payload", 'cfg:dictionary:{"a":[1,2]}',
                    "--payload", f"blob:binary:@{tmp_path / 'blob.bin'}"]
    for sender, receiver in (([py, "-m", "natsbridge"], [natsbridge_bin()]), ([natsbridge_bin()], [py, "-m", "natsbridge"])):
        subject = f"venv.{len(sender)}"
        recv = subprocess.Popen(receiver + ["receive", "--server", nats_url, "--subject", subject, "--count", "1",
                                            "--timeout", "60", "--allow-host", fileserver],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=tmp_path)
        assert recv.stderr is not None
        assert "subscribed" in recv.stderr.readline().decode()
        sent = subprocess.run(sender + ["send", "--server", nats_url, "--subject", subject, "--fileserver", fileserver,
                                        *payload_args], env=env, capture_output=True, text=True, timeout=120, cwd=tmp_path)
        assert sent.returncode == 0, sent.stderr
        got, err = recv.communicate(timeout=120)
        assert recv.returncode == 0, err
        assert got.decode().strip() == sent.stdout.strip().splitlines()[-1]
        assert json.loads(got)["payloads"][2]["transport"] == "link"
