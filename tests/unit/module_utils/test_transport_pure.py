"""Retry-After parsing and backoff bounds: pure functions, no network."""

from __future__ import annotations

import email.utils
import math
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.m365ops.remediation.plugins.module_utils.transport import (
    RETRY_STATUSES,
    RetryPolicy,
    backoff_delay,
    may_retry,
    parse_retry_after,
)

NOW = 1_800_000_000.0


@pytest.mark.parametrize("value, expected", [
    ("0", 0.0),
    ("5", 5.0),
    (" 12 ", 12.0),
    ("1.5", 1.5),
    (b"3", 3.0),
    (7, 7.0),
])
def test_seconds(value, expected):
    assert parse_retry_after(value, NOW) == expected


def test_http_date_in_future_and_past():
    future = email.utils.formatdate(NOW + 30, usegmt=True)
    assert parse_retry_after(future, NOW) == pytest.approx(30.0)
    past = email.utils.formatdate(NOW - 30, usegmt=True)
    assert parse_retry_after(past, NOW) == 0.0
    # The RFC 850 and asctime forms are allowed too.
    assert parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", 784111777.0 - 10) == pytest.approx(10.0)


@pytest.mark.parametrize("value", [None, "", "   ", "-1", "-0.5", "soon", "inf", "nan", "1e999", "Fri, 99 Foo 2024",
                                   "12abc", [], {}, object()])
def test_garbage_and_negative_give_none(value):
    assert parse_retry_after(value, NOW) is None


@given(st.one_of(st.text(), st.binary(), st.integers(), st.floats(allow_nan=True), st.none()))
@settings(max_examples=500)
def test_never_raises(value):
    result = parse_retry_after(value, NOW)
    assert result is None or (result >= 0 and math.isfinite(result))


@given(st.datetimes(timezones=st.just(__import__("datetime").timezone.utc)))
@settings(max_examples=200)
def test_any_http_date_parses_to_non_negative(when):
    text = email.utils.format_datetime(when, usegmt=True)
    result = parse_retry_after(text, NOW)
    assert result is not None and result >= 0


def test_policy_delay_caps_huge_retry_after():
    policy = RetryPolicy(retry_after_max=60.0)
    assert policy.delay(1, "86400", random.Random(1), NOW) == 60.0
    assert policy.delay(1, "2", random.Random(1), NOW) == 2.0
    future = email.utils.formatdate(NOW + 3600, usegmt=True)
    assert policy.delay(1, future, random.Random(1), NOW) == 60.0


def test_policy_delay_falls_back_to_backoff():
    policy = RetryPolicy(backoff_base=1.0, backoff_max=8.0)
    for attempt in range(1, 10):
        delay = policy.delay(attempt, "garbage", random.Random(attempt), NOW)
        assert 0 <= delay <= min(8.0, 2 ** (attempt - 1))


@given(st.integers(min_value=-5, max_value=10_000), st.floats(min_value=0, max_value=100), st.floats(min_value=0, max_value=1000))
def test_backoff_bounds(attempt, base, maximum):
    policy = RetryPolicy(backoff_base=base, backoff_max=maximum)
    delay = backoff_delay(attempt, policy, random.Random(attempt))
    assert 0 <= delay <= maximum
    assert delay <= base * 2 ** min(max(attempt - 1, 0), 62)


def test_backoff_is_full_jitter():
    policy = RetryPolicy(backoff_base=1.0, backoff_max=30.0)
    rng = random.Random(42)
    samples = [backoff_delay(5, policy, rng) for dummy in range(2000)]
    assert max(samples) <= 16.0
    assert min(samples) < 1.0  # full jitter reaches close to zero
    assert max(samples) > 15.0


def test_policy_defaults():
    policy = RetryPolicy()
    assert (policy.max_attempts, policy.max_total_wait, policy.backoff_base, policy.backoff_max,
            policy.retry_after_max) == (6, 120.0, 0.5, 30.0, 60.0)


@pytest.mark.parametrize("status", [None, 200, 400, 401, 404, 429, 500, 502, 503, 504])
def test_one_rule_for_sending_again(status):
    """Reads go again on every retry status and on a lost connection; writes only when the service certainly did
    not apply them: refused (429, 503, or a refusal by its text), or never sent."""
    assert may_retry(status, idempotent=True) == (status is None or status in RETRY_STATUSES)
    assert may_retry(status, idempotent=False) == (status in (429, 503))
    assert may_retry(status, idempotent=False, refused=True)
    assert may_retry(status, idempotent=False, not_sent=True)
