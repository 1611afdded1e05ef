"""The faults drill (`make faults`): each test breaks one thing the site depends
on, checks what a donor, Stripe or staff would see, and says what happened in
plain words; the sayings are printed at the end of the run."""

import pytest

_REPORT: list[tuple[str, list[str]]] = []


@pytest.fixture
def drill(request):
    """drill("...") records a line of this fault's story for the end-of-run report."""
    lines: list[str] = []
    _REPORT.append((request.node.nodeid.split("::", 1)[-1], lines))
    return lines.append


def pytest_terminal_summary(terminalreporter):
    if not _REPORT:
        return
    terminalreporter.section("faults drill: what happened")
    for name, lines in _REPORT:
        terminalreporter.write_line(name)
        for line in lines:
            terminalreporter.write_line(f"    {line}")
