# Copyright: m365ops.remediation contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Filters the unblock_email role decides with; the logic lives in module_utils/unblock.py."""

from __future__ import annotations

from ansible_collections.m365ops.remediation.plugins.module_utils import remediation, report_text, unblock


def summary(reports, words, fmt='markdown', language='en'):
    """The readable summary of the run (Markdown or HTML) from every tenant's report."""
    return report_text.render(reports, unblock.run_summary(reports), words, fmt, language, remediation.isoformat(remediation.utcnow()))


def summary_lines(reports):
    """The short end-of-run summary, a line of totals and one on when sending is expected back."""
    return report_text.summary_lines(unblock.run_summary(reports))


class FilterModule:
    """The unblock_email role's decisions: plan, fold module results in, report."""

    def filters(self):
        """Filter names to functions."""
        return {
            'unblock_plan': unblock.plan,
            'unblock_pending': unblock.pending,
            'unblock_apply': unblock.apply,
            'unblock_todo': unblock.todo,
            'unblock_fold': unblock.fold,
            'unblock_tenant_report': unblock.tenant_report,
            'unblock_run_summary': unblock.run_summary,
            'unblock_summary': summary,
            'unblock_summary_lines': summary_lines,
        }
