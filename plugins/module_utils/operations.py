# Copyright: m365ops.remediation contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Operations shared by the modules: resolve users, read the Restricted Users list, run Exchange calls concurrently.

These speak to the services through the clients of the core (GraphClient, ExchangeClient) and return
plain data; what to do with it is decided in ``remediation`` (pure) and in the modules.
"""

from __future__ import annotations

import typing as t
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import quote

from ansible_collections.m365ops.remediation.plugins.module_utils.errors import M365Error
from ansible_collections.m365ops.remediation.plugins.module_utils.exchange import NOT_FOUND, error_kind as exchange_error_kind
from ansible_collections.m365ops.remediation.plugins.module_utils import remediation as rem

USER_SELECT = (
    'id', 'userPrincipalName', 'displayName', 'mail', 'proxyAddresses', 'accountEnabled',
    'onPremisesSyncEnabled', 'lastPasswordChangeDateTime', 'signInSessionsValidFromDateTime',
)

# Above this many addresses one read of the whole list is cheaper than one lookup per address.
WHOLE_LIST_THRESHOLD = 8


class Resolved(t.NamedTuple):
    """What became of one user given by the caller: the Graph user, or the reason there is none."""

    given: str
    user: dict[str, t.Any] | None
    error: M365Error | None


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


def _odata_literal(value: str) -> str:
    return "'%s'" % value.replace("'", "''")


def resolve_users(graph: t.Any, references: t.Sequence[str], select: t.Sequence[str] = USER_SELECT) -> list[Resolved]:
    """Look users up by object id, user principal name, or any of their SMTP addresses.

    First one batched GET per reference (by id or UPN); references that look like addresses and were
    not found as a UPN are then searched in ``proxyAddresses``, also batched. The order of the answer is
    the order of ``references``; unknown users come back with a not-found error, never an exception.
    """
    selected = ','.join(select)
    refs = [r.strip() for r in references]
    requests = [{'id': str(i), 'method': 'GET', 'url': '/users/%s?$select=%s' % (quote(ref, safe='@'), selected)}
                for i, ref in enumerate(refs)]
    answers = graph.batch(requests)
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
            flt = 'proxyAddresses/any(x:x eq %s)' % _odata_literal('smtp:' + rem.normalize_address(refs[i]))
            requests.append({'id': str(i), 'method': 'GET',
                             'url': '/users?$filter=%s&$select=%s' % (quote(flt, safe="/:(),'@"), selected)})
        answers = graph.batch(requests)
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


def read_restricted(exchange: t.Any, addresses: t.Sequence[str] | None = None,
                    max_workers: int = 4) -> tuple[dict[str, dict[str, t.Any]], dict[str, M365Error]]:
    """The Restricted Users list as ``{address: entry}``, and the lookups that failed as ``{address: error}``.

    Only the given (normalised) addresses when asked. A few addresses are looked up one by one
    (concurrently); many, or none given, take one read of the whole list, which Exchange pages; an
    error reading the whole list is raised, as it concerns every address.
    """
    if addresses is None or len(addresses) > WHOLE_LIST_THRESHOLD:
        entries = [rem.restricted_entry(raw) for raw in exchange.invoke('Get-BlockedSenderAddress').value]
        listed = {e['address']: e for e in entries}
        if addresses is not None:
            listed = {a: listed[a] for a in addresses if a in listed}
        return listed, {}

    def lookup(address: str) -> list[dict[str, t.Any]]:
        return exchange.invoke('Get-BlockedSenderAddress', {'SenderAddress': address}).value

    listed = {}
    errors = {}
    for address, outcome in run_concurrently(lookup, addresses, max_workers):
        if isinstance(outcome, M365Error):
            # Exchange answers an address that is not listed with no object; a not-found means the same.
            if exchange_error_kind(outcome) != NOT_FOUND:
                errors[address] = outcome
            continue
        for raw in outcome:
            entry = rem.restricted_entry(raw)
            if entry['address'] == address:
                listed[address] = entry
    return listed, errors


def unblock(exchange: t.Any, address: str) -> t.Any:
    """Remove ``address`` from the Restricted Users list: ``(time of the removal, Exchange's warnings)``, or
    ``rem.ALREADY_OFF``.

    A removal answered with not-found (the lookup had found the address) is checked with one more lookup:
    an address that is indeed off the list was unblocked by someone else in the meantime. Any other error,
    or an address still listed, is raised: a removal is never sent twice.
    """
    try:
        answer = exchange.remove_blocked_sender(address)
    except M365Error as error:
        if exchange_error_kind(error) != NOT_FOUND:
            raise
        try:
            still = exchange.get_blocked_sender(address)
        except M365Error:
            raise error from None
        if any(rem.normalize_address(raw.get('SenderAddress')) == address for raw in still):
            raise
        return rem.ALREADY_OFF
    return rem.utcnow(), list(answer.warnings)


T = t.TypeVar('T')
R = t.TypeVar('R')


def run_concurrently(func: t.Callable[[T], R], items: t.Sequence[T], max_workers: int) -> list[tuple[T, R | M365Error]]:
    """Call ``func`` on every item with at most ``max_workers`` at once; an M365Error is returned, not raised.

    The answer keeps the order of ``items``. Errors other than M365Error are bugs and propagate.
    """
    def call(item: T) -> R | M365Error:
        try:
            return func(item)
        except M365Error as error:
            return error

    if max_workers <= 1 or len(items) <= 1:
        return [(item, call(item)) for item in items]
    with ThreadPoolExecutor(max_workers=min(max_workers, len(items))) as pool:
        return list(zip(items, pool.map(call, items)))


def users_option() -> dict[str, t.Any]:
    """The users a module works on (documented in doc_fragments/users.py)."""
    return dict(users=dict(type='list', elements='str', required=True))


def user_options() -> dict[str, t.Any]:
    """The options of every module that changes users: the users, the protected accounts, failing at the end."""
    return dict(
        users_option(),
        protected=dict(type='list', elements='str', default=[]),
        continue_on_error=dict(type='bool', default=False),
    )


def reference_keys(given: t.Iterable[t.Any]) -> list[str]:
    """The user references as results are keyed and ordered: stripped, repeats (any case) once."""
    return rem.dedupe(str(g).strip() for g in given)


def user_targets(graph: t.Any, given: t.Sequence[str],
                 protected: t.Sequence[str] = ()) -> tuple[dict[str, dict[str, t.Any]], list[tuple[str, dict[str, t.Any]]]]:
    """Resolve the users a changing module was given, keeping those it may act on.

    Returns ``(done, targets)``: ``done`` maps each reference that needs no further work to its final
    result (invalid, unknown, protected, lookup failed); ``targets`` lists ``(reference, graph_user)`` for
    the rest, in the given order. Repeats (any case) are handled once. A protected account matches by
    UPN, any SMTP address or object id, whichever form either list uses.
    """
    shielded = {p.strip().lower() for p in protected if isinstance(p, str) and p.strip()}
    done: dict[str, dict[str, t.Any]] = {}
    lookup = []
    for ref in reference_keys(given):
        problem = invalid_user_reference(ref)
        if problem:
            done[ref] = dict(user=ref, changed=False, failed=True, msg=problem)
        elif ref.lower() in shielded:
            done[ref] = dict(user=ref, changed=False, failed=False, skipped=True, protected=True,
                             msg='protected account: never changed by this collection')
        else:
            lookup.append(ref)
    targets = []
    for item in resolve_users(graph, lookup) if lookup else ():
        if item.error is not None:
            found = item.error.status != 404
            done[item.given] = dict(user=item.given, changed=False, failed=True, found=found,
                                    msg=lookup_problem(item.given, item.error),
                                    error=item.error.to_dict())
            continue
        identities = rem.user_addresses(item.user) | {str(item.user.get('id', '')).lower()}
        if identities & shielded:
            done[item.given] = dict(user=item.given, changed=False, failed=False, skipped=True, protected=True,
                                    user_principal_name=item.user.get('userPrincipalName'),
                                    msg='protected account: never changed by this collection')
            continue
        targets.append((item.given, item.user))
    return done, targets
