# Copyright: m365ops.remediation contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Files holding secrets or reports: mode 0600, written atomically, never through a link."""

from __future__ import annotations

import fcntl
import json
import os
import stat
import tempfile
import typing as t

from ansible_collections.m365ops.remediation.plugins.module_utils.errors import M365Error


def _refuse(path: str, why: str) -> M365Error:
    return M365Error("refusing to write '%s': %s" % (path, why), service='file', code='unsafe_file')


def check_target(path: str) -> None:
    """Raise unless ``path`` can safely hold a secret: its folder exists and is writable, and it is absent
    or a regular file of ours, not a link, that nobody else can read."""
    folder = os.path.dirname(os.path.abspath(path)) or '.'
    if not os.path.isdir(folder):
        raise _refuse(path, 'the folder %s does not exist' % folder)
    if not os.access(folder, os.W_OK | os.X_OK):
        raise _refuse(path, 'the folder %s is not writable' % folder)
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return
    if stat.S_ISLNK(info.st_mode):
        raise _refuse(path, 'it is a symbolic link')
    if not stat.S_ISREG(info.st_mode):
        raise _refuse(path, 'it is not a regular file')
    if info.st_uid != os.geteuid():
        raise _refuse(path, 'it belongs to another user')
    if info.st_mode & 0o077:
        raise _refuse(path, 'others can read it (mode %o); remove it or chmod 600 it' % stat.S_IMODE(info.st_mode))


def read_json(path: str, decrypt: t.Callable[[str], str] | None = None) -> t.Any:
    """The JSON document at ``path`` (None when absent), opened without following a link; its text is first given to
    ``decrypt`` when one is (a file kept encrypted)."""
    check_target(path)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, 'O_NOFOLLOW', 0))
    except FileNotFoundError:
        return None
    with os.fdopen(fd, 'r', encoding='utf-8') as handle:
        text = handle.read()
    if decrypt is not None and text.strip():
        text = decrypt(text)
    try:
        return json.loads(text) if text.strip() else None
    except ValueError as exc:
        raise _refuse(path, 'it is not JSON (%s)' % exc.__class__.__name__) from None


def write_text(path: str, text: str) -> None:
    """Replace ``path`` atomically with ``text``, mode 0600: a new file beside it, then a rename."""
    check_target(path)
    folder = os.path.dirname(os.path.abspath(path)) or '.'
    fd, tmp = tempfile.mkstemp(prefix='.%s.' % os.path.basename(path), dir=folder)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, 'w', encoding='utf-8') as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def write_json(path: str, document: t.Any, encrypt: t.Callable[[str], str] | None = None) -> None:
    """Replace ``path`` atomically with a JSON document, mode 0600; given to ``encrypt`` first when one is."""
    text = json.dumps(document, indent=2, sort_keys=True) + '\n'
    write_text(path, encrypt(text) if encrypt is not None else text)


def make_private_folder(path: str) -> bool:
    """Create ``path`` and each missing folder above it with mode 0700; True when this call created ``path``.

    An existing folder is left as it is, but a link in its place is refused. (``os.makedirs`` would give the
    folders above the last one the default mode, readable by everyone.)
    """
    if os.path.islink(path):
        raise _refuse(path, 'it is a symbolic link')
    if os.path.isdir(path):
        return False
    missing = []
    current = os.path.abspath(path)
    while not os.path.isdir(current):
        missing.append(current)
        parent = os.path.dirname(current)
        if parent == current:
            break
        current = parent
    created = False
    for folder in reversed(missing):
        try:
            os.mkdir(folder, 0o700)
        except FileExistsError:
            # Made meanwhile by another task of the run (each tenant writes its report into the same folder
            # at once): what is there now is checked as any existing folder is.
            if os.path.islink(folder):
                raise _refuse(folder, 'it is a symbolic link') from None
            if os.path.isdir(folder):
                created = False
                continue
            raise
        os.chmod(folder, 0o700)
        created = True
    return created


def append_text(path: str, text: str) -> None:
    """Append ``text`` to ``path`` (created with mode 0600 when missing), never through a link, in one write
    under an exclusive lock, so that lines appended by several tenants at once never mix."""
    check_target(path)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, 'O_NOFOLLOW', 0), 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        data = text.encode('utf-8')
        while data:
            data = data[os.write(fd, data):]
        os.fsync(fd)
    finally:
        os.close(fd)


def write_report(path: str, content: t.Any, append: bool = False) -> None:
    """Write a report: its folder made private when missing, the file itself 0600 and atomic.

    A string is written as it is (a readable summary); anything else as JSON. With ``append``, the content is
    added at the end of the file instead (anything but a string as one line of JSON).
    """
    make_private_folder(os.path.dirname(os.path.abspath(path)))
    if append:
        append_text(path, content if isinstance(content, str) else json.dumps(content, sort_keys=True) + '\n')
    elif isinstance(content, str):
        write_text(path, content)
    else:
        write_json(path, content)
