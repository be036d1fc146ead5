# Copyright: m365ops.remediation contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Filters of the unblock_email role for the record its runs keep: the run's folder, the index of runs, and
what earlier runs unblocked. The logic lives in plugin_utils/run_record.py."""

from __future__ import annotations

from ansible_collections.m365ops.remediation.plugins.plugin_utils import run_record


class FilterModule:
    """The unblock_email role's run record."""

    def filters(self):
        """Filter names to functions."""
        return {
            'unblock_run': run_record.new_run,
            'unblock_index_lines': run_record.index_lines,
            'unblock_earlier': run_record.earlier_unblocks,
            'unblock_namesakes': run_record.namesakes,
        }
