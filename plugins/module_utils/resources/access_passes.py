# Copyright: m365ops.remediation contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Temporary Access Passes through Microsoft Graph: the tenant's policy, a user's passes, issuing one.

A Temporary Access Pass (TAP) is a time-limited passcode Entra ID makes: the user signs in with it and sets a
password of their own, so a generated password need never be handed to anyone. A user holds at most one; the
tenant's authentication methods policy turns TAPs on or off and bounds their lifetime. The policy is not read
first (its Graph route needs a permission of its own, ``Policy.Read.All``): Graph's refusal of the pass says it.
"""

from __future__ import annotations

import typing as t

from ansible_collections.m365ops.remediation.plugins.module_utils import remediation as rem
from ansible_collections.m365ops.remediation.plugins.module_utils.resources.users import user_path

POLICY_SETTING = 'Entra admin center > Protection > Authentication methods > Policies > Temporary Access Pass'
PERMISSION = 'UserAuthenticationMethod.ReadWrite.All'


def passes_path(user_id: str) -> str:
    """The Graph path of a user's Temporary Access Passes."""
    return user_path(user_id) + '/authentication/temporaryAccessPassMethods'


class AccessPasses:
    """The Temporary Access Passes of a tenant's users, through a :class:`GraphClient`."""

    def __init__(self, graph: t.Any) -> None:
        self.graph = graph

    def read(self, targets: t.Sequence[t.Any]) -> dict[str, t.Any]:
        """Each target's passes (Graph's records, never a pass: Graph returns the value only when it makes one), or
        the error that stopped the read."""
        found = self.graph.get_collections([passes_path(target.user['id']) for target in targets])
        return {target.ref: answer for target, answer in zip(targets, found)}

    @staticmethod
    def issue_request(user_id: str, lifetime_minutes: int | None, usable_once: bool) -> dict[str, t.Any]:
        """The ``POST`` that makes a pass; Graph answers 201 with the pass in ``temporaryAccessPass``. Not sent again
        after a timeout: a second pass would be refused, or replace one nobody was given."""
        body: dict[str, t.Any] = {'isUsableOnce': usable_once}
        if lifetime_minutes:
            body['lifetimeInMinutes'] = lifetime_minutes
        return dict(method='POST', url=passes_path(user_id), body=body)

    @staticmethod
    def removal_request(user_id: str, pass_id: str) -> dict[str, t.Any]:
        """The ``DELETE`` of a pass that could not be handed over (sent again after a timeout: deleting twice is once)."""
        return dict(method='DELETE', url='%s/%s' % (passes_path(user_id), pass_id), idempotent=True)


def refusal(error: t.Any) -> str:
    """Graph's refusal of a pass in words that say what to do: the policy (off, the user not in its targets, the
    lifetime outside its bounds) or the app's permission."""
    said = str(error)
    status = getattr(error, 'status', None)
    if status == 403 and 'policy' not in said.lower():
        return '%s (the app needs the Graph application permission %s)' % (said, PERMISSION)
    if status in (400, 403):
        return ('%s (check the tenant\'s Temporary Access Pass policy, %s: it must be on, include the user, and allow the '
                'lifetime asked for)' % (said, POLICY_SETTING))
    return said


def issued_since(passes: t.Sequence[dict[str, t.Any]], since: str | None) -> dict[str, t.Any] | None:
    """The newest pass made at or after ``since`` (every pass when ``since`` is None); None when there is none."""
    limit = rem.parse_datetime(since) if since else None
    found = [(rem.parse_datetime(p.get('createdDateTime')), p) for p in passes]
    found = [(when, p) for when, p in found if when is not None and (limit is None or when >= limit)]
    return max(found, key=lambda pair: pair[0])[1] if found else None
