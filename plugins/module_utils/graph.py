# -*- coding: utf-8 -*-
# Copyright (c) m365ops.remediation contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Microsoft Graph v1.0 client: requests, paging and JSON batching (the resources build on it)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Iterator
from urllib.parse import quote, urlencode

from ansible_collections.m365ops.remediation.plugins.module_utils.auth import GRAPH_RESOURCE
from ansible_collections.m365ops.remediation.plugins.module_utils.errors import M365Error
from ansible_collections.m365ops.remediation.plugins.module_utils.service import ServiceClient
from ansible_collections.m365ops.remediation.plugins.module_utils.transport import (
    IDEMPOTENT_METHODS,
    RETRY_STATUSES,
    Attempts,
    backoff_delay,
    header_value,
    may_retry,
    parse_retry_after,
    response_json,
)

BATCH_LIMIT = 20
# The error codes with which Graph refuses a token (expired or revoked in the middle of a call).
TOKEN_ERRORS = frozenset(("InvalidAuthenticationToken", "CompactToken_ValidationFailed", "TokenExpired"))


def graph_error(status: int | None, body: Any, headers: Any = None, text: str | None = None,
                service: str = "graph") -> M365Error:
    """The M365Error for a Graph error answer (a whole response or one $batch item)."""
    code = None
    message = None
    request_id = None
    details = None
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        error = body["error"]
        code = error.get("code")
        message = error.get("message")
        inner = error.get("innerError") or error.get("innererror") or {}
        if isinstance(inner, dict):
            request_id = inner.get("request-id") or inner.get("requestId")
        if error.get("details"):
            details = error.get("details")
    request_id = request_id or header_value(headers, "request-id") or header_value(headers, "client-request-id")
    if not message:
        snippet = " ".join((text or "").split())[:200]
        message = f"HTTP {status}" + (f": {snippet}" if snippet else " with no error details")
    return M365Error(message, service=service, status=status, code=code, request_id=request_id, details=details,
                     transient=status in RETRY_STATUSES)


def decode_response(response: Any, service: str = "graph") -> Any:
    """JSON body of a successful response (None when empty); raise the decoded error otherwise."""
    text, body = response_json(response)
    if not 200 <= response.status_code < 300:
        raise graph_error(response.status_code, body, response.headers, text, service=service)
    if text and body is None:
        raise M365Error(f"HTTP {response.status_code} with a body that is not JSON: {' '.join(text.split())[:200]}",
                        service=service, status=response.status_code, code="invalid_response",
                        request_id=header_value(response.headers, "request-id"))
    return body


@dataclass
class BatchItemResult:
    """One answer from a ``$batch`` request."""

    id: str
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None
    # Set when the batch got no answer at all (connection lost, timeout): status is then 0.
    failure: M365Error | None = None

    @property
    def ok(self) -> bool:
        """True for a 2xx status."""
        return 200 <= self.status < 300

    def error(self) -> M365Error | None:
        """The item's error as an M365Error (None when the item succeeded)."""
        if self.ok:
            return None
        if self.failure is not None:
            return self.failure
        return graph_error(self.status, self.body, self.headers)


class GraphClient(ServiceClient):
    """Microsoft Graph client over a shared :class:`Transport` (tokens and links: :class:`ServiceClient`)."""

    service = "graph"

    def __init__(self, transport: Any, credential: Any, endpoint: str = "https://graph.microsoft.com", *,
                 api_version: str = "v1.0") -> None:
        super().__init__(transport, credential, endpoint, "https://graph.microsoft.com", GRAPH_RESOURCE)
        self.api_version = api_version.strip("/")
        self.base_url = f"{self.endpoint}/{self.api_version}"

    # -- plumbing -------------------------------------------------------------------------------

    def url(self, path: str, params: dict[str, Any] | None = None) -> str:
        """Absolute URL for a path relative to the API version root (or an absolute URL on this host)."""
        if path.startswith(("https://", "http://")):
            self.check_host(path)
            url = path
        else:
            url = f"{self.base_url}/{path.lstrip('/')}"
        if params:
            # Keep OData's "$" and "," readable; spaces as %20 (Graph does not read "+" in $filter as a space).
            query = urlencode({k: v for k, v in params.items() if v is not None}, safe="$,'@:", quote_via=quote)
            url = f"{url}{'&' if '?' in url else '?'}{query}"
        return url

    def token_rejected(self, response: Any) -> bool:
        """Whether a 401 is about the token itself (expired, revoked) rather than something else."""
        try:
            code = (response.json().get("error") or {}).get("code")
        except (ValueError, AttributeError):
            code = None
        if code:
            return code in TOKEN_ERRORS
        # No body: fall back on the WWW-Authenticate challenge.
        challenge = (header_value(response.headers, "WWW-Authenticate") or "").lower()
        return "invalid_token" in challenge or not challenge

    def send(self, method: str, url: str, *, json: Any = None, idempotent: bool | None = None,
             headers: dict[str, str] | None = None) -> Any:
        """Send with a bearer token (renewed once on a 401 about the token)."""
        def with_token(token: str) -> dict[str, str]:
            return dict({"Authorization": f"Bearer {token}", "Accept": "application/json"}, **(headers or {}))
        return self.send_with_token(method, url, with_token, json=json, idempotent=idempotent)

    def request(self, method: str, path: str, *, json: Any = None, params: dict[str, Any] | None = None,
                idempotent: bool | None = None, headers: dict[str, str] | None = None) -> Any:
        """Call Graph; return the decoded JSON (None for an empty body) or raise M365Error."""
        response = self.send(method, self.url(path, params), json=json, idempotent=idempotent, headers=headers)
        return decode_response(response)

    def iter_pages(self, path: str, params: dict[str, Any] | None = None) -> Iterator[dict[str, Any]]:
        """Yield each page (the decoded JSON object) of a collection, following ``@odata.nextLink``.

        A nextLink must stay on the configured endpoint (scheme and host): a link elsewhere raises.
        """
        url = self.url(path, params)
        while url:
            page = decode_response(self.send("GET", url)) or {}
            yield page
            next_link = page.get("@odata.nextLink")
            if next_link:
                self.check_host(next_link)
            url = next_link

    def iter_items(self, path: str, params: dict[str, Any] | None = None) -> Iterator[dict[str, Any]]:
        """Yield every item of every page's ``value``."""
        for page in self.iter_pages(path, params):
            yield from page.get("value") or []

    def get_collections(self, paths: list[str]) -> list[Any]:
        """Every item of the collection at each path (relative to the version root), all the first pages in
        ``$batch``, then each one's next links: per path, the list of items or the M365Error that stopped it."""
        answers = self.batch([{"id": str(i), "method": "GET", "url": path} for i, path in enumerate(paths)]) if paths else {}
        out: list[Any] = []
        for i in range(len(paths)):
            answer = answers[str(i)]
            if not answer.ok:
                out.append(answer.error())
                continue
            body = answer.body or {}
            items: Any = list(body.get("value") or [])
            if body.get("@odata.nextLink"):
                try:
                    items.extend(self.iter_items(body["@odata.nextLink"]))
                except M365Error as error:
                    items = error
            out.append(items)
        return out

    # -- $batch ---------------------------------------------------------------------------------

    def batch(self, requests: list[dict[str, Any]], *, max_concurrency: int = 4) -> dict[str, BatchItemResult]:
        """Run many requests through ``POST /$batch`` and return one result per request id.

        Requests (``{"id", "method", "url", "body"?, "headers"?}``, url relative to the version root)
        are sent 20 per batch, up to ``max_concurrency`` batches at a time. Items answered 429/503 (and
        504 for reads) are sent again in a later round, after the longest item ``Retry-After`` (else a
        backoff), within the transport's RetryPolicy (attempts and total wait). Items answered 401
        because the token expired in the middle of the call are sent again once with a fresh token (a
        401 is a refusal before any processing, so this is safe for writes too). Every other answer is
        final. When a whole batch POST fails, each of its items gets that status and error body.
        ``dependsOn`` chains are not supported: items must be independent.

        A write item may say ``"idempotent": True`` (revoking sessions: doing it twice is the same as once);
        it is then retried like a read, also after a 504 or a dropped batch. The flag is not sent to Graph.
        """
        repeatable = {str(raw.get("id")) for raw in requests if isinstance(raw, dict) and raw.get("idempotent")}
        items: list[dict[str, Any]] = []
        seen: set[str] = set()
        for raw in requests:
            item = self._batch_item(raw)
            if item["id"] in seen:
                raise M365Error(f"Duplicate $batch request id {item['id']!r}", service="graph", code="invalid_argument")
            seen.add(item["id"])
            items.append(item)
        results: dict[str, BatchItemResult] = {}
        retry_after_max = self.transport.retry.retry_after_max
        attempts = Attempts(self.transport)
        pending = items
        refreshed = False
        executor = None
        try:
            while pending:
                round_no = attempts.start()
                chunks = [pending[i:i + BATCH_LIMIT] for i in range(0, len(pending), BATCH_LIMIT)]
                workers = max(1, min(int(max_concurrency or 1), len(chunks)))
                if workers > 1 and executor is None:
                    executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="graph-batch")
                if workers > 1:
                    answers = list(executor.map(lambda chunk: self._post_batch(chunk, repeatable), chunks))
                else:
                    answers = [self._post_batch(chunk, repeatable) for chunk in chunks]
                retry: list[dict[str, Any]] = []
                rejected: list[dict[str, Any]] = []
                delays: list[float] = []
                by_id = {item["id"]: item for item in pending}
                for answer in answers:
                    for result in answer:
                        item = by_id.get(result.id)
                        if item is None:
                            continue
                        results[result.id] = result
                        if result.status and may_retry(result.status, idempotent=item["method"] in IDEMPOTENT_METHODS or item["id"] in repeatable):
                            retry.append(item)
                            seconds = parse_retry_after(header_value(result.headers, "Retry-After"))
                            if seconds is not None:
                                delays.append(min(seconds, retry_after_max))
                        elif result.status == 401 and not refreshed and _item_token_rejected(result):
                            rejected.append(item)
                if rejected:
                    refreshed = True
                    if self.renewed_token(self.credential.get_token(self.resource)) is not None:
                        retry.extend(rejected)
                        if not delays and len(retry) == len(rejected):
                            # Only token refusals: resend at once, no backoff needed.
                            delays.append(0.0)
                delay = max(delays) if delays else backoff_delay(round_no, self.transport.retry, self.transport.rng)
                if not retry or not attempts.again(delay=delay, retried=len(retry)):
                    break
                pending = retry
        finally:
            if executor is not None:
                executor.shutdown(wait=True)
        return results

    @staticmethod
    def _batch_item(raw: dict[str, Any]) -> dict[str, Any]:
        if not isinstance(raw, dict) or raw.get("id") in (None, "") or not raw.get("method") or not raw.get("url"):
            raise M365Error("Each $batch request needs id, method and url", service="graph", code="invalid_argument")
        item: dict[str, Any] = {"id": str(raw["id"]), "method": str(raw["method"]).upper(), "url": str(raw["url"])}
        headers = dict(raw.get("headers") or {})
        if raw.get("body") is not None:
            item["body"] = raw["body"]
            if not any(k.lower() == "content-type" for k in headers):
                headers["Content-Type"] = "application/json"
        if headers:
            item["headers"] = headers
        return item

    def _post_batch(self, chunk: list[dict[str, Any]], repeatable: set[str] | frozenset = frozenset()) -> list[BatchItemResult]:
        """POST one batch of at most 20 items; per-item results (the batch's own failure copied to each item)."""
        idempotent = all(item["method"] in IDEMPOTENT_METHODS or item["id"] in repeatable for item in chunk)
        try:
            response = self.send("POST", f"{self.base_url}/$batch", json={"requests": chunk}, idempotent=idempotent)
        except M365Error as error:
            if error.status is not None or error.code not in ("timeout", "connection_error"):
                raise
            # No answer (the transport already retried what it safely could): every item of this batch
            # failed with that error, and the other batches stand. Writes may or may not have been applied.
            return [BatchItemResult(item["id"], 0, {}, None, error) for item in chunk]
        if not 200 <= response.status_code < 300:
            try:
                body = response.json()
            except ValueError:
                snippet = " ".join(response.text.split())[:200]
                body = {"error": {"code": None, "message": f"HTTP {response.status_code}: {snippet}"}}
            headers = dict(response.headers)
            return [BatchItemResult(item["id"], response.status_code, headers, body) for item in chunk]
        payload = decode_response(response) or {}
        results = []
        answered = set()
        for entry in payload.get("responses") or []:
            if not isinstance(entry, dict) or "id" not in entry:
                continue
            result = BatchItemResult(str(entry["id"]), int(entry.get("status") or 0),
                                     dict(entry.get("headers") or {}), entry.get("body"))
            answered.add(result.id)
            results.append(result)
        for item in chunk:
            if item["id"] not in answered:
                results.append(BatchItemResult(item["id"], 502, {}, {"error": {
                    "code": "missingBatchResponse", "message": "Graph returned no response for this batch item"}}))
        return results


def _item_token_rejected(result: BatchItemResult) -> bool:
    """Whether a $batch item's 401 is about the token (expired or revoked in the middle of the call)."""
    error = result.body.get("error") if isinstance(result.body, dict) else None
    code = error.get("code") if isinstance(error, dict) else None
    return not code or code in TOKEN_ERRORS
