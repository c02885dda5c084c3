"""ruff is part of the test command: a lint error fails the suite like a failing test."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO_ROOT


def test_ruff_clean():
    ruff = shutil.which("ruff", path=str(Path(sys.executable).parent)) or shutil.which("ruff")
    if ruff is None:
        pytest.fail("ruff is not installed; it is in the dev dependency group (uv run installs it)")
    result = subprocess.run(
        [ruff, "check", "raysynth", "jobs", "tests", "bench"], cwd=REPO_ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
