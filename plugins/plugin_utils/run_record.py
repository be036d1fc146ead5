# Copyright: m365ops.remediation contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The durable record of unblock_email runs (no I/O here, controller only; the role writes with report_file).

Every run writes into a folder of its own under the report folder, named by the UTC time it started and a
short random id, ``20261202T161500Z-3f9a1c``, with ``-check`` appended for a check-mode run, so that no run
overwrites another's files. Each tenant of a run appends one line to ``index.jsonl`` in the report folder:
when, which mode, the counts, the folder, and the addresses it unblocked. A later run reads the index to
tell an account this collection remediated earlier ("already remediated") from one that was never
restricted ("not on the Restricted Users list").
"""

from __future__ import annotations

import datetime
import json
import secrets
import typing as t


def new_run(check_mode: bool, now: datetime.datetime | None = None, run_id: str | None = None,
            note: str | None = None) -> dict[str, t.Any]:
    """A new run: its id, when it started (UTC, ISO 8601), its mode, its folder's name and the admin's note
    for the audit trail (only when there is one)."""
    now = (now or datetime.datetime.now(datetime.timezone.utc)).astimezone(datetime.timezone.utc).replace(microsecond=0)
    run_id = run_id or secrets.token_hex(3)
    check_mode = bool(check_mode)
    folder = '%s-%s%s' % (now.strftime('%Y%m%dT%H%M%SZ'), run_id, '-check' if check_mode else '')
    run = {'id': run_id, 'started_at': now.strftime('%Y-%m-%dT%H:%M:%SZ'), 'check_mode': check_mode, 'folder': folder}
    note = ' '.join(str(note or '').split())
    if note:
        run['note'] = note
    return run


def _data(value: t.Any) -> t.Any:
    return json.loads(value) if isinstance(value, str) else value


def index_line(report: t.Any, run: dict[str, t.Any]) -> str:
    """The index's line for one tenant of a run (JSON, ending in a newline)."""
    report = _data(report)
    unblocked = [] if run.get('check_mode') else sorted(
        str(u['address']).lower() for u in report.get('users') or () if u.get('address') and u['steps'].get('unblock', {}).get('status') == 'done')
    line = {
        'time': run['started_at'],
        'run_id': run['id'],
        'mode': 'check' if run.get('check_mode') else 'apply',
        'tenant': report.get('tenant'),
        'tenant_id': report.get('tenant_id'),
        'folder': run['folder'],
        'failed': bool(report.get('failed')),
        'error': report.get('error'),
        'counts': {k: v for k, v in (report.get('counts') or {}).items() if not isinstance(v, dict)},
        'unblocked': unblocked,
    }
    if run.get('note'):
        line['note'] = run['note']
    return json.dumps(line, sort_keys=False, separators=(', ', ': ')) + '\n'


def index_lines(reports: t.Iterable[t.Any], run: dict[str, t.Any]) -> str:
    """The index's lines for every tenant of a run, appended at once."""
    return ''.join(index_line(report, run) for report in reports)


def earlier_unblocks(index_text: str | None, tenant_id: str | None) -> dict[str, str]:
    """Every address an earlier run (not in check mode) unblocked in the tenant ``tenant_id`` -> the time
    of the latest such run. Lines that cannot be read are passed over: the index is a record, not state."""
    found: dict[str, str] = {}
    if not index_text or not tenant_id:
        return found
    tenant_id = str(tenant_id).lower()
    for raw in str(index_text).splitlines():
        try:
            line = json.loads(raw)
        except ValueError:
            continue
        if not isinstance(line, dict) or str(line.get('tenant_id') or '').lower() != tenant_id or line.get('mode') != 'apply':
            continue
        for address in line.get('unblocked') or ():
            when = str(line.get('time') or '')
            address = str(address).lower()
            if when >= found.get(address, ''):
                found[address] = when
    return found


def namesakes(tenant_ids: dict[str, t.Any], host: str) -> list[str]:
    """The hosts (sorted) that name the same tenant as ``host``, ``host`` included, given each host's tenant
    GUID (hosts whose tenant is unknown are left out)."""
    mine = str(tenant_ids.get(host) or '').lower()
    if not mine:
        return []
    return sorted(name for name, tenant_id in tenant_ids.items() if str(tenant_id or '').lower() == mine)
