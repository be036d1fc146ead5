"""Property tests of the parsers that take untrusted input (the Restricted Users ``Reason``, ``Retry-After``, addresses),
and the linear cost of the per-address work with 10,000 addresses. Complements test_remediation.py and
test_transport_pure.py, which hold the example-based cases and the basic never-raises properties."""

from __future__ import annotations

import email.utils
import math
import random
import string
import time

from hypothesis import given, settings, strategies as st

from ansible_collections.m365ops.remediation.plugins.module_utils import remediation as rem
from ansible_collections.m365ops.remediation.plugins.module_utils.transport import RetryPolicy, parse_retry_after
from ansible_collections.m365ops.remediation.plugins.module_utils.resources import restricted_users
from ansible_collections.m365ops.remediation.plugins.module_utils.resources import users

NOW = 1_800_000_000.0
KEY = st.text(alphabet=string.ascii_letters + string.digits + '_', min_size=1, max_size=30)
VALUE = st.text(alphabet=st.characters(blacklist_characters=';\r\n', blacklist_categories=('Cs',)), max_size=40)
LOCAL = st.text(alphabet=string.ascii_letters + string.digits + "._%+-!#$&'*/=?^`{|}~", min_size=1, max_size=30)
LABEL = st.text(alphabet=string.ascii_letters + string.digits + '-', min_size=1, max_size=20)
ADDRESS = st.builds(lambda local, labels, top: '%s@%s.%s' % (local, '.'.join(labels), top),
                    LOCAL, st.lists(LABEL, min_size=1, max_size=3), st.text(alphabet=string.ascii_letters, min_size=2, max_size=6))


# -- the Restricted Users Reason ---------------------------------------------------------------------------


@given(st.dictionaries(KEY, VALUE, max_size=8), st.sampled_from([';', '; ', '\n', ';\r\n']))
@settings(max_examples=300)
def test_reason_round_trip(pairs, separator):
    """What Exchange writes (key=value pairs) is read back exactly, blanks around keys and values aside."""
    text = separator.join('%s=%s' % item for item in pairs.items())
    assert restricted_users.parse_reason(text) == {k: v.strip() for k, v in pairs.items()}


@given(st.one_of(st.none(), st.integers(), st.floats(), st.binary(), st.lists(st.text()), st.dictionaries(st.text(), st.text())))
def test_reason_of_any_other_type_is_empty(value):
    assert restricted_users.parse_reason(value) == {}


@given(st.text())
@settings(max_examples=300)
def test_reason_keys_and_values_are_stripped_and_bounded(text):
    details = restricted_users.parse_reason(text)
    assert len(details) <= text.count(';') + text.count('\n') + text.count('\r') + 1
    for key, value in details.items():
        assert key == key.strip() and value == value.strip()
        assert key in text and value in text


@given(st.fixed_dictionaries({}, optional={
    'SenderAddress': st.one_of(st.none(), st.text(), ADDRESS), 'Reason': st.one_of(st.none(), st.text()),
    'CreatedDatetime': st.one_of(st.none(), st.text(), st.datetimes().map(lambda d: d.isoformat() + '.1234567Z')),
    'ChangedDatetime': st.one_of(st.none(), st.text()), 'TemporaryBlock': st.one_of(st.none(), st.booleans(), st.text())}))
@settings(max_examples=300)
def test_restricted_entry_never_raises(raw):
    entry = restricted_users.restricted_entry(raw)
    assert isinstance(entry['address'], str) and isinstance(entry['temporary_block'], bool)
    assert isinstance(entry['reason_details'], dict)


# -- Retry-After -------------------------------------------------------------------------------------------


@given(st.integers(min_value=0, max_value=10 ** 9))
def test_retry_after_integer_seconds_round_trip(seconds):
    assert parse_retry_after(str(seconds), NOW) == float(seconds)
    assert parse_retry_after(' %d\t' % seconds, NOW) == float(seconds)


@given(st.integers(min_value=0, max_value=10 ** 6))
def test_retry_after_date_round_trip(offset):
    value = email.utils.formatdate(NOW + offset, usegmt=True)
    assert parse_retry_after(value, NOW) == offset


@given(st.one_of(st.none(), st.text(), st.binary(), st.integers(), st.floats(allow_nan=True, allow_infinity=True)),
       st.integers(min_value=1, max_value=50), st.floats(min_value=0, max_value=600))
@settings(max_examples=400)
def test_retry_delay_is_always_bounded(header, attempt, cap):
    """Whatever a service sends, the wait is finite, not negative, and within the caps."""
    policy = RetryPolicy(retry_after_max=cap, backoff_max=30.0)
    delay = policy.delay(attempt, header, random.Random(attempt), NOW)
    assert math.isfinite(delay) and 0 <= delay <= max(cap, 30.0)


# -- addresses ---------------------------------------------------------------------------------------------


@given(ADDRESS.filter(lambda address: len(address) <= 320))
@settings(max_examples=300)
def test_valid_addresses_normalise_whatever_the_case_prefix_or_blanks(address):
    expected = address.lower()
    for variant in (address, address.upper(), ' %s ' % address, 'SMTP:%s' % address, 'smtp: %s\t' % address.swapcase()):
        assert rem.normalize_address(variant) == expected


@given(ADDRESS, st.sampled_from(['\u200b', '\u00a0', '\u2028', '\x00', '\x1b', '\ufeff', '\u202e']), st.integers(min_value=0))
def test_invisible_characters_are_refused_and_named(address, char, where):
    position = 1 + where % (len(address) - 1)
    tainted = address[:position] + char + address[position:]
    assert rem.normalize_address(tainted) is None
    valid, invalid = rem.split_addresses([tainted])
    assert valid == [] and 'U+%04X' % ord(char) in invalid[0]['msg']
    assert 'U+%04X' % ord(char) in users.invalid_user_reference(tainted)


@given(st.lists(st.one_of(ADDRESS, st.text(max_size=30)), max_size=40))
@settings(max_examples=200)
def test_split_addresses_partitions_its_input(values):
    valid, invalid = rem.split_addresses(values)
    assert len(valid) == len(set(valid))
    assert all(rem.normalize_address(v) == v for v in valid)
    assert len(invalid) == sum(1 for v in values if rem.normalize_address(v) is None)
    assert set(valid) == {rem.normalize_address(v) for v in values} - {None}
    assert all(i['address'] in i['msg'] for i in invalid)


@given(st.lists(st.text(max_size=20), max_size=40))
def test_reference_keys_dedupe_case_insensitively_in_order(values):
    keys = users.reference_keys(values)
    assert len({k.lower() for k in keys}) == len(keys)
    assert [k.lower() for k in keys] == list(dict.fromkeys(str(v).strip().lower() for v in values))


# -- 10,000 addresses: linear work -------------------------------------------------------------------------


def _timed(function, *args):
    started = time.perf_counter()
    function(*args)
    return time.perf_counter() - started


def test_per_address_work_is_linear():
    """Splitting, de-duplicating and validating 40,000 addresses costs about four times 10,000, not sixteen."""
    def work(values):
        rem.split_addresses(values)
        keys = users.reference_keys(values)
        for key in keys:
            users.invalid_user_reference(key)

    small = ['User%d@Contoso.com' % i for i in range(10_000)] * 2
    large = ['User%d@Contoso.com' % i for i in range(40_000)] * 2
    work(small)  # warm up
    t_small = min(_timed(work, small) for dummy in range(3))
    t_large = min(_timed(work, large) for dummy in range(3))
    assert t_small < 2.0, t_small
    assert t_large < 8 * t_small, (t_small, t_large)
