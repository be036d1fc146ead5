"""Offline stand-in for the get-pip.py bootstrap script that ansible-test downloads.

ansible-test creates a fresh virtual environment per sanity test and runs its cached get-pip script in
it. The download host is not reachable from every build machine, so scripts/setup.sh places this file
in ansible-test's cache instead: it installs pip from the interpreter's own ensurepip, then asks that pip
(which reads the configured package index) for the exact packages ansible-test requested.
"""

from __future__ import annotations

import subprocess
import sys

DROPPED = {"--no-setuptools", "--no-wheel"}


def main() -> int:
    """Bootstrap pip, then install what ansible-test asked for."""
    subprocess.run([sys.executable, "-m", "ensurepip", "--default-pip"], check=True, stdout=subprocess.DEVNULL)
    args = [arg for arg in sys.argv[1:] if arg not in DROPPED]
    return subprocess.run([sys.executable, "-m", "pip", "install"] + args, check=False).returncode


if __name__ == "__main__":
    sys.exit(main())
