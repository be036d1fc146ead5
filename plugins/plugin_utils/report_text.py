# Copyright: m365ops.remediation contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The readable summary of an unblock_email run, in Markdown or HTML, from the tenants' reports (controller only).

Written in Python rather than as a Jinja template: a run over thousands of users renders in milliseconds.
The words come in one file per language (``unblock_words/<language>.yml`` beside this file), and each step's
own words from the step registry (``steps.py``); ``language_words`` puts them together.
"""

from __future__ import annotations

import copy
import functools
import html
import typing as t
from pathlib import Path

import yaml

from ansible_collections.m365ops.remediation.plugins.plugin_utils import steps as registry

WORDS_DIR = Path(__file__).resolve().parent / 'unblock_words'

# The totals' columns: the word, and the count of the run (tenants) or of its users; a step's count is headed
# by the top-level word of the step's name ("Password reset").
TOTALS = ((('tenants', 'tenants'), ('tenants_failed', 'tenants_failed'), ('users', 'users'))
          + tuple((step.name, step.counted) for step in registry.STEPS if step.counted)
          + (('already_remediated', 'already_remediated'), ('not_restricted', 'not_restricted'), ('skipped', 'skipped'),
             ('failed', 'failed')))

# Advice at the end of the summary, in this order, each shown only when it applies (see ``advice``).
ADVICE = ('check_mode', 'passwords', 'delete_passwords', 'check_mailboxes', 'failed')

# Steps whose message says what was found, worth showing when they did something (the rest speak for
# themselves when done: "password reset").
TELLING = tuple(step.name for step in registry.STEPS if step.telling)

# Steps that clean the mailbox: a user remediated without one of them gets the advice to check the mailbox.
MAILBOX_STEPS = tuple(step.name for step in registry.STEPS if step.cleans_mailbox)

# The most failed users named in the end-of-run lines; the rest are counted.
FAILED_LINES = 20

# Said in the end-of-run lines in check mode, where nothing was unblocked.
CHECK_SENDING = 'Nothing was unblocked (check mode); after a real run, sending usually resumes within an hour, at most 24 hours.'


@functools.lru_cache(maxsize=None)
def _language_file(language: str) -> dict[str, t.Any]:
    path = WORDS_DIR / ('%s.yml' % language)
    with open(path, encoding='utf-8') as handle:
        return yaml.safe_load(handle)


def language_words(language: str = 'en') -> dict[str, t.Any]:
    """The summary's words in ``language``: its file's, with each step's words from the registry (``step_names``,
    ``check.step_names`` and, for a step that looks for something to clear, ``none_found``)."""
    if language not in registry.LANGUAGES:
        raise ValueError('unknown language %r; known: %s' % (language, ', '.join(registry.LANGUAGES)))
    out = copy.deepcopy(_language_file(language))
    out['step_names'] = {step.name: step.words[language].name for step in registry.STEPS}
    out['none_found'] = {step.name: step.words[language].none_found for step in registry.STEPS if step.finding}
    out.setdefault('check', {})['step_names'] = {step.name: step.words[language].check for step in registry.STEPS}
    return out


def mode_words(words: dict[str, t.Any], check_mode: bool) -> dict[str, t.Any]:
    """The words for the run's mode: in check mode, the ``check`` variant over the plain words (one level deep)."""
    if not check_mode or not words.get('check'):
        return words
    out = dict(words)
    for key, value in words['check'].items():
        out[key] = dict(words.get(key) or {}, **value) if isinstance(value, dict) else value
    return out


def _notes(user: dict[str, t.Any], steps: list[str]) -> str:
    seen: list[str] = []
    for step in steps:
        entry = user['steps'].get(step) or {}
        status, msg = entry.get('status'), entry.get('msg')
        if msg and msg not in seen and (status in ('failed', 'skipped', 'already_done') or (status in ('done', 'would_do') and step in TELLING)):
            seen.append(msg)
    return '; '.join(seen)


def _status(words: dict[str, t.Any], step: str, status: str) -> str:
    """A step's status in words; for ``none_found``, what was not found by this step."""
    if status == 'none_found':
        return (words.get('none_found') or {}).get(step) or words['status'][status]
    return words['status'][status]


def _sending(run: dict[str, t.Any], words: dict[str, t.Any]) -> str:
    if run.get('check_mode') or not run.get('sending_expected_by'):
        return words['nothing_unblocked']
    return words['sending_expected'].replace('{by}', run['sending_expected_by']).replace('{latest}', run['sending_expected_at_latest'])


def _rows(report: dict[str, t.Any], words: dict[str, t.Any]) -> tuple[list[str], list[list[str]], list[bool]]:
    """The header and the cells of a tenant's table, and which rows failed."""
    steps = report.get('steps') or []
    header = [words['user'], words['address'], words['restricted_at']] + [words['step_names'][s] for s in steps] + [words['outcome'], words['message']]
    rows, failed = [], []
    for user in report.get('users') or ():
        cells = [user.get('user_principal_name') or user.get('user') or '', user.get('address') or '', user.get('restricted_at') or '']
        cells += [_status(words, s, user['steps'][s]['status']) for s in steps]
        cells += [words['outcomes'][user['outcome']], _notes(user, steps)]
        rows.append(cells)
        failed.append(user['outcome'] == 'failed')
    return header, rows, failed


def _totals(run: dict[str, t.Any], words: dict[str, t.Any]) -> tuple[list[str], list[str]]:
    header = [words[key] for key, dummy in TOTALS]
    values = [str(run.get(count, 0)) if count in ('tenants', 'tenants_failed') else str(run['totals'].get(count, 0)) for key, count in TOTALS]
    return header, values


def _empty(report: dict[str, t.Any], words: dict[str, t.Any]) -> str:
    """What a tenant's section says when it has no user (or, when the list was not read, before them)."""
    return words['list_not_read'] if report.get('list_read') is False else words['no_users']


def advice(reports: list[dict[str, t.Any]], run: dict[str, t.Any]) -> list[str]:
    """The keys of the advice that applies to this run, in the order of ``ADVICE``.

    ``passwords`` and ``delete_passwords``: a password was reset (not in check mode); ``check_mailboxes``:
    a user was (or would be) remediated without a step that cleans the mailbox (the forwarding or inbox rules
    step); ``failed``: a user or a
    tenant failed; ``check_mode``: this was a check.
    """
    keys = set()
    if run.get('check_mode'):
        keys.add('check_mode')
    if run['totals'].get('failed') or run.get('tenants_failed'):
        keys.add('failed')
    for report in reports:
        for user in report.get('users') or ():
            steps = user['steps']
            if not report.get('check_mode') and steps.get('password', {}).get('status') == 'done':
                keys.update(('passwords', 'delete_passwords'))
            if user['outcome'] in ('remediated', 'would_remediate') and any(name not in steps for name in MAILBOX_STEPS):
                keys.add('check_mailboxes')
            if {'passwords', 'check_mailboxes'} <= keys:
                break
    return [key for key in ADVICE if key in keys]


def markdown(reports: list[dict[str, t.Any]], run: dict[str, t.Any], words: dict[str, t.Any], generated_at: str) -> str:
    """The summary as Markdown."""
    def row(cells: t.Iterable[str]) -> str:
        return '| ' + ' | '.join(str(c).replace('|', '\\|').replace('\n', ' ') for c in cells) + ' |'

    words = mode_words(words, run.get('check_mode'))
    out = ['# ' + words['title'], '']
    if run.get('check_mode'):
        out += ['> **%s**' % words['check_mode'], '']
    out += ['%s: %s' % (words['generated'], generated_at), '']
    if run.get('note'):
        out += ['%s: %s' % (words.get('note', 'Note'), run['note']), '']
    out += ['## ' + words['totals'], '']
    header, values = _totals(run, words)
    out += [row(header), row(['---'] * len(header)), row(values), '', _sending(run, words), '']
    for report in sorted(reports, key=lambda r: str(r.get('tenant'))):
        title = '## %s %s' % (words['tenant'], report.get('tenant'))
        out += [title + (' (`%s`)' % report['tenant_id'] if report.get('tenant_id') else ''), '']
        if report.get('error'):
            out += ['**%s:** %s' % (words['tenant_error'], str(report['error']).replace('|', '\\|')), '']
        header, rows, dummy = _rows(report, words)
        if not rows or report.get('list_read') is False:
            out += [_empty(report, words), '']
        if rows:
            out += [row(header), row(['---'] * len(header))] + [row(cells) for cells in rows] + ['']
    steps = advice(reports, run)
    if steps:
        out += ['## ' + words['next_steps_title'], ''] + ['- ' + words['next_steps'][key] for key in steps]
    return '\n'.join(out) + '\n'


def html_page(reports: list[dict[str, t.Any]], run: dict[str, t.Any], words: dict[str, t.Any], generated_at: str, language: str) -> str:
    """The summary as one self-contained HTML page."""
    e = html.escape

    def table(header: list[str], rows: list[list[str]], failed: list[bool] | None = None) -> str:
        lines = ['<table>', '<tr>' + ''.join('<th>%s</th>' % e(h) for h in header) + '</tr>']
        for i, cells in enumerate(rows):
            css = ' class="failed"' if failed and failed[i] else ''
            lines.append('<tr%s>' % css + ''.join('<td>%s</td>' % e(str(c)) for c in cells) + '</tr>')
        return '\n'.join(lines + ['</table>'])

    words = mode_words(words, run.get('check_mode'))
    out = ['<!DOCTYPE html>', '<html lang="%s">' % e(language), '<head>', '<meta charset="utf-8">',
           '<title>%s</title>' % e(words['title']),
           '<style>body{font-family:system-ui,sans-serif;margin:2em;color:#222}table{border-collapse:collapse;margin:1em 0}'
           'th,td{border:1px solid #ccc;padding:.3em .6em;text-align:left;vertical-align:top}th{background:#f3f3f3}'
           '.failed{color:#a40000;font-weight:bold}.note{background:#fff6d6;padding:.5em 1em;border-left:4px solid #e0b000}</style>',
           '</head>', '<body>', '<h1>%s</h1>' % e(words['title'])]
    if run.get('check_mode'):
        out.append('<p class="note">%s</p>' % e(words['check_mode']))
    out += ['<p>%s: %s</p>' % (e(words['generated']), e(generated_at))]
    if run.get('note'):
        out += ['<p>%s: %s</p>' % (e(words.get('note', 'Note')), e(run['note']))]
    out += ['<h2>%s</h2>' % e(words['totals'])]
    header, values = _totals(run, words)
    out += [table(header, [values]), '<p>%s</p>' % e(_sending(run, words))]
    for report in sorted(reports, key=lambda r: str(r.get('tenant'))):
        tenant_id = ' <code>%s</code>' % e(str(report['tenant_id'])) if report.get('tenant_id') else ''
        out.append('<h2>%s %s%s</h2>' % (e(words['tenant']), e(str(report.get('tenant'))), tenant_id))
        if report.get('error'):
            out.append('<p class="failed">%s: %s</p>' % (e(words['tenant_error']), e(str(report['error']))))
        header, rows, failed = _rows(report, words)
        if not rows or report.get('list_read') is False:
            out.append('<p>%s</p>' % e(_empty(report, words)))
        if rows:
            out.append(table(header, rows, failed))
    steps = advice(reports, run)
    if steps:
        out += ['<h2>%s</h2>' % e(words['next_steps_title']), '<ul>'] + ['<li>%s</li>' % e(words['next_steps'][key]) for key in steps] + ['</ul>']
    out += ['</body>', '</html>']
    return '\n'.join(out) + '\n'


def _user_name(user: dict[str, t.Any]) -> str:
    return str(user.get('user') or user.get('user_principal_name') or user.get('address') or user.get('id') or '?')


def _reason(user: dict[str, t.Any], report: dict[str, t.Any]) -> str:
    """Why a user failed: the first failed step's message, else the tenant's error, else the unblock step's message."""
    for step in user['steps'].values():
        if step.get('status') == 'failed' and step.get('msg'):
            return str(step['msg'])
    return str(report.get('error') or user['steps'].get('unblock', {}).get('msg') or 'failed')


def _failed_users(reports: t.Iterable[dict[str, t.Any]], limit: int) -> list[str]:
    """One line per failed user, at most ``limit`` of them, then how many more there are."""
    lines, more = [], 0
    for report in reports:
        for user in report.get('users') or ():
            if user.get('outcome') != 'failed':
                continue
            if len(lines) < limit:
                lines.append('FAILED %s: %s - %s' % (report.get('tenant'), _user_name(user), _reason(user, report)))
            else:
                more += 1
    if more:
        lines.append('... and %d more failed user(s); see the reports' % more)
    return lines


def failed_lines(report: dict[str, t.Any], limit: int = FAILED_LINES) -> list[str]:
    """The failed users of one tenant, a line each (at most ``limit``, then how many more)."""
    return _failed_users([report], int(limit))


def summary_lines(run: dict[str, t.Any], reports: t.Iterable[dict[str, t.Any]] = (), limit: int = FAILED_LINES) -> list[str]:
    """The short end-of-run summary for the play output (English, like the rest of Ansible's output).

    The totals, when sending is expected back, then each failed tenant and each failed user (at most ``limit``).
    """
    totals = run['totals']
    counts = (totals['users'], run['tenants'])
    rest = (totals['already_remediated'], totals.get('not_restricted', 0), totals['skipped'], totals['failed'])
    if run.get('check_mode'):
        first = 'CHECK MODE, nothing was changed: %d user(s) in %d tenant(s): would reset %d password(s), would revoke %d session(s), ' \
                'would unblock %d' % (counts + (totals['password_reset'], totals['sessions_revoked'], totals['unblocked']))
    else:
        first = '%d user(s) in %d tenant(s): %d password(s) reset, %d session(s) revoked, %d unblocked' % (
            counts + (totals['password_reset'], totals['sessions_revoked'], totals['unblocked']))
    first += ', %d already remediated, %d not on the list, %d skipped, %d failed' % rest
    if run.get('tenants_failed'):
        first += ', %d tenant(s) failed' % run['tenants_failed']
    if run.get('check_mode'):
        second = CHECK_SENDING
    elif run.get('sending_expected_by'):
        second = 'Sending expected back by %s (at the latest %s).' % (run['sending_expected_by'], run['sending_expected_at_latest'])
    else:
        second = 'No account was unblocked in this run.'
    reports = sorted(reports, key=lambda r: str(r.get('tenant')))
    tenants = ['FAILED tenant %s: %s' % (r.get('tenant'), r['error']) for r in reports if r.get('error')]
    return [first + '.', second] + handed_over_lines(reports) + tenants + _failed_users(reports, int(limit))


def handed_over_lines(reports: t.Iterable[dict[str, t.Any]]) -> list[str]:
    """Where this run's new credentials went, a line per place (never a credential): the admin's next step."""
    places: dict[tuple[str, str], dict[str, int]] = {}
    for report in reports:
        for user in report.get('users') or ():
            record = user.get('credential')
            if not isinstance(record, dict) or record.get('status') not in ('set', 'unknown'):
                continue
            where = {'key_vault': 'Key Vault %s' % record.get('vault'), 'file': 'file %s' % record.get('path')}.get(
                str(record.get('target')), "the task's result")
            kinds = places.setdefault((where, str(record.get('target'))), {})
            kinds[record.get('kind') or 'password'] = kinds.get(record.get('kind') or 'password', 0) + 1
        done = sum(1 for user in report.get('users') or () if (user.get('steps') or {}).get('password', {}).get('status') == 'done')
        if report.get('password_file') and done:
            kinds = places.setdefault(('file %s' % report['password_file'], 'file'), {})
            kinds['credential'] = kinds.get('credential', 0) + done
    lines = []
    for (where, target), kinds in sorted(places.items()):
        labels = {'temporary_access_pass': 'Temporary Access Pass(es)', 'credential': 'credential(s)'}
        what = ' and '.join('%d %s' % (count, labels.get(kind, 'password(s)')) for kind, count in sorted(kinds.items()))
        hint = ' (a secret per user, tagged with the user and the run)' if target == 'key_vault' else ''
        lines.append('New credentials: %s in %s%s; hand them to the users by phone or in person, never by e-mail.' % (what, where, hint))
    return lines


def render(reports: list[dict[str, t.Any]], run: dict[str, t.Any], words: dict[str, t.Any], fmt: str = 'markdown',
           language: str = 'en', generated_at: str = '') -> str:
    """The summary in the asked format."""
    if fmt == 'html':
        return html_page(reports, run, words, generated_at, language)
    return markdown(reports, run, words, generated_at)


# At most this many failed users and credentials are named per tenant in the job's artifacts (AWX keeps them
# with the job and hands them to the next node of a workflow; they are not the report).
STATS_LIMIT = 200


def job_stats(report: dict[str, t.Any], report_file: str | None = None, limit: int = STATS_LIMIT) -> dict[str, t.Any]:
    """One tenant's outcome for the job's artifacts (``set_stats``): its counts, each user that failed with why, and
    where each user's new credential went (the target and the secret's name or the file, never the credential)."""
    failed, credentials = [], {}
    for user in report.get('users') or ():
        name = _user_name(user)
        if user.get('outcome') == 'failed' and len(failed) < limit:
            failed.append({'user': name, 'reason': _reason(user, report)})
        record = user.get('credential')
        if isinstance(record, dict) and len(credentials) < limit:
            credentials[name] = {key: record[key] for key in ('target', 'kind', 'status', 'vault', 'secret', 'version', 'path')
                                 if record.get(key) is not None}
    counts = report.get('counts') or {}
    return {
        'tenant_id': report.get('tenant_id'),
        'check_mode': bool(report.get('check_mode')),
        'error': report.get('error'),
        'failed': bool(report.get('failed')),
        'counts': {key: counts[key] for key in ('users', 'password_reset', 'sessions_revoked', 'unblocked', 'already_remediated',
                                                'not_restricted', 'skipped', 'failed') if key in counts},
        'failed_users': failed,
        'failed_users_not_named': max(0, counts.get('failed', 0) - len(failed)),
        'credentials': credentials,
        'password_file': report.get('password_file'),
        'report': report_file,
        'run': (report.get('run') or {}).get('id') if isinstance(report.get('run'), dict) else None,
    }
