"""Test-wide set-up: make the collection importable and offer the emulator as a fixture."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
COLLECTIONS = ROOT / ".tmp" / "collections"
_link = COLLECTIONS / "ansible_collections" / "m365ops" / "remediation"
if not _link.exists():
    _link.parent.mkdir(parents=True, exist_ok=True)
    os.symlink(ROOT, _link)
for entry in (str(COLLECTIONS), str(ROOT / "tests" / "emulator")):
    if entry not in sys.path:
        sys.path.insert(0, entry)


@pytest.fixture(scope="session")
def emulator_session(tmp_path_factory):
    """One emulator process for the test session, started with the standard test seed."""
    from m365emu.seeds import test_seed
    from m365emu.testing import EmulatorProcess

    proc = EmulatorProcess(test_seed(), workdir=tmp_path_factory.mktemp("emulator"))
    proc.start()
    try:
        yield proc
    finally:
        proc.stop()


@pytest.fixture
def emulator(emulator_session):
    """The session emulator, reset to the standard seed (state, journal and faults) before each test."""
    emulator_session.reset()
    return emulator_session
