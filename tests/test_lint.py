"""ruff is part of the test command: a lint error or an unformatted file fails the suite like a failing test."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO_ROOT

PATHS = ["raysynth", "jobs", "tests", "bench"]


def _ruff() -> str:
    ruff = shutil.which("ruff", path=str(Path(sys.executable).parent)) or shutil.which("ruff")
    if ruff is None:
        pytest.fail("ruff is not installed; it is in the dev dependency group (uv run installs it)")
    return ruff


def test_ruff_clean():
    result = subprocess.run([_ruff(), "check", *PATHS], cwd=REPO_ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_format_clean():
    result = subprocess.run(
        [_ruff(), "format", "--check", *PATHS], cwd=REPO_ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, "run `uv run ruff format`:\n" + result.stdout + result.stderr
