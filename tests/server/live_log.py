"""A failed server test shows what the running live servers logged while it ran.

Several tests share one ``promptloop serve`` process.  When one of them fails because a page or a
job timed out, the cause (an exception in a worker, a refused request) is in that server's output,
which pytest does not capture; these hooks add the lines logged during the test to its report.
The server tests' conftest imports them.
"""

from __future__ import annotations

from collections.abc import Generator, Sequence

import pytest
from srv_support import RUNNING, LiveServer

__all__ = ["log_sections", "pytest_runtest_makereport", "pytest_runtest_setup"]

TAIL = 80
_MARKS = pytest.StashKey[dict[int, int]]()


def log_sections(marks: dict[int, int], servers: Sequence[LiveServer], tail: int = TAIL) -> list[tuple[str, str]]:
    """The last ``tail`` lines each server logged since ``marks`` (server id → lines it had logged
    when the test began; a server started since then: everything)."""
    sections = []
    for server in servers:
        lines = server.log[marks.get(id(server), 0):]
        shown = lines[-tail:]
        title = f"live server {server.base}: {len(lines)} line{'' if len(lines) == 1 else 's'} logged while the test ran"
        sections.append((title + (f", the last {len(shown)}" if len(shown) < len(lines) else ""),
                         "".join(shown) or "(nothing)\n"))
    return sections


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    item.stash[_MARKS] = {id(server): len(server.log) for server in RUNNING}


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if report.failed and RUNNING:
        report.sections.extend(log_sections(item.stash.get(_MARKS, {}), list(RUNNING)))
    return report
