# Copyright: m365ops.remediation contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Users' authentication methods through Microsoft Graph: listing them, choosing which to remove, removing them.

The per-type routes, the removal order and the reading of Graph's refusals live here only.
"""

from __future__ import annotations

import typing as t
from urllib.parse import quote

from ansible_collections.m365ops.remediation.plugins.module_utils import remediation as rem
from ansible_collections.m365ops.remediation.plugins.module_utils.errors import M365Error
from ansible_collections.m365ops.remediation.plugins.module_utils.resources.users import user_path

# Graph's per-type routes for deleting an authentication method, by @odata.type.
METHOD_SEGMENTS = {
    'phoneAuthenticationMethod': 'phoneMethods',
    'emailAuthenticationMethod': 'emailMethods',
    'fido2AuthenticationMethod': 'fido2Methods',
    'microsoftAuthenticatorAuthenticationMethod': 'microsoftAuthenticatorMethods',
    'softwareOathAuthenticationMethod': 'softwareOathMethods',
    'temporaryAccessPassAuthenticationMethod': 'temporaryAccessPassMethods',
    'windowsHelloForBusinessAuthenticationMethod': 'windowsHelloForBusinessMethods',
    'passwordAuthenticationMethod': 'passwordMethods',
}
# Short type names as the modules take and return them.
METHOD_TYPES = {
    'phoneAuthenticationMethod': 'phone',
    'emailAuthenticationMethod': 'email',
    'fido2AuthenticationMethod': 'fido2',
    'microsoftAuthenticatorAuthenticationMethod': 'microsoft_authenticator',
    'softwareOathAuthenticationMethod': 'software_oath',
    'temporaryAccessPassAuthenticationMethod': 'temporary_access_pass',
    'windowsHelloForBusinessAuthenticationMethod': 'windows_hello_for_business',
    'passwordAuthenticationMethod': 'password',
}
REMOVABLE_METHOD_TYPES = tuple(sorted(v for v in METHOD_TYPES.values() if v != 'password'))

# Graph's 400 answer to deleting a user's default MFA method while other methods remain ("Cannot delete default method
# with other methods configured. Please change default method before deletion."). Known from a public report of the
# answer, not from Microsoft's reference, and without its code: it is recognised by these words alone.
DEFAULT_METHOD_WORDS = 'default method'


def methods_path(user_id: str) -> str:
    """The Graph path of a user's authentication methods."""
    return user_path(user_id) + '/authentication/methods'


class AuthMethods:
    """The authentication methods of a tenant's users, through a :class:`GraphClient`."""

    def __init__(self, graph: t.Any) -> None:
        self.graph = graph

    def read(self, targets: t.Sequence[t.Any]) -> dict[str, t.Any]:
        """Each target's methods in the result shape (:func:`method_record`), or the error."""
        listed = self.graph.get_collections([methods_path(target.user.get('id')) for target in targets])
        return {target.ref: methods if isinstance(methods, M365Error) else [method_record(raw) for raw in methods]
                for target, methods in zip(targets, listed)}

    @staticmethod
    def removal_requests(user_id: str, chosen: t.Sequence[dict[str, t.Any]]) -> list[dict[str, t.Any]]:
        """The ``DELETE`` of each chosen method on its type's route, in :func:`removal_rounds`; each request's ``item``
        is the record and its ``round`` the round it belongs to."""
        return [dict(method='DELETE', url='%s/authentication/%s/%s' % (user_path(user_id), r['segment'], quote(str(r['id']), safe='')),
                     item=r, round=n)
                for n, batch in enumerate(removal_rounds(chosen)) for r in batch]


def method_record(raw: dict[str, t.Any]) -> dict[str, t.Any]:
    """A Graph authentication method in the result shape (type, id, created time, a readable detail)."""
    odata = str(raw.get('@odata.type') or '').rsplit('.', 1)[-1]
    clean = rem.strip_annotations(raw)
    detail = clean.get('displayName') or clean.get('phoneNumber') or clean.get('emailAddress') or clean.get('model') or None
    return {
        'id': clean.get('id'),
        'type': METHOD_TYPES.get(odata, odata or 'unknown'),
        'odata_type': raw.get('@odata.type'),
        'created': rem.isoformat(rem.parse_datetime(clean.get('createdDateTime'))),
        'detail': detail,
        'segment': METHOD_SEGMENTS.get(odata),
    }


def method_selection(record: dict[str, t.Any], registered_after: t.Any, ids: t.Sequence[str],
                     types: t.Sequence[str], keep: t.Sequence[str]) -> tuple[bool, str]:
    """Whether to remove one method, and why (or why not).

    ``keep`` and the password method are never removed; a method of a type outside ``types`` neither.
    A method listed in ``ids`` is removed; otherwise one created at or after ``registered_after``. A
    method without a creation time (phone, email, software OATH in Graph v1.0) is never removed by time.
    """
    method_id = str(record.get('id') or '').lower()
    if record['type'] == 'password' or not record.get('segment'):
        return False, 'cannot be removed'
    if method_id in {k.lower() for k in keep}:
        return False, 'kept: listed in keep'
    if types and record['type'] not in types:
        return False, 'type not selected'
    if method_id in {i.lower() for i in ids}:
        return True, 'selected by id'
    gate = rem.parse_datetime(registered_after)
    if gate is None:
        return False, 'not selected'
    created = rem.parse_datetime(record.get('created'))
    if created is None:
        return False, 'no registration time known; give its id to remove it'
    if created >= gate:
        return True, 'registered at %s, at or after %s' % (record['created'], rem.isoformat(gate))
    return False, 'registered before %s' % rem.isoformat(gate)


def removal_rounds(chosen: t.Sequence[dict[str, t.Any]]) -> list[list[dict[str, t.Any]]]:
    """The rounds in which to remove a user's chosen methods: every other kind first, phones last.

    Graph refuses to delete a user's default MFA method while the user has other methods, and Microsoft names
    the phone as such a method ("Delete phoneAuthenticationMethod": change the default, then delete the number).
    Graph v1.0 does not say which method is the default, so phones wait until the other removals are answered;
    when those leave no other method, the phone can go too.
    """
    first = [r for r in chosen if r.get('type') != 'phone']
    last = [r for r in chosen if r.get('type') == 'phone']
    return [batch for batch in (first, last) if batch]


def is_default_method_refusal(error: t.Any) -> bool:
    """Whether a failed removal is Graph's refusal to delete the user's default method while others remain."""
    return getattr(error, 'status', None) == 400 and DEFAULT_METHOD_WORDS in str(getattr(error, 'message', '') or '').lower()


def method_label(record: dict[str, t.Any]) -> str:
    """A method in words: its kind and its label (device name, number, address) or id."""
    return '%s %s' % (record.get('type'), record.get('detail') or record.get('id'))


def removal_problem(record: dict[str, t.Any], error: t.Any) -> str:
    """A failed removal in words, saying what to do when Graph refused the user's default method."""
    if is_default_method_refusal(error):
        what = 'the default MFA phone' if record.get('type') == 'phone' else "the user's default MFA method"
        return ("%s: %s cannot be deleted while other methods remain; make another method the user's default sign-in "
                "method (or remove the other methods), then run again. Service said: %s" % (method_label(record), what, error))
    return '%s: %s' % (method_label(record), error)


def default_phone_note(methods: t.Sequence[dict[str, t.Any]]) -> str:
    """What check mode cannot know: whether a phone to remove is the user's default MFA method while other methods stay.

    Empty when no phone is chosen, or when every other method (but the password) goes too.
    """
    phones = [r for r in methods if r.get('remove') and r.get('type') == 'phone']
    staying = [r for r in methods if not r.get('remove') and r.get('type') != 'password']
    if not phones or not staying:
        return ''
    return ('phones go last: if %s is the default MFA method, Graph refuses to delete it while %d other method(s) remain'
            % (', '.join(method_label(r) for r in phones), len(staying)))
