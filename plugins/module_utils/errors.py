# -*- coding: utf-8 -*-
# Copyright (c) m365ops.remediation contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The collection's one exception type and helpers to keep secrets out of messages."""

from __future__ import annotations

import re
from typing import Any, Iterable

REDACTED = "********"

# Bearer tokens and JWT-shaped strings may end up in a service's echo of a request;
# they are removed even when the caller did not name them as secrets.
_JWT_RE = re.compile(r"\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*")
_BEARER_RE = re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]{8,}")


def redact(text: Any, secrets: Iterable[str | None] = ()) -> str:
    """Return ``text`` as a string with every secret, bearer token and JWT replaced by ``********``."""
    result = "" if text is None else str(text)
    # Longest first, so that a secret containing another secret is removed whole.
    for secret in sorted((s for s in secrets if s and len(s) >= 4), key=len, reverse=True):
        result = result.replace(secret, REDACTED)
    result = _JWT_RE.sub(REDACTED, result)
    result = _BEARER_RE.sub(lambda m: m.group(1) + REDACTED, result)
    return result


class M365Error(Exception):
    """An error from Entra, Graph, Exchange, the network or the configuration.

    ``service`` is one of ``auth``, ``graph``, ``exchange`` (or the transport's service label),
    ``status`` the HTTP status when there was a response, ``code`` the service's error code,
    ``request_id`` the id Microsoft support asks for, ``transient`` whether trying again later may help,
    ``exception_type`` the .NET exception type Exchange names for a failed cmdlet (for example
    ``Microsoft.Exchange.Configuration.Tasks.ManagementObjectNotFoundException``), kept apart from the message.
    """

    def __init__(
        self,
        message: str,
        *,
        service: str | None = None,
        status: int | None = None,
        code: str | None = None,
        request_id: str | None = None,
        details: Any = None,
        transient: bool = False,
        exception_type: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.service = service
        self.status = status
        self.code = code
        self.request_id = request_id
        self.details = details
        self.transient = transient
        self.exception_type = exception_type

    def __str__(self) -> str:
        parts = []
        if self.service:
            parts.append(self.service)
        # The exception's own name says more than the envelope's generic code (BadRequest, NotFound).
        kind = self.exception_type.rsplit(".", 1)[-1] if self.exception_type else self.code
        if kind:
            parts.append(str(kind))
        if self.status is not None:
            parts.append(f"HTTP {self.status}")
        prefix = f"[{' '.join(parts)}] " if parts else ""
        # One line: services put newlines (and trace blocks) in their messages.
        text = " ".join(str(self.message).split())
        suffix = f" (request-id: {self.request_id})" if self.request_id else ""
        return f"{prefix}{text}{suffix}"

    def __repr__(self) -> str:
        return (
            f"M365Error({self.message!r}, service={self.service!r}, status={self.status!r}, "
            f"code={self.code!r}, request_id={self.request_id!r}, transient={self.transient!r}, "
            f"exception_type={self.exception_type!r})"
        )

    def to_dict(self) -> dict[str, Any]:
        """The error as a plain dict for module results."""
        result: dict[str, Any] = {
            "service": self.service,
            "status": self.status,
            "code": self.code,
            "message": self.message,
            "request_id": self.request_id,
        }
        if self.exception_type:
            result["exception_type"] = self.exception_type
        if self.details:
            result["details"] = self.details
        return result
