# Copyright: m365ops.remediation contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Runs the app_access_info module in Ansible's worker when the task targets the controller (plugin_utils/in_process.py)."""

from __future__ import annotations

from ansible_collections.m365ops.remediation.plugins.plugin_utils.in_process import InProcessAction


class ActionModule(InProcessAction):
    """See the app_access_info module's documentation."""
