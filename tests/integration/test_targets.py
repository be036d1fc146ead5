"""Every integration target, run with ansible-playbook against the emulator."""

from __future__ import annotations

import pytest

from runner import TARGETS, run_target

TARGET_NAMES = sorted(p.name for p in TARGETS.iterdir() if p.is_dir() and not p.name.startswith('setup_'))


@pytest.mark.parametrize('target', TARGET_NAMES)
def test_target(target, emulator, tmp_path):
    done = run_target(target, emulator, tmp_path)
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-3000:]
