"""CI runs exactly what the README tells a newcomer to run, and then the long tests the default run leaves out."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_ci_runs_the_readmes_test_command_and_then_the_slow_tests():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```bash\n(.*?)```", readme, flags=re.S)
    test_command = next(b.strip() for b in blocks if "pytest" in b and "pip install" in b)
    ci_lines = [ln.strip() for ln in (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()]
    assert "set -euo pipefail" in ci_lines  # pytest's exit 5 (nothing collected) fails CI
    at = ci_lines.index(test_command)
    assert ci_lines[at + 1] == "python3 -m pytest -m slow"
    addopts = re.search(r"^addopts = (.*)$", (ROOT / "pyproject.toml").read_text(encoding="utf-8"), flags=re.M)
    assert addopts and "not slow" in addopts.group(1)  # the README's command leaves the slow tests out
