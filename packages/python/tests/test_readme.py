"""The README's two-minute example, run as a user would: a fresh interpreter with
`NATS_URL` and `FILESERVER_URL` pointing at a real nats-server and file server."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from .conftest import ROOT

README = Path(__file__).resolve().parents[1] / "README.md"


def example() -> str:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)
    assert blocks, "README has a python example"
    return str(blocks[0])


def test_the_readme_example_runs(nats_url: str, fileserver: str) -> None:
    env = dict(os.environ, NATS_URL=nats_url, FILESERVER_URL=fileserver,
               PYTHONPATH=os.pathsep.join([str(README.parent), str(ROOT / "generated/python")]))
    out = subprocess.run([sys.executable, "-c", example()], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].startswith("sent ")
    assert lines[1:] == ["config dictionary direct {'step_size': 0.01, 'iterations': 100}",
                         "table arrowtable link 1000000 rows"]
