# Copyright: m365ops.remediation contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Filters the unblock_email role decides with; the logic lives in plugin_utils/unblock.py, the steps in
plugin_utils/steps.py (the step registry) and the summary's words in plugin_utils/unblock_words.

Every filter that takes a plan or a tenant's report takes it as data or as its JSON text, and
``unblock_plan``, ``unblock_apply``, ``unblock_fold`` and ``unblock_tenant_report`` give JSON text back
with ``as_json=true``. The role keeps its plan and reports as JSON text: Ansible's templating reads every
value of a structured variable, one by one, each time a filter is given it (a plan of 1,000 users holds
some 25,000), where a text is one value and ``json`` parses it at C speed.
"""

from __future__ import annotations

import functools
import json

from ansible_collections.m365ops.remediation.plugins.module_utils import remediation
from ansible_collections.m365ops.remediation.plugins.plugin_utils import steps, unblock


def _data(value):
    """A plan or report given as JSON text, parsed; data as it is."""
    return json.loads(value) if isinstance(value, str) else value


def _text(value):
    """The JSON text of a plan or report, as written to the report files; in its own order, which for the
    steps is the order they run in.

    One line per user (and per top-level key of a report), each line encoded by ``json``'s C encoder: readable
    and easy to grep, where ``indent`` would take ``json``'s pure-Python encoder (most of the time a
    1,000-user plan spends in the role's filters)."""
    if isinstance(value, list):
        return _lines(value, '') + '\n'
    if isinstance(value, dict) and value:
        fields = ['  %s: %s' % (json.dumps(key), _lines(item, '  ') if isinstance(item, list) else json.dumps(item))
                  for key, item in value.items()]
        return '{\n' + ',\n'.join(fields) + '\n}\n'
    return json.dumps(value) + '\n'


def _lines(items, indent):
    """A list, one item per line under ``indent``."""
    if not items:
        return '[]'
    return '[\n' + ',\n'.join(indent + '  ' + json.dumps(item) for item in items) + '\n' + indent + ']'


def _plan_filter(function, takes_plan=True):
    """The role's filter for ``function``: the plan (its first argument) as data or JSON text, JSON out on request."""
    @functools.wraps(function)
    def wrapper(first, *args, as_json=False, **kwargs):
        result = function(_data(first) if takes_plan else first, *args, **kwargs)
        return _text(result) if as_json else result
    return wrapper


def _report_text():
    """plugin_utils/report_text.py, imported when a summary is first made: each task runs in a worker process of its
    own, which imports what this file imports, and most of those only plan and fold."""
    from ansible_collections.m365ops.remediation.plugins.plugin_utils import report_text
    return report_text


def summary(reports, fmt='markdown', language='en', words=None):
    """The readable summary of the run (Markdown or HTML) from every tenant's report, in ``language`` (or in the
    ``words`` given)."""
    reports = [_data(r) for r in reports]
    report_text = _report_text()
    words = words or report_text.language_words(language)
    return report_text.render(reports, unblock.run_summary(reports), words, fmt, language, remediation.isoformat(remediation.utcnow()))


def step_registry(settings=None):
    """Every step of the role, in the order it runs, with whether the role variables in ``settings`` turn it on."""
    return steps.as_data(settings)


def summary_lines(reports):
    """The short end-of-run summary: a line of totals, one on when sending is expected back, then a line per
    failed tenant and per failed user (at most 20, then how many more)."""
    reports = [_data(r) for r in reports]
    return _report_text().summary_lines(unblock.run_summary(reports), reports)


def failed_lines(report, limit=None):
    """A line per failed user of one tenant's report (at most ``limit``, 20 by default, then how many more)."""
    report_text = _report_text()
    return report_text.failed_lines(_data(report), report_text.FAILED_LINES if limit is None else limit)


def handover(hosts):
    """Every new credential the password step of these hosts returned (``return_passwords``), as
    ``{tenant, user, kind, value}`` in the hosts' order: for the tasks file of ``unblock_email_password_delivery=tasks``."""
    found = []
    for host in hosts:
        result = host.get('_unblock_email_password') or {}
        for key, kind in (('passwords', 'password'), ('temporary_access_passes', 'temporary_access_pass')):
            for user, value in sorted((result.get(key) or {}).items()):
                found.append({'tenant': host.get('inventory_hostname'), 'user': user, 'kind': kind, 'value': value})
    return found


def job_stats(reports, report_dir=None):
    """Each tenant's outcome for the job's artifacts, by tenant: counts, failed users with why, where each credential
    went; the tenant's report is ``<report_dir>/<tenant>.json``. Each report is read once and let go before the next
    (a report of a thousand users is megabytes)."""
    report_text = _report_text()
    found = {}
    for report in reports if isinstance(reports, (list, tuple)) else [reports]:
        data = _data(report)
        found[data.get('tenant')] = report_text.job_stats(data, '%s/%s.json' % (report_dir, data.get('tenant')) if report_dir else None)
    return found


def run_summary(reports):
    """Totals over every tenant's report."""
    return unblock.run_summary([_data(r) for r in reports])


class FilterModule:
    """The unblock_email role's decisions: plan, fold module results in, report."""

    def filters(self):
        """Filter names to functions."""
        return {
            'unblock_steps': step_registry,
            'unblock_plan': _plan_filter(unblock.plan, takes_plan=False),
            'unblock_pending': _plan_filter(unblock.pending),
            'unblock_apply': _plan_filter(unblock.apply),
            'unblock_todo': _plan_filter(unblock.todo),
            'unblock_fold': _plan_filter(unblock.fold),
            'unblock_tenant_report': _plan_filter(unblock.tenant_report),
            'unblock_run_summary': run_summary,
            'unblock_summary': summary,
            'unblock_summary_lines': summary_lines,
            'unblock_failed_lines': failed_lines,
            'unblock_job_stats': job_stats,
            'unblock_handover': handover,
        }
