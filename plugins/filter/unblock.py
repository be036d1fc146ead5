# Copyright: m365ops.remediation contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Filters the unblock_email role decides with; the logic lives in module_utils/unblock.py."""

from __future__ import annotations

from ansible_collections.m365ops.remediation.plugins.module_utils import unblock


class FilterModule:
    """The unblock_email role's decisions: plan, fold module results in, report."""

    def filters(self):
        """Filter names to functions."""
        return {
            'unblock_plan': unblock.plan,
            'unblock_pending': unblock.pending,
            'unblock_apply': unblock.apply,
            'unblock_tenant_report': unblock.tenant_report,
            'unblock_run_summary': unblock.run_summary,
        }
