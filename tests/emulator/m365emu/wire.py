"""HTTP request/response values shared by the services, and small formatting helpers."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs


@dataclass
class Request:
    """One HTTP request as the services see it (headers keyed lower-case)."""

    method: str
    path: str
    query_string: str
    headers: dict[str, str]
    body: bytes = b""
    client_ip: str = "127.0.0.1"

    @property
    def target(self) -> str:
        """Path plus query string, as sent."""
        return self.path + ("?" + self.query_string if self.query_string else "")

    def query(self) -> dict[str, str]:
        """Query parameters (last value wins), keys as sent."""
        return {k: v[-1] for k, v in parse_qs(self.query_string, keep_blank_values=True).items()}

    def header(self, name: str, default: str = "") -> str:
        """A header value, case-insensitive name."""
        return self.headers.get(name.lower(), default)

    def json(self) -> Any:
        """The body parsed as JSON; raises ValueError on malformed input."""
        if not self.body:
            return None
        return json.loads(self.body.decode("utf-8"))


@dataclass
class Response:
    """One HTTP response. ``drop`` closes the connection without answering."""

    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    drop: bool = False

    def json(self) -> Any:
        """The body parsed as JSON, or None when empty."""
        return json.loads(self.body) if self.body else None


JSON_TYPE = "application/json; charset=utf-8"
GRAPH_JSON_TYPE = "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8"


def json_response(status: int, payload: Any, headers: dict[str, str] | None = None, content_type: str = JSON_TYPE) -> Response:
    """Serialise ``payload`` as a JSON response."""
    hdrs = {"Content-Type": content_type}
    hdrs.update(headers or {})
    return Response(status, json.dumps(payload, separators=(",", ":")).encode("utf-8"), hdrs)


def utcnow() -> dt.datetime:
    """Now, timezone-aware UTC."""
    return dt.datetime.now(dt.timezone.utc)


def iso_seconds(when: dt.datetime | None = None) -> str:
    """Graph's date-time format for user properties: ``2026-11-23T18:40:12Z``."""
    return (when or utcnow()).astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def iso_precise(when: dt.datetime | None = None) -> str:
    """.NET round-trip UTC format with 7 fractional digits: ``2026-11-20T08:00:00.0000000Z``."""
    when = (when or utcnow()).astimezone(dt.timezone.utc)
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond:06d}0Z"


def parse_datetime(value: str) -> dt.datetime:
    """Parse the ISO 8601 forms the seeds and services use (``Z`` suffix, up to 7 fractional digits)."""
    text = value.strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    # Python accepts at most 6 fractional digits; .NET writes 7.
    if "." in text:
        head, _sep, rest = text.partition(".")
        digits = ""
        while rest and rest[0].isdigit():
            digits, rest = digits + rest[0], rest[1:]
        text = f"{head}.{digits[:6].ljust(6, '0')}{rest}"
    parsed = dt.datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.timezone.utc)
    return parsed.astimezone(dt.timezone.utc)


def new_id() -> str:
    """A random GUID string, as the services use for request ids."""
    return str(uuid.uuid4())
