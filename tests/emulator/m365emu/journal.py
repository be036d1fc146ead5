"""Request journal and counters. Entries never hold bodies, passwords, secrets or tokens.

A body is journaled only as its shape (:func:`shape`): field names and JSON type names, never a value.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from typing import Any

from .wire import iso_precise

# Benchmarks make ~100k requests; past this many entries the oldest half is dropped.
MAX_ENTRIES = 1_000_000
# Deeper than this a shape says "object" or "array": no request the collection sends nests so far.
MAX_SHAPE_DEPTH = 12


def shape(value: Any, depth: int = 0) -> Any:
    """The shape of a parsed JSON value: names and types, never a value.

    A scalar becomes its JSON type name (``string``, ``number``, ``boolean``, ``null``); an object becomes
    ``{name: shape}``; an array becomes the list of its elements' distinct shapes, in first-seen order
    (``[]`` when empty). ``{"passwordProfile": {"password": "..."}}`` is journaled as
    ``{"passwordProfile": {"password": "string"}}``.
    """
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, dict):
        if depth >= MAX_SHAPE_DEPTH:
            return "object"
        return {str(k): shape(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list):
        if depth >= MAX_SHAPE_DEPTH:
            return "array"
        out: list[Any] = []
        for item in value:
            item_shape = shape(item, depth + 1)
            if item_shape not in out:
                out.append(item_shape)
        return out
    return "string"


def body_shape(raw: bytes) -> Any:
    """The :func:`shape` of a JSON request body; None when there is no body or it is not JSON (a form, say)."""
    if not raw:
        return None
    try:
        return shape(json.loads(raw.decode("utf-8")))
    except (ValueError, UnicodeDecodeError):
        return None


def cmdlet_parameters_shape(body: Any) -> Any:
    """The shape of ``CmdletInput.Parameters`` within an InvokeCommand body's :func:`body_shape`; None when absent."""
    if not isinstance(body, dict) or not isinstance(body.get("CmdletInput"), dict):
        return None
    parameters = body["CmdletInput"].get("Parameters")
    return parameters if isinstance(parameters, dict) else None


class Journal:
    """Append-only list of small dicts with a contiguous ``seq`` starting at 1."""

    # For the services that journal a body they have already parsed (``$batch`` items).
    shape = staticmethod(shape)

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.entries: list[dict[str, Any]] = []
        self.first_seq = 1
        self.next_seq = 1
        self.counters: Counter[str] = Counter()

    def clear(self) -> None:
        """Forget every entry and counter (sequence numbers keep growing, so old marks stay meaningful)."""
        with self.lock:
            self.entries = []
            self.first_seq = self.next_seq
            self.counters = Counter()

    def record(self, entry: dict[str, Any]) -> int:
        """Append ``entry`` (seq and time are set here) and count it; returns its seq."""
        with self.lock:
            seq = self.next_seq
            self.next_seq += 1
            entry = {"seq": seq, "time": iso_precise(), **entry}
            self.entries.append(entry)
            if len(self.entries) > MAX_ENTRIES:
                drop = len(self.entries) // 2
                self.entries = self.entries[drop:]
                self.first_seq += drop
            self._count(entry)
            return seq

    def _count(self, entry: dict[str, Any]) -> None:
        status = entry.get("status")
        service = entry.get("service", "?")
        self.counters["requests"] += 1
        self.counters[f"service:{service}"] += 1
        self.counters[f"status:{status}"] += 1
        if status == 429:
            self.counters["429"] += 1
        if entry.get("refusal"):
            self.counters["refusal"] += 1
            if status != 429:
                self.counters["refusal_not_429"] += 1
        for item in entry.get("batch_items") or []:
            self.counters["batch_items"] += 1
            self.counters[f"batch_status:{item.get('status')}"] += 1
            if item.get("status") == 429:
                self.counters["batch_item_429"] += 1

    def bump(self, name: str, amount: int = 1) -> None:
        """Increment a named counter (e.g. exchange throttling reasons)."""
        with self.lock:
            self.counters[name] += amount

    def since(self, seq: int) -> tuple[int, list[dict[str, Any]]]:
        """``(next_seq, entries with seq >= seq)``."""
        with self.lock:
            start = max(0, seq - self.first_seq)
            return self.next_seq, [dict(e) for e in self.entries[start:]]

    def stats(self) -> dict[str, Any]:
        """Counters grouped for the control API."""
        with self.lock:
            counters = dict(self.counters)
            next_seq = self.next_seq
        out: dict[str, Any] = {
            "requests": counters.get("requests", 0),
            "throttled_429": counters.get("429", 0),
            # Refusals in Exchange's plain text: all of them, and those that came with another status than 429.
            "refusals": counters.get("refusal", 0),
            "refusals_not_429": counters.get("refusal_not_429", 0),
            "per_service": {},
            "per_status": {},
            "batch_items": counters.get("batch_items", 0),
            "batch_items_429": counters.get("batch_item_429", 0),
            "batch_item_status": {},
            "exchange_throttled": {},
            "faults_fired": counters.get("faults_fired", 0),
            "dropped": counters.get("dropped", 0),
            "next_seq": next_seq,
            "uptime_s": round(time.monotonic() - _STARTED, 3),
        }
        for key, value in counters.items():
            group, _sep, name = key.partition(":")
            if group == "service":
                out["per_service"][name] = value
            elif group == "status":
                out["per_status"][name] = value
            elif group == "batch_status":
                out["batch_item_status"][name] = value
            elif group == "exchange_throttled":
                out["exchange_throttled"][name] = value
        return out


_STARTED = time.monotonic()
