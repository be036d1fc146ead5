"""Known non-conformances of the collection's own requests, allowed for now so that the integration stage passes.

Each entry names what it covers and why; remove it when the request is fixed in plugins/. Keys:

* ``service``: ``graph`` or ``exchange``;
* ``request``: a regular expression searched in the request form as the check words it (``GET /users/{user-id}?$select=...``,
  ``$batch item PATCH /users/{user-id}``, ``Set-Mailbox -Identity -ForwardingSmtpAddress``);
* ``violation``: a regular expression searched in the violation's words;
* ``reason``: what is wrong, where the collection sends it, and which test showed it.
"""

from __future__ import annotations

ALLOWED: list[dict[str, str]] = []
