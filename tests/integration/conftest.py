"""Integration tests import their runner helpers from this folder.

Every test that uses the emulator is also a conformance check: at its end, each Graph request and Exchange cmdlet call
in the emulator's journal since the test began is checked against Microsoft's published descriptions
(tests/conformance/README.md), and a violation fails the test. ``@pytest.mark.nonconforming`` opts a test out (for
tests that send wrong requests on purpose).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from conformance.guard import JournalGuard  # noqa: E402  pylint: disable=wrong-import-position


def pytest_configure(config):
    """Register the opt-out marker."""
    config.addinivalue_line("markers", "nonconforming: the test sends requests that do not conform on purpose; "
                                       "its emulator journal is not checked against the reference (tests/conformance)")


@pytest.fixture(autouse=True)
def conformance(request):
    """At the end of each test that used the emulator, check the requests it journaled; fail the test on a violation."""
    if "emulator" not in request.fixturenames or request.node.get_closest_marker("nonconforming"):
        yield
        return
    guard = JournalGuard(request.getfixturevalue("emulator")).start()
    try:
        yield guard
    finally:
        failure = guard.finish()
    if failure:
        pytest.fail(failure, pytrace=False)
