"""Pure remediation logic: parsing, normalising, deciding."""

from __future__ import annotations

import collections
import datetime as dt

import pytest
from hypothesis import given, settings, strategies as st

from ansible_collections.m365ops.remediation.plugins.module_utils import remediation as rem
from ansible_collections.m365ops.remediation.plugins.module_utils.errors import M365Error
from ansible_collections.m365ops.remediation.plugins.module_utils.resources import restricted_users
from ansible_collections.m365ops.remediation.plugins.module_utils.resources import users

UTC = dt.timezone.utc


@pytest.mark.parametrize('text, expected', [
    ('2026-11-20T08:00:00Z', dt.datetime(2026, 11, 20, 8, tzinfo=UTC)),
    ('2026-11-20T08:00:00.1234567Z', dt.datetime(2026, 11, 20, 8, 0, 0, 123456, tzinfo=UTC)),
    ('2026-11-20T09:00:00+01:00', dt.datetime(2026, 11, 20, 8, tzinfo=UTC)),
    ('2026-11-20T08:00:00', dt.datetime(2026, 11, 20, 8, tzinfo=UTC)),
    ('', None), ('yesterday', None), (None, None), (42, None),
])
def test_parse_datetime(text, expected):
    assert rem.parse_datetime(text) == expected


def test_isoformat_round_trip():
    assert rem.isoformat(rem.parse_datetime('2026-11-20T08:00:00.9999999Z')) == '2026-11-20T08:00:00Z'
    assert rem.isoformat(None) is None


@pytest.mark.parametrize('value, expected', [
    ('Rob@Contoso.com', 'rob@contoso.com'),
    ('  rob@contoso.com ', 'rob@contoso.com'),
    ('SMTP:rob@contoso.com', 'rob@contoso.com'),
    ('smtp: rob@contoso.com', 'rob@contoso.com'),
    ('øyvind@eksempel.no', 'øyvind@eksempel.no'),
    ('rob', None), ('rob@', None), ('@contoso.com', None), ('rob@contoso', None),
    ('rob smith@contoso.com', None), ('rob@@contoso.com', None), ('', None), (None, None), (3, None),
])
def test_normalize_address(value, expected):
    assert rem.normalize_address(value) == expected


def test_split_addresses_dedupes_and_reports_invalid():
    valid, invalid = rem.split_addresses(['Rob@contoso.com', 'rob@CONTOSO.com', 'nope', 'ann@contoso.com'])
    assert valid == ['rob@contoso.com', 'ann@contoso.com']
    assert [i['address'] for i in invalid] == ['nope']
    assert 'not an SMTP address' in invalid[0]['msg']


def test_parse_reason_lenient():
    assert restricted_users.parse_reason('ExceedingLimitType=External;InternalRecipientCountToday=0;ExternalRecipientCountToday=1520') == {
        'ExceedingLimitType': 'External', 'InternalRecipientCountToday': '0', 'ExternalRecipientCountToday': '1520'}
    assert restricted_users.parse_reason(' a = 1 ;; b=x=y;flag;=orphan\nc=3 ') == {'a': '1', 'b': 'x=y', 'flag': '', 'c': '3'}
    assert restricted_users.parse_reason(None) == {}
    assert restricted_users.parse_reason('') == {}


def test_restricted_entry_shape():
    entry = restricted_users.restricted_entry({'SenderAddress': 'Rob@Contoso.com', 'Reason': 'OutboundSpamPercent=90',
                                               'CreatedDatetime': '2026-11-20T08:00:00.0000000Z', 'ChangedDatetime': None,
                                               'TemporaryBlock': 'False'})
    assert entry == {'address': 'rob@contoso.com', 'created': '2026-11-20T08:00:00Z', 'changed': None,
                     'temporary_block': False, 'reason': 'OutboundSpamPercent=90',
                     'reason_details': {'OutboundSpamPercent': '90'}, 'message_trace_id': None}


def test_reason_key_value_pairs_keep_the_message_trace_id():
    reason = 'OutboundSpamLast24Hours=412; Last Spam Message MessagetraceId:7f3c2a1b-7d4e-4b8a-9c0d-1e2f3a4b5c60;At=2026-11-20T08:00'
    details = restricted_users.parse_reason(reason)
    assert details == {'OutboundSpamLast24Hours': '412', 'Last Spam Message MessagetraceId': '7f3c2a1b-7d4e-4b8a-9c0d-1e2f3a4b5c60',
                       'At': '2026-11-20T08:00'}
    entry = restricted_users.restricted_entry({'SenderAddress': 'rob@contoso.com', 'Reason': reason, '@odata.type': '#Exchange.GenericHashTable'})
    assert entry['message_trace_id'] == '7f3c2a1b-7d4e-4b8a-9c0d-1e2f3a4b5c60'
    assert not any('@' in k for k in entry)


@given(st.text())
@settings(max_examples=400)
def test_parse_reason_never_raises(text):
    details = restricted_users.parse_reason(text)
    assert all(isinstance(k, str) and k for k in details)


@given(st.one_of(st.text(), st.none(), st.integers(), st.binary()))
@settings(max_examples=400)
def test_normalize_address_never_raises(value):
    result = rem.normalize_address(value)
    assert result is None or (result == result.strip().lower() and '@' in result)
    if result is not None:
        assert rem.normalize_address(result) == result


@given(st.text())
def test_parse_datetime_never_raises(text):
    result = rem.parse_datetime(text)
    assert result is None or result.tzinfo is not None


@pytest.mark.parametrize('password, upn, ok', [
    ('Aa1!aaaa', None, True), ('aaaaaaaa1', None, False), ('Aa1aaaaa', None, True), ('Aa1!', None, False),
    ('Rob-Secret-2026', 'rob@contoso.com', False), ('Xy7!' * 65, None, False),
])
def test_password_complies(password, upn, ok):
    assert users.password_complies(password, upn) is ok


def test_generate_password_strength():
    seen = set()
    for dummy in range(200):
        password = users.generate_password(16, 'rob@contoso.com')
        assert len(password) == 16
        assert any(c.islower() for c in password) and any(c.isupper() for c in password)
        assert any(c.isdigit() for c in password) and any(c in users.PASSWORD_SYMBOLS for c in password)
        assert users.password_complies(password, 'rob@contoso.com')
        seen.add(password)
    assert len(seen) == 200
    with pytest.raises(ValueError):
        users.generate_password(12)


def test_generated_passwords_draw_every_character_evenly():
    # 1,500 passwords of 20: each of the 90 characters about 333 times, at every position alike.
    passwords = [users.generate_password(20) for dummy in range(1500)]
    counts = collections.Counter(''.join(passwords))
    assert set(counts) == set(users.PASSWORD_ALPHABET)
    expected = 1500 * 20 / len(users.PASSWORD_ALPHABET)
    assert all(0.7 * expected < n < 1.3 * expected for n in counts.values()), counts.most_common(3) + counts.most_common()[-3:]
    first = collections.Counter(p[0] for p in passwords)
    assert len(first) > 80


@pytest.mark.parametrize('last, gate, needed', [
    ('2026-06-01T00:00:00Z', '2026-11-20T08:00:00Z', True),
    ('2026-11-20T08:00:00Z', '2026-11-20T08:00:00Z', False),
    ('2026-11-21T00:00:00Z', '2026-11-20T08:00:00Z', False),
    (None, '2026-11-20T08:00:00Z', True),
    ('2026-11-21T00:00:00Z', None, True),
])
def test_reset_needed(last, gate, needed):
    assert rem.reset_needed(last, gate) is needed


def test_primary_smtp_and_addresses():
    user = {'userPrincipalName': 'frank@contoso.onmicrosoft.com', 'mail': 'frank@contoso.com',
            'proxyAddresses': ['smtp:f@contoso.com', 'SMTP:Frank@Contoso.com', 'x500:/o=foo']}
    assert rem.primary_smtp_address(user) == 'frank@contoso.com'
    assert rem.user_addresses(user) == {'frank@contoso.com', 'f@contoso.com', 'frank@contoso.onmicrosoft.com'}
    assert rem.primary_smtp_address({'mail': 'A@b.com'}) == 'a@b.com'


def test_sending_expected():
    times = restricted_users.sending_expected(dt.datetime(2026, 11, 23, 10, tzinfo=UTC))
    assert times == {'sending_expected_by': '2026-11-23T11:00:00Z', 'sending_expected_at_latest': '2026-11-24T10:00:00Z'}


def test_unblock_result_limit_message():
    error = M365Error('The sender has reached the limit of unblocks for this account.', service='exchange', status=400, code='LimitReached')
    result = restricted_users.unblock_result('rob@contoso.com', {}, error)
    assert result['failed'] and not result['changed'] and result['restricted']
    assert 'Microsoft support' in result['msg']
    throttled = M365Error('Rate limit exceeded', service='exchange', status=429)
    assert not restricted_users.is_unblock_limit(throttled)
    done = restricted_users.unblock_result('rob@contoso.com', {}, dt.datetime(2026, 11, 23, 10, tzinfo=UTC))
    assert done['changed'] and done['unblocked_at'] == '2026-11-23T10:00:00Z'


def test_summarize():
    ok = rem.summarize([{'user': 'a', 'changed': True}, {'user': 'b', 'changed': False}], 'users')
    assert ok == {'changed': True, 'results': [{'user': 'a', 'changed': True}, {'user': 'b', 'changed': False}]}
    bad = rem.summarize([{'user': 'a', 'changed': True}, {'user': 'b', 'failed': True, 'msg': 'nope'}], 'users')
    assert bad['failed'] and bad['changed'] and bad['msg'] == '1 of 2 users failed; first: b: nope'
    tolerated = rem.summarize([{'user': 'b', 'failed': True, 'msg': 'nope'}], 'users', continue_on_error=True)
    assert 'failed' not in tolerated and tolerated['msg']


def test_dedupe_keeps_first():
    assert rem.dedupe(['A', 'b', 'a', 'B', 'c']) == ['A', 'b', 'c']
