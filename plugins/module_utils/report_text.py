# Copyright: m365ops.remediation contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The readable summary of an unblock_email run, in Markdown or HTML, from the tenants' reports.

Written in Python rather than as a Jinja template: a run over thousands of users renders in milliseconds.
The words come from the role (``vars/main.yml``), one set per language.
"""

from __future__ import annotations

import html
import typing as t

TOTALS = (('tenants', None), ('users', 'users'), ('password', 'password_reset'), ('sessions', 'sessions_revoked'),
          ('unblock', 'unblocked'), ('already_remediated', 'already_remediated'), ('skipped', 'skipped'), ('failed', 'failed'))


# Steps whose message says what was found, worth showing when they did something (the rest speak for
# themselves when done: "password reset").
TELLING = ('sign_in', 'auth_methods', 'forwarding', 'inbox_rules', 'protocols')


def _notes(user: dict[str, t.Any], steps: list[str]) -> str:
    seen: list[str] = []
    for step in steps:
        entry = user['steps'].get(step) or {}
        status, msg = entry.get('status'), entry.get('msg')
        if msg and msg not in seen and (status in ('failed', 'skipped') or (status in ('done', 'would_do') and step in TELLING)):
            seen.append(msg)
    return '; '.join(seen)


def _sending(run: dict[str, t.Any], words: dict[str, t.Any]) -> str:
    if not run.get('sending_expected_by'):
        return words['nothing_unblocked']
    return words['sending_expected'].replace('{by}', run['sending_expected_by']).replace('{latest}', run['sending_expected_at_latest'])


def _rows(report: dict[str, t.Any], words: dict[str, t.Any]) -> tuple[list[str], list[list[str]], list[bool]]:
    """The header and the cells of a tenant's table, and which rows failed."""
    steps = report.get('steps') or []
    header = [words['user'], words['address'], words['restricted_at']] + [words['step_names'][s] for s in steps] + [words['outcome'], words['message']]
    rows, failed = [], []
    for user in report.get('users') or ():
        cells = [user.get('user_principal_name') or user.get('user') or '', user.get('address') or '', user.get('restricted_at') or '']
        cells += [words['status'][user['steps'][s]['status']] for s in steps]
        cells += [words['outcomes'][user['outcome']], _notes(user, steps)]
        rows.append(cells)
        failed.append(user['outcome'] == 'failed')
    return header, rows, failed


def _totals(run: dict[str, t.Any], words: dict[str, t.Any]) -> tuple[list[str], list[str]]:
    header = [words[key] for key, dummy in TOTALS]
    values = [str(run['tenants'])] + [str(run['totals'][count]) for key, count in TOTALS[1:]]
    return header, values


def markdown(reports: list[dict[str, t.Any]], run: dict[str, t.Any], words: dict[str, t.Any], generated_at: str) -> str:
    """The summary as Markdown."""
    def row(cells: t.Iterable[str]) -> str:
        return '| ' + ' | '.join(str(c).replace('|', '\\|').replace('\n', ' ') for c in cells) + ' |'

    out = ['# ' + words['title'], '']
    if run.get('check_mode'):
        out += ['> **%s**' % words['check_mode'], '']
    out += ['%s: %s' % (words['generated'], generated_at), '', '## ' + words['totals'], '']
    header, values = _totals(run, words)
    out += [row(header), row(['---'] * len(header)), row(values), '', _sending(run, words), '']
    for report in sorted(reports, key=lambda r: str(r.get('tenant'))):
        title = '## %s %s' % (words['tenant'], report.get('tenant'))
        out += [title + (' (`%s`)' % report['tenant_id'] if report.get('tenant_id') else ''), '']
        if report.get('error'):
            out += ['**%s:** %s' % (words['tenant_error'], str(report['error']).replace('|', '\\|')), '']
        header, rows, dummy = _rows(report, words)
        if not rows:
            out += [words['no_users'], '']
            continue
        out += [row(header), row(['---'] * len(header))] + [row(cells) for cells in rows] + ['']
    out += ['- ' + step for step in words['next_steps']]
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

    out = ['<!DOCTYPE html>', '<html lang="%s">' % e(language), '<head>', '<meta charset="utf-8">',
           '<title>%s</title>' % e(words['title']),
           '<style>body{font-family:system-ui,sans-serif;margin:2em;color:#222}table{border-collapse:collapse;margin:1em 0}'
           'th,td{border:1px solid #ccc;padding:.3em .6em;text-align:left;vertical-align:top}th{background:#f3f3f3}'
           '.failed{color:#a40000;font-weight:bold}.note{background:#fff6d6;padding:.5em 1em;border-left:4px solid #e0b000}</style>',
           '</head>', '<body>', '<h1>%s</h1>' % e(words['title'])]
    if run.get('check_mode'):
        out.append('<p class="note">%s</p>' % e(words['check_mode']))
    out += ['<p>%s: %s</p>' % (e(words['generated']), e(generated_at)), '<h2>%s</h2>' % e(words['totals'])]
    header, values = _totals(run, words)
    out += [table(header, [values]), '<p>%s</p>' % e(_sending(run, words))]
    for report in sorted(reports, key=lambda r: str(r.get('tenant'))):
        tenant_id = ' <code>%s</code>' % e(str(report['tenant_id'])) if report.get('tenant_id') else ''
        out.append('<h2>%s %s%s</h2>' % (e(words['tenant']), e(str(report.get('tenant'))), tenant_id))
        if report.get('error'):
            out.append('<p class="failed">%s: %s</p>' % (e(words['tenant_error']), e(str(report['error']))))
        header, rows, failed = _rows(report, words)
        out.append(table(header, rows, failed) if rows else '<p>%s</p>' % e(words['no_users']))
    out += ['<ul>'] + ['<li>%s</li>' % e(step) for step in words['next_steps']] + ['</ul>', '</body>', '</html>']
    return '\n'.join(out) + '\n'


def summary_lines(run: dict[str, t.Any]) -> list[str]:
    """The short end-of-run summary for the play output (English, like the rest of Ansible's output)."""
    totals = run['totals']
    first = '%s%d user(s) in %d tenant(s): %d password(s) reset, %d session(s) revoked, %d unblocked, %d already remediated, ' \
            '%d skipped, %d failed' % ('CHECK MODE, nothing was changed: ' if run.get('check_mode') else '', totals['users'], run['tenants'],
                                       totals['password_reset'], totals['sessions_revoked'], totals['unblocked'],
                                       totals['already_remediated'], totals['skipped'], totals['failed'])
    if run.get('tenants_failed'):
        first += ', %d tenant(s) failed' % run['tenants_failed']
    if run.get('sending_expected_by'):
        second = 'Sending expected back by %s (at the latest %s).' % (run['sending_expected_by'], run['sending_expected_at_latest'])
    else:
        second = 'No account was unblocked in this run.'
    return [first + '.', second]


def render(reports: list[dict[str, t.Any]], run: dict[str, t.Any], words: dict[str, t.Any], fmt: str = 'markdown',
           language: str = 'en', generated_at: str = '') -> str:
    """The summary in the asked format."""
    if fmt == 'html':
        return html_page(reports, run, words, generated_at, language)
    return markdown(reports, run, words, generated_at)
