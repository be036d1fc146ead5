# -*- coding: utf-8 -*-
# Copyright (c) m365ops.remediation contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""HTTPS transport shared by the token, Graph and Exchange clients: one connection pool, one retry rule.

Retry rule
----------
A request is retried when the answer is one of ``RETRY_STATUSES`` (429, 503, 504) or
when the connection failed, waiting for ``Retry-After`` (seconds or an HTTP date, clamped to
``retry_after_max``) or else for an exponential backoff with full jitter; at most ``max_attempts``
attempts and ``max_total_wait`` seconds of sleeping per call.

A non-idempotent request (POST and PATCH unless the caller says otherwise) is retried only when the
service certainly did not apply it:

* 429 and 503: the service refused the request before doing anything;
* a refusal the caller recognises whatever its status (``refused``: Exchange's plain-text concurrency
  refusal), which is also counted as throttling;
* a connection that could not be opened (refused, DNS failure, connect timeout): nothing was sent.

It is never retried after a 504 (the gateway gave up, the back end may have finished), after a read
timeout or a connection dropped after the request was sent (the outcome is unknown), nor after any
other 4xx or 5xx. Those answers go back to the caller, who reports them.

Certificate verification and proxies
------------------------------------
Requests go through requests' HTTPAdapter (its connection pool, exceptions and responses), prepared as a
``requests.Session`` prepares them, without a session: a session reads the whole environment on every request
(its proxy variables, then ``~/.netrc``, whose login would replace the ``Authorization`` header), which cost
about a third of a request's CPU. The transport reads the environment once instead, and passes ``verify`` and
``proxies`` explicitly on every call:

* ``verify``: an explicit CA path or ``False`` is used as given, whatever the environment says
  (through a session, ``REQUESTS_CA_BUNDLE`` would override it); ``True`` means requests' usual default trust,
  which honours ``REQUESTS_CA_BUNDLE`` or else ``CURL_CA_BUNDLE``, as corporate hosts with TLS inspection expect.
* ``proxies``: requests' own reading of ``HTTPS_PROXY``, ``HTTP_PROXY``, ``ALL_PROXY`` and ``NO_PROXY``
  (``requests.utils.get_environ_proxies``), at the first request to each scheme and host.
"""

from __future__ import annotations

import datetime
import email.utils
import math
import os
import random
import threading
import time
import traceback
from dataclasses import dataclass
from typing import Any, Callable

from ansible_collections.m365ops.remediation.plugins.module_utils.errors import M365Error

try:
    import requests
    import requests.adapters
    import requests.cookies
    import requests.exceptions
    import requests.utils
    import urllib3.exceptions
except ImportError:
    requests = None
    HAS_REQUESTS = False
    REQUESTS_IMPORT_ERROR: str | None = traceback.format_exc()
else:
    HAS_REQUESTS = True
    REQUESTS_IMPORT_ERROR = None


IDEMPOTENT_METHODS = frozenset(("GET", "HEAD", "PUT", "DELETE", "OPTIONS"))
# Statuses worth another attempt: throttled, unavailable, the gateway gave up.
RETRY_STATUSES = frozenset((429, 503, 504))
# Statuses with which a service says it refused the request without acting on it.
REFUSED_STATUSES = frozenset((429, 503))


def may_retry(status: int | None = None, *, idempotent: bool, refused: bool = False, not_sent: bool = False) -> bool:
    """The one rule for sending a request again (see the module docstring).

    ``status`` is the answer's (None when no answer came); ``refused`` says the service refused it whatever the
    status (Exchange's plain-text concurrency refusal); ``not_sent`` that the connection never opened. A request
    that is not idempotent goes again only when the service certainly did not apply it.
    """
    if refused or not_sent:
        return True
    if status is None:
        return idempotent
    return status in RETRY_STATUSES and (idempotent or status in REFUSED_STATUSES)


@dataclass
class RetryPolicy:
    """Tunable retry limits; all times in seconds."""

    max_attempts: int = 6
    max_total_wait: float = 120.0
    backoff_base: float = 0.5
    backoff_max: float = 30.0
    retry_after_max: float = 60.0

    def delay(self, attempt: int, retry_after: str | None, rng: Any, now: float | None = None) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based): Retry-After if usable, else backoff."""
        seconds = parse_retry_after(retry_after, now)
        if seconds is None:
            return backoff_delay(attempt, self, rng)
        return min(seconds, max(0.0, self.retry_after_max))


def parse_retry_after(value: Any, now: float | None = None) -> float | None:
    """Parse a ``Retry-After`` value: seconds (int or float) or an HTTP date. ``None`` when unusable.

    A date in the past gives 0. Negative, non-finite and malformed values give ``None``. Never raises.
    """
    try:
        if value is None:
            return None
        if isinstance(value, bytes):
            value = value.decode("latin-1")
        text = str(value).strip()
        if not text:
            return None
        try:
            seconds = float(text)
        except ValueError:
            seconds = None
        if seconds is not None:
            if not math.isfinite(seconds) or seconds < 0:
                return None
            return seconds
        when = email.utils.parsedate_to_datetime(text)
        if when is None:
            return None
        if when.tzinfo is None:
            # RFC 7231 dates are GMT; parsedate_to_datetime leaves "-0000" naive.
            when = when.replace(tzinfo=datetime.timezone.utc)
        reference = time.time() if now is None else float(now)
        delta = when.timestamp() - reference
        if not math.isfinite(delta):
            return None
        return max(0.0, delta)
    except Exception:  # pylint: disable=broad-exception-caught
        # A header is untrusted input: whatever it holds, fall back to backoff.
        return None


def backoff_delay(attempt: int, policy: RetryPolicy, rng: Any = None) -> float:
    """Exponential backoff with full jitter: uniform in [0, min(backoff_max, backoff_base * 2**(attempt-1))]."""
    rng = rng if rng is not None else random
    exponent = min(max(int(attempt) - 1, 0), 62)
    cap = min(max(policy.backoff_max, 0.0), max(policy.backoff_base, 0.0) * (2 ** exponent))
    return rng.random() * cap


class Attempts:
    """One call's attempts under the transport's :class:`RetryPolicy`: their number and the time spent waiting.

    Plain requests, the token endpoint's and ``$batch`` rounds all count and wait through it, so that every
    retry keeps the same limits.
    """

    def __init__(self, transport: "Transport") -> None:
        self.transport = transport
        self.policy = transport.retry
        self.count = 0
        self.waited = 0.0

    def start(self) -> int:
        """Count one more attempt; its number (1-based)."""
        self.count += 1
        return self.count

    def again(self, retry_after: Any = None, delay: float | None = None, retried: int = 1) -> bool:
        """Wait before the next attempt (``delay``, else ``Retry-After``, else backoff) and say True; False, without
        waiting, when the attempts or the total wait of the policy are used up. ``retried`` is how many requests
        the next attempt sends again (a ``$batch`` round may hold many)."""
        if self.count >= self.policy.max_attempts:
            return False
        if delay is None:
            delay = self.policy.delay(self.count, retry_after, self.transport.rng)
        if self.waited + delay > self.policy.max_total_wait:
            return False
        self.waited += delay
        self.transport.stats.add("retries", retried)
        self.transport.wait(delay)
        return True


class TransportStats:
    """Thread-safe counters; read them with :meth:`as_dict` or as attributes/items."""

    _FIELDS = ("requests", "retries", "throttled", "sleeps", "sleep_seconds")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests = 0
        self.retries = 0
        self.throttled = 0
        self.sleeps = 0
        self.sleep_seconds = 0.0
        self.by_service: dict[str, int] = {}

    def add(self, field: str, amount: float = 1, service: str | None = None) -> None:
        """Add ``amount`` to a counter (and to the per-service request count for ``requests``)."""
        with self._lock:
            setattr(self, field, getattr(self, field) + amount)
            if field == "requests" and service:
                self.by_service[service] = self.by_service.get(service, 0) + 1

    def as_dict(self) -> dict[str, Any]:
        """A consistent snapshot of all counters."""
        with self._lock:
            result: dict[str, Any] = {name: getattr(self, name) for name in self._FIELDS}
            result["by_service"] = dict(self.by_service)
            return result

    def __getitem__(self, name: str) -> Any:
        return self.as_dict()[name]


def _causes(exc: BaseException, depth: int = 8):
    """The exception and what it wraps (requests wraps urllib3's exceptions in args and ``reason``)."""
    seen: set[int] = set()
    stack: list[Any] = [exc]
    while stack and depth > 0:
        item = stack.pop()
        if not isinstance(item, BaseException) or id(item) in seen:
            continue
        seen.add(id(item))
        depth -= 1
        yield item
        stack.extend(a for a in getattr(item, "args", ()) if isinstance(a, BaseException))
        for attr in ("reason", "__cause__", "__context__"):
            stack.append(getattr(item, attr, None))


def request_not_sent(exc: BaseException) -> bool:
    """True when a transport failure certainly happened before any byte of the request reached the server.

    Connect timeouts, refused connections and DNS failures (urllib3 ``NewConnectionError`` and
    ``ConnectTimeoutError``) qualify. Read timeouts, resets and ``RemoteDisconnected`` after sending do not:
    the server may have acted on the request.
    """
    if not HAS_REQUESTS:
        return False
    if isinstance(exc, requests.exceptions.ReadTimeout):
        return False
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return True
    for cause in _causes(exc):
        if isinstance(cause, (urllib3.exceptions.NewConnectionError, urllib3.exceptions.ConnectTimeoutError)):
            return True
    return False


def _describe(exc: BaseException) -> str:
    """A short description of a transport failure: the innermost useful reason, one line."""
    text = str(exc)
    for cause in _causes(exc):
        if isinstance(cause, OSError) and not isinstance(cause, (requests.exceptions.RequestException,)):
            text = f"{text} ({cause})" if str(cause) not in text else text
            break
    return " ".join(text.split())[:500]


class AdaptiveLimit:
    """How many requests to one service may be in flight at once: halved when the service throttles, one
    more after a run of successes (additive increase, multiplicative decrease).

    Requests that were already in flight when the limit went down do not lower it again: a burst of 429s
    answering one wave counts once.
    """

    def __init__(self, start: int = 4, maximum: int = 16, grow_after: int = 8) -> None:
        self.maximum = max(1, maximum)
        self.limit = max(1, min(start, self.maximum))
        self.grow_after = max(1, grow_after)
        self.in_flight = 0
        self.epoch = 0
        self.successes = 0
        self.cond = threading.Condition()

    def acquire(self) -> int:
        """Wait for a slot; returns the epoch the request started in."""
        with self.cond:
            while self.in_flight >= self.limit:
                self.cond.wait()
            self.in_flight += 1
            return self.epoch

    def release(self, epoch: int, throttled: bool) -> None:
        """Give the slot back, learning from how the request went."""
        with self.cond:
            self.in_flight -= 1
            if throttled:
                self.successes = 0
                if epoch == self.epoch:
                    self.limit = max(1, self.limit // 2)
                    self.epoch += 1
            else:
                self.successes += 1
                if self.successes >= self.grow_after and self.limit < self.maximum:
                    self.limit += 1
                    self.successes = 0
            self.cond.notify_all()


class Transport:
    """One connection pool with a retry rule, shared by every client (and by worker threads)."""

    def __init__(
        self,
        *,
        verify: bool | str = True,
        timeout: float = 60.0,
        retry: RetryPolicy | None = None,
        pool_size: int = 16,
        user_agent: str = "m365ops.remediation/0.1.0",
        sleep: Callable[[float], Any] = time.sleep,
        rng: Any = None,
    ) -> None:
        if not HAS_REQUESTS:
            raise M365Error(
                "The Python library 'requests' is required on the controller: pip install requests msal",
                service="transport", code="missing_library", details=REQUESTS_IMPORT_ERROR,
            )
        self.verify = verify
        # What verify=True means here: the bundle the environment names, read once (see above).
        self.trust = _default_trust(verify)
        self.timeout = timeout
        self.retry = retry if retry is not None else RetryPolicy()
        self.sleep = sleep
        self.rng = rng if rng is not None else random.Random()
        self.stats = TransportStats()
        self.limits: dict[str, AdaptiveLimit] = {}
        # One connection pool for every client, used through requests' own adapter: a request is prepared and sent
        # the way ``requests.Session`` does it (default headers, cookies, the same exceptions and responses), without
        # what a session adds on each call and this transport does not use (environment, hooks, redirects).
        self.adapter = requests.adapters.HTTPAdapter(pool_connections=pool_size, pool_maxsize=pool_size)
        self.headers = requests.utils.default_headers()
        self.headers["User-Agent"] = user_agent
        self.cookies = requests.cookies.RequestsCookieJar()
        # The proxies the environment names, per scheme and host, read at the first request to each.
        self._proxies: dict[str, dict[str, str]] = {}

    def close(self) -> None:
        """Close pooled connections."""
        self.adapter.close()

    def __enter__(self) -> "Transport":
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    def wait(self, seconds: float) -> None:
        """Sleep (through the injected ``sleep``) and count it."""
        if seconds <= 0:
            return
        self.stats.add("sleeps")
        self.stats.add("sleep_seconds", seconds)
        self.sleep(seconds)

    def proxies(self, url: str) -> dict[str, str]:
        """The proxies the environment names for ``url`` (none when ``NO_PROXY`` covers its host), read at the first
        request to its scheme and host."""
        scheme, dummy, rest = url.partition("://")
        key = scheme.lower() + "://" + rest.split("/", 1)[0].lower()
        found = self._proxies.get(key)
        if found is None:
            found = self._proxies[key] = requests.utils.get_environ_proxies(url, no_proxy=None)
        return found

    def send(self, method: str, url: str, *, headers: dict[str, str] | None = None, params: Any = None, json: Any = None,
             data: Any = None, timeout: float | None = None, **ignored: Any):
        """One attempt, no retry and no redirect: verify, proxies and timeout are always explicit (what else a
        session's ``request`` would take is ignored)."""
        request = requests.Request(method, url, headers=dict(self.headers, **(headers or {})), params=params, json=json,
                                   data=data, cookies=self.cookies).prepare()
        response = self.adapter.send(request, timeout=self.timeout if timeout is None else timeout, verify=self.trust,
                                     proxies=self.proxies(url))
        requests.cookies.extract_cookies_to_jar(self.cookies, request, response.raw)
        # Read now, as a session does: the connection goes back to the pool.
        response.content  # pylint: disable=pointless-statement
        return response

    def request(
        self,
        method: str,
        url: str,
        *,
        service: str,
        headers: dict[str, str] | None = None,
        params: Any = None,
        json: Any = None,
        data: Any = None,
        idempotent: bool | None = None,
        timeout: float | None = None,
        refused: Callable[[Any], bool] | None = None,
    ):
        """Send a request with the retry rule (see the module docstring); return the final response.

        Error statuses are returned, not raised: decoding them is the service client's job. Transport
        failures that cannot be retried (or no longer) raise :class:`M365Error` with ``service``.
        ``refused`` tells a service's own refusal, whatever its status (Exchange's plain-text concurrency
        refusal): it counts as throttled, lowers the adaptive limit and is sent again, writes included.
        """
        method = method.upper()
        if idempotent is None:
            idempotent = method in IDEMPOTENT_METHODS
        attempts = Attempts(self)
        while True:
            attempt = attempts.start()
            self.stats.add("requests", service=service)
            limit = self.limits.get(service)
            epoch = limit.acquire() if limit else 0
            throttled = busy = False
            try:
                response = self.send(method, url, headers=headers, params=params, json=json, data=data, timeout=timeout)
                busy = refused is not None and response.status_code not in REFUSED_STATUSES and refused(response)
                throttled = response.status_code == 429 or busy
            except requests.exceptions.SSLError as exc:
                raise _tls_error(url, exc, service) from None
            except (requests.exceptions.ConnectionError, requests.exceptions.Timeout,
                    requests.exceptions.ChunkedEncodingError) as exc:
                not_sent = request_not_sent(exc)
                if may_retry(idempotent=idempotent, not_sent=not_sent) and attempts.again(delay=backoff_delay(attempt, self.retry, self.rng)):
                    continue
                if not_sent or idempotent:
                    message = f"{method} {_host(url)} failed after {attempt} attempt(s): {_describe(exc)}"
                else:
                    message = (f"{method} {_host(url)} failed after the request was sent, so it may or may not "
                               f"have been applied; not retried: {_describe(exc)}")
                code = "timeout" if isinstance(exc, requests.exceptions.Timeout) else "connection_error"
                raise M365Error(message, service=service, code=code, transient=True) from None
            except requests.exceptions.RequestException as exc:
                raise M365Error(f"{method} {_host(url)}: {_describe(exc)}", service=service, code="request_error") from None
            finally:
                if limit:
                    limit.release(epoch, throttled)

            if throttled:
                self.stats.add("throttled")
            if may_retry(response.status_code, idempotent=idempotent, refused=busy) \
                    and attempts.again(response.headers.get("Retry-After")):
                response.close()
                continue
            return response

    def limit(self, service: str, maximum: int, start: int = 4) -> AdaptiveLimit:
        """Bound the requests in flight to ``service`` adaptively, at most ``maximum``; set once per service."""
        if service not in self.limits:
            self.limits[service] = AdaptiveLimit(start=start, maximum=maximum)
        return self.limits[service]

    def msal_http_client(self) -> "MsalHttpClient":
        """An ``http_client`` for msal that sends through this transport (its pool, ``verify`` and proxies)."""
        return MsalHttpClient(self)


def _default_trust(verify: bool | str) -> bool | str:
    """``verify`` as requests would settle it from the environment: a CA path or ``False`` as given; ``True`` (or
    nothing) is the bundle ``REQUESTS_CA_BUNDLE`` or ``CURL_CA_BUNDLE`` names, if any."""
    if verify is True or verify is None:
        return os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True
    return verify


def header_value(headers: Any, name: str) -> str | None:
    """A header value by case-insensitive name, from a response's headers or a plain dict (a ``$batch`` item's)."""
    if not headers:
        return None
    value = headers.get(name) if hasattr(headers, "get") else None
    if value is not None:
        return value
    lower = name.lower()
    for key, val in dict(headers).items():
        if str(key).lower() == lower:
            return val
    return None


def response_json(response: Any) -> tuple[str, Any]:
    """A response's text and its JSON body (None when empty or not JSON); never raises."""
    text = response.text if response.content else ""
    body: Any = None
    if text:
        try:
            body = response.json()
        except ValueError:
            body = None
    return text, body


def _tls_error(url: str, exc: BaseException, service: str) -> M365Error:
    """A TLS failure, saying what to check."""
    return M365Error(f"TLS error talking to {_host(url)}: {_describe(exc)}. Check ca_bundle / validate_certs.",
                     service=service, code="tls_error")


def _host(url: str) -> str:
    """Scheme, host and path of a URL without its query (which may carry ids but never secrets here)."""
    return url.split("?", 1)[0]


class MsalHttpClient:
    """The ``http_client`` interface msal expects: ``get``, ``post``, ``close``.

    A connection that failed (refused, dropped, timed out) is tried again within the transport's
    RetryPolicy: asking for a token, or for discovery, has no effect on the tenant, so repeating it is
    always safe. Answers, throttled ones included, go to msal unchanged. Transport failures become
    :class:`M365Error` (service ``auth``) so that they never carry a request body (the secret).
    """

    def __init__(self, transport: Transport) -> None:
        self._transport = transport

    def _call(self, method: str, url: str, **kwargs: Any):
        kwargs.pop("verify", None)
        kwargs.pop("proxies", None)
        attempts = Attempts(self._transport)
        while True:
            attempt = attempts.start()
            self._transport.stats.add("requests", service="auth")
            try:
                return self._transport.send(method, url, **kwargs)
            except requests.exceptions.SSLError as exc:
                raise _tls_error(url, exc, "auth") from None
            except (requests.exceptions.ConnectionError, requests.exceptions.Timeout,
                    requests.exceptions.ChunkedEncodingError) as exc:
                # Asking for a token or for discovery changes nothing: always safe to repeat.
                if may_retry(idempotent=True) and attempts.again(delay=backoff_delay(attempt, self._transport.retry, self._transport.rng)):
                    continue
                raise M365Error(
                    f"{method} {_host(url)} failed after {attempt} attempt(s): {_describe(exc)}", service="auth",
                    code="connection_error", transient=True,
                ) from None
            except requests.exceptions.RequestException as exc:
                raise M365Error(
                    f"{method} {_host(url)} failed: {_describe(exc)}", service="auth", code="connection_error", transient=True,
                ) from None

    def get(self, url: str, params: Any = None, headers: dict | None = None, **kwargs: Any):
        """GET for msal (discovery)."""
        return self._call("GET", url, params=params, headers=headers, **kwargs)

    def post(self, url: str, params: Any = None, data: Any = None, headers: dict | None = None, **kwargs: Any):
        """POST for msal (token requests)."""
        return self._call("POST", url, params=params, data=data, headers=headers, **kwargs)

    def close(self) -> None:
        """The pool belongs to the Transport: nothing to close here."""
