# Copyright: m365ops.remediation contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Entra ID users through Microsoft Graph: finding them, their password, their sign-in and their sessions.

Every Graph path of a user lives here (ids always quoted); modules call these methods and never build a URL.
"""

from __future__ import annotations

import secrets
import string
import typing as t
from urllib.parse import quote

from ansible_collections.m365ops.remediation.plugins.module_utils.errors import M365Error
from ansible_collections.m365ops.remediation.plugins.module_utils import remediation as rem

SELECT = (
    'id', 'userPrincipalName', 'displayName', 'mail', 'proxyAddresses', 'accountEnabled',
    'onPremisesSyncEnabled', 'lastPasswordChangeDateTime', 'signInSessionsValidFromDateTime',
)

PASSWORD_SYMBOLS = '!#$%&()*+,-./:;<=>?@[]^_{|}~'
PASSWORD_MIN_LENGTH = 8
PASSWORD_MAX_LENGTH = 256

PROTECTED_MSG = 'protected account: never changed by this collection'


def user_path(user: t.Any) -> str:
    """``/users/{id or UPN}``, quoted (guest UPNs hold ``#``)."""
    if not isinstance(user, str) or not user.strip():
        raise M365Error('A user id or userPrincipalName is required', service='graph', code='invalid_argument')
    return '/users/' + quote(user.strip(), safe='@')


class Resolved(t.NamedTuple):
    """What became of one user given by the caller: the Graph user, or the reason there is none."""

    given: str
    user: dict[str, t.Any] | None
    error: M365Error | None


class Target(t.NamedTuple):
    """A user a changing module may act on: the reference as given and the Graph user it names."""

    ref: str
    user: dict[str, t.Any]


def invalid_user_reference(given: t.Any) -> str | None:
    """Why a user reference is unusable before any request, or None when it can be looked up."""
    if not isinstance(given, str) or not given.strip():
        return 'an empty user reference; give a user principal name, an object id or an SMTP address'
    text = given.strip()
    if rem.is_guid(text):
        return None
    if rem.normalize_address(text) is None:
        if rem.invisible_character(text):
            return rem.address_problem(text)
        return ("'%s' is neither an object id nor a user principal name or SMTP address (name@domain): correct it or "
                "remove it from the list" % text)
    return None


def lookup_problem(given: str, error: M365Error) -> str:
    """A per-user message for a failed lookup, naming the user and saying what to do."""
    if error.status == 404:
        return ("user not found in this tenant: %s; check the spelling and the tenant, or give the user principal name "
                "or object id" % given)
    if error.status == 403:
        return ("%s could not be looked up: the app may not read users; grant it the Microsoft Graph application "
                "permission User.Read.All (with admin consent). Service said: %s" % (given, error))
    return '%s could not be looked up: %s' % (given, error)


def user_record(given: str, user: dict[str, t.Any]) -> dict[str, t.Any]:
    """A Graph user in the collection's result shape."""
    return {
        'user': given,
        'found': True,
        'id': user.get('id'),
        'user_principal_name': user.get('userPrincipalName'),
        'display_name': user.get('displayName'),
        'primary_smtp_address': rem.primary_smtp_address(user),
        'addresses': sorted(rem.user_addresses(user)),
        'account_enabled': user.get('accountEnabled'),
        'on_premises_sync_enabled': bool(user.get('onPremisesSyncEnabled')),
        'last_password_change': rem.isoformat(rem.parse_datetime(user.get('lastPasswordChangeDateTime'))),
        'sign_in_sessions_valid_from': rem.isoformat(rem.parse_datetime(user.get('signInSessionsValidFromDateTime'))),
    }


def reference_keys(given: t.Iterable[t.Any]) -> list[str]:
    """The user references as results are keyed and ordered: stripped, repeats (any case) once."""
    return rem.dedupe(str(g).strip() for g in given)


def _odata_literal(value: str) -> str:
    return "'%s'" % value.replace("'", "''")


def password_complies(password: str, user_principal_name: str | None = None) -> bool:
    """Entra ID's complexity rule: 8 to 256 characters, three of the four classes, not the account name."""
    if not isinstance(password, str) or not PASSWORD_MIN_LENGTH <= len(password) <= PASSWORD_MAX_LENGTH:
        return False
    classes = (
        any(c.islower() for c in password),
        any(c.isupper() for c in password),
        any(c.isdigit() for c in password),
        any(not c.isalnum() for c in password),
    )
    if sum(classes) < 3:
        return False
    local = (user_principal_name or '').split('@', 1)[0].lower()
    return not (len(local) >= 3 and local in password.lower())


PASSWORD_CLASSES = (string.ascii_lowercase, string.ascii_uppercase, string.digits, PASSWORD_SYMBOLS)
PASSWORD_ALPHABET = ''.join(PASSWORD_CLASSES)
# Random bytes at or above this are drawn again, so that every character of the alphabet is equally likely.
_BYTE_LIMIT = 256 - 256 % len(PASSWORD_ALPHABET)


def generate_password(length: int = 20, user_principal_name: str | None = None) -> str:
    """A password from the operating system's CSPRNG: each character drawn uniformly from the alphabet (bytes
    of ``secrets.token_bytes``, by rejection: no bias), drawn again until all four character classes are in it
    and it passes :func:`password_complies` for that account (about one draw in six at 16 characters).

    One read of random bytes per password, where a choice per character cost a system call each: most of the
    CPU of a thousand resets.
    """
    if length < 16 or length > PASSWORD_MAX_LENGTH:
        raise ValueError('password length must be between 16 and %d' % PASSWORD_MAX_LENGTH)
    size = len(PASSWORD_ALPHABET)
    while True:
        chars = [PASSWORD_ALPHABET[b % size] for b in secrets.token_bytes(length * 2) if b < _BYTE_LIMIT][:length]
        if len(chars) < length:
            continue
        password = ''.join(chars)
        if all(any(c in group for c in password) for group in PASSWORD_CLASSES) and password_complies(password, user_principal_name):
            return password


def password_error_message(error: M365Error) -> str:
    """A per-user message for a refused password reset, saying what to do."""
    if error.status == 403:
        return ('reset refused: the app may not reset this user\'s password. Graph needs the application permission '
                'User-PasswordProfile.ReadWrite.All (User.ReadWrite.All does not cover passwords) and at least the Entra role '
                'User Administrator on the app; a user who holds an admin role needs Privileged Authentication Administrator. '
                'The account stays blocked. Service said: %s' % error)
    if error.status == 400 and 'complexity' in str(error.message).lower():
        return 'reset refused: the password does not meet the tenant\'s password policy. Service said: %s' % error
    return 'reset failed: %s' % error


class Users:
    """The users of one tenant, through a :class:`GraphClient`."""

    def __init__(self, graph: t.Any) -> None:
        self.graph = graph

    # -- reads ----------------------------------------------------------------------------------------

    def get(self, user: str, select: t.Sequence[str] = SELECT) -> dict[str, t.Any]:
        """``GET /users/{id or UPN}`` with ``$select``; raises 404 ``Request_ResourceNotFound`` for an unknown user."""
        return self.graph.request('GET', user_path(user), params={'$select': ','.join(select)} if select else None) or {}

    def resolve(self, references: t.Sequence[str], select: t.Sequence[str] = SELECT) -> list[Resolved]:
        """Look users up by object id, user principal name, or any of their SMTP addresses.

        First one batched GET per reference (by id or UPN); references that look like addresses and were
        not found as a UPN are then searched in ``proxyAddresses``, also batched. The order of the answer is
        the order of ``references``; unknown users come back with a not-found error, never an exception.
        """
        selected = ','.join(select)
        refs = [r.strip() for r in references]
        answers = self.graph.batch([{'id': str(i), 'method': 'GET', 'url': '%s?$select=%s' % (user_path(ref), selected)}
                                    for i, ref in enumerate(refs)])
        found: dict[int, Resolved] = {}
        search: list[int] = []
        for i, ref in enumerate(refs):
            item = answers[str(i)]
            if item.ok:
                found[i] = Resolved(ref, item.body, None)
            elif item.status == 404 and not rem.is_guid(ref):
                search.append(i)
            else:
                found[i] = Resolved(ref, None, item.error())
        if search:
            requests = []
            for i in search:
                flt = 'proxyAddresses/any(x:x eq %s)' % _odata_literal('smtp:' + str(rem.normalize_address(refs[i])))
                requests.append({'id': str(i), 'method': 'GET',
                                 'url': '/users?$filter=%s&$select=%s' % (quote(flt, safe="/:(),'@"), selected)})
            answers = self.graph.batch(requests)
            for i in search:
                item = answers[str(i)]
                if not item.ok:
                    found[i] = Resolved(refs[i], None, item.error())
                    continue
                matches = (item.body or {}).get('value') or []
                if len(matches) == 1:
                    found[i] = Resolved(refs[i], matches[0], None)
                elif not matches:
                    found[i] = Resolved(refs[i], None, M365Error(
                        "no user has the user principal name or SMTP address '%s' in this tenant" % refs[i],
                        service='graph', status=404, code='Request_ResourceNotFound'))
                else:
                    found[i] = Resolved(refs[i], None, M365Error(
                        "'%s' matches %d users; give the user principal name or object id instead" % (refs[i], len(matches)),
                        service='graph', status=409, code='AmbiguousUser'))
        return [found[i] for i in range(len(refs))]

    def targets(self, given: t.Sequence[str], protected: t.Sequence[str] = ()) -> tuple[dict[str, dict[str, t.Any]], list[Target]]:
        """Resolve the users a changing module was given, keeping those it may act on.

        Returns ``(done, targets)``: ``done`` maps each reference that needs no further work to its final
        result (invalid, unknown, protected, lookup failed); ``targets`` lists the rest, in the given order.
        Repeats (any case) are handled once. A protected account matches by UPN, any SMTP address or object
        id, whichever form either list uses.
        """
        shielded = {p.strip().lower() for p in protected if isinstance(p, str) and p.strip()}
        done: dict[str, dict[str, t.Any]] = {}
        lookup = []
        for ref in reference_keys(given):
            problem = invalid_user_reference(ref)
            if problem:
                done[ref] = dict(user=ref, changed=False, failed=True, msg=problem)
            elif ref.lower() in shielded:
                done[ref] = dict(user=ref, changed=False, failed=False, skipped=True, protected=True, msg=PROTECTED_MSG)
            else:
                lookup.append(ref)
        targets = []
        for item in self.resolve(lookup) if lookup else ():
            if item.error is not None:
                done[item.given] = dict(user=item.given, changed=False, failed=True, found=item.error.status != 404,
                                        msg=lookup_problem(item.given, item.error), error=item.error.to_dict())
            elif identities(item.user) & shielded:
                done[item.given] = dict(user=item.given, changed=False, failed=False, skipped=True, protected=True,
                                        user_principal_name=item.user.get('userPrincipalName'), msg=PROTECTED_MSG)
            else:
                targets.append(Target(item.given, item.user))
        return done, targets

    def protected_identities(self, protected: t.Sequence[str]) -> set[str]:
        """Every form (addresses, UPN, object id; lower case) of the accounts a protected list names, so that an
        address matches whichever form the list uses. An account that cannot be looked up for another reason
        than not existing raises: a protection must never be lost to an error."""
        named = reference_keys(p for p in protected if isinstance(p, str) and p.strip())
        shielded = {p.lower() for p in named}
        lookup = [p for p in named if not invalid_user_reference(p)]
        for item in self.resolve(lookup) if lookup else ():
            if item.user is not None:
                shielded |= identities(item.user)
            elif item.error is not None and item.error.status != 404:
                raise M365Error('the protected account %s could not be looked up, so nothing is changed: %s' % (item.given, item.error),
                                service=item.error.service, status=item.error.status, code=item.error.code)
        return shielded

    # -- writes, as $batch requests -------------------------------------------------------------------

    @staticmethod
    def update_request(user_id: str, body: dict[str, t.Any]) -> dict[str, t.Any]:
        """The ``PATCH /users/{id}`` of ``body``: retried only when Graph refused it (429/503), never after a
        timeout or a 504."""
        return dict(method='PATCH', url=user_path(user_id), body=body)

    @classmethod
    def password_request(cls, user_id: str, password: str, force_change: bool, force_change_with_mfa: bool) -> dict[str, t.Any]:
        """The ``PATCH /users/{id}`` that sets a password (``passwordProfile``)."""
        return cls.update_request(user_id, dict(passwordProfile=dict(
            password=password, forceChangePasswordNextSignIn=force_change,
            forceChangePasswordNextSignInWithMfa=force_change_with_mfa)))

    @classmethod
    def sign_in_request(cls, user_id: str, enabled: bool) -> dict[str, t.Any]:
        """The ``PATCH /users/{id}`` that allows or blocks sign-in (``accountEnabled``)."""
        return cls.update_request(user_id, {'accountEnabled': enabled})

    @staticmethod
    def revoke_sessions_request(user_id: str) -> dict[str, t.Any]:
        """``POST /users/{id}/revokeSignInSessions``: idempotent (doing it twice moves the time to now again),
        so it is sent again after a 504 or a dropped connection."""
        return dict(method='POST', url=user_path(user_id) + '/revokeSignInSessions', idempotent=True)

    def send(self, requests: t.Mapping[str, dict[str, t.Any]]) -> dict[str, t.Any]:
        """Send requests made by the methods above, keyed by the caller, in ``$batch``: the answer per key."""
        keys = list(requests)
        answers = self.graph.batch([dict(requests[key], id=str(i)) for i, key in enumerate(keys)])
        return {key: answers[str(i)] for i, key in enumerate(keys)}

    def update(self, user_id: str, body: dict[str, t.Any]) -> None:
        """``PATCH /users/{id}`` of one user, at once."""
        self.graph.request('PATCH', user_path(user_id), json=body, idempotent=False)

    def revoke_sessions(self, user_id: str) -> None:
        """``POST /users/{id}/revokeSignInSessions`` of one user, at once (200 with ``value: true``, or 204)."""
        body = self.graph.request('POST', user_path(user_id) + '/revokeSignInSessions', idempotent=True)
        if isinstance(body, dict) and body.get('value') is False:
            raise M365Error('Graph answered revokeSignInSessions with value=false', service='graph', code='revoke_failed')


def identities(user: dict[str, t.Any]) -> set[str]:
    """Every form a protected list may name a user by: its SMTP addresses, UPN and object id, lower case."""
    return rem.user_addresses(user) | {str(user.get('id', '')).lower()}
