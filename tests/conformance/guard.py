"""The per-test conformance check of an emulator's journal (used by tests/integration/conftest.py)."""

from __future__ import annotations

from typing import Any

from .allowlist import ALLOWED
from .check import Checker, Finding, Reference, report

_SHARED: list[Checker] = []


def shared_checker() -> Checker:
    """One checker per test process, with the allow-list: its cache keeps the verdict on every request form seen."""
    if not _SHARED:
        _SHARED.append(Checker(Reference.load(), ALLOWED))
    return _SHARED[0]


class JournalGuard:
    """Checks every request an :class:`~m365emu.testing.EmulatorProcess` journals between :meth:`start` and :meth:`finish`.

    The journal is read from the emulator's last reset on (``since=0``): the ``emulator`` fixture resets it before each
    test. A test that resets the emulator again would drop the entries made before, so ``reset`` is wrapped while the
    guard runs, to check them first.
    """

    def __init__(self, emulator: Any, checker: Checker | None = None) -> None:
        self.emulator = emulator
        self.checker = checker or shared_checker()
        self.findings: list[Finding] = []
        self.entries = 0

    def _take(self) -> None:
        entries = self.emulator.journal(0)
        self.entries += len(entries)
        self.findings.extend(self.checker.check(entries))

    def start(self) -> "JournalGuard":
        """Begin: wrap the emulator's ``reset``."""
        original = self.emulator.reset

        def reset(*args: Any, **kwargs: Any) -> Any:
            if self.emulator.running:
                self._take()
            return original(*args, **kwargs)

        self.emulator.reset = reset
        return self

    def finish(self) -> str | None:
        """End: unwrap ``reset``, check what the journal holds, and answer the failure report (None when all conform)."""
        self.emulator.__dict__.pop("reset", None)
        if self.emulator.running:
            self._take()
        if any(f.allowed is None for f in self.findings):
            return report(self.findings)
        return None
