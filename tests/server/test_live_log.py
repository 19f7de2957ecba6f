"""A failing server test reports what the shared live server logged while it ran (``live_log``)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def test_a_failed_test_shows_what_the_live_server_logged_while_it_ran_and_a_passing_one_shows_nothing(tmp_path: Path) -> None:
    (tmp_path / "conftest.py").write_text(f"""
import sys
sys.path[:0] = [{str(HERE)!r}, {str(HERE.parent)!r}]
from live_log import pytest_runtest_makereport, pytest_runtest_setup
from srv_support import RUNNING, LiveServer
RUNNING.append(LiveServer("http://127.0.0.1:1", "", None, None, ["started before the tests\\n"]))
""")
    (tmp_path / "test_inner.py").write_text("""
from srv_support import RUNNING

def test_passes():
    RUNNING[0].log.append("logged during a passing test\\n")

def test_fails():
    RUNNING[0].log.append("Traceback: the worker died\\n")
    assert False
""")
    done = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", str(tmp_path)],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "1 failed, 1 passed" in done.stdout
    assert "live server http://127.0.0.1:1: 1 line logged while the test ran" in done.stdout
    assert "Traceback: the worker died" in done.stdout
    assert "started before the tests" not in done.stdout
    assert "logged during a passing test" not in done.stdout
