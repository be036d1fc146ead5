# Copyright: m365ops.remediation contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Calls run side by side, a service error kept as the answer of the item it concerns."""

from __future__ import annotations

import typing as t
from concurrent.futures import ThreadPoolExecutor

from ansible_collections.m365ops.remediation.plugins.module_utils.errors import M365Error

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
