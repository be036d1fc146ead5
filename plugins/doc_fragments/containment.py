# Copyright: m365ops.remediation contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Shared documentation of the inbox rule modules: how a rule is judged suspicious."""

from __future__ import annotations


class ModuleDocFragment:
    """Options written once for inbox_rule and inbox_rule_info."""

    DOCUMENTATION = r"""
options:
  rarely_used_folders:
    description:
      - Display names of folders that a rule moving mail there makes suspicious. Attackers hide replies,
        bounces and complaints in folders their victim never opens.
      - Names are compared without regard to case; mailboxes in other languages have other names.
    type: list
    elements: str
    default: [RSS Feeds, RSS Subscriptions, Conversation History, Archive, Deleted Items, Junk Email]
  internal_forwarding_suspicious:
    description:
      - When V(false), a rule that forwards or redirects only to addresses in the user's own domains is not
        suspicious for that reason.
    type: bool
    default: true
  resolve_folders:
    description:
      - Look up the display name of each folder a rule moves mail to (needs C(Mail.ReadBasic.All)). When
        V(false), or when a folder cannot be read, moves are not judged.
    type: bool
    default: true"""
