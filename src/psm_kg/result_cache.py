"""Query answers kept in memory, keyed like their ETags: a repeated query is not evaluated again.

The served dataset never changes while the server runs, so an answer stays right for as long as
it is kept; the key holds the dataset's content hash anyway, so a cache can never serve an answer
of another build. Least recently used answers go first once the entries pass ``capacity`` bytes;
an answer larger than an eighth of the capacity is not kept, so that one huge result cannot
empty the cache. Used from the event loop's thread only: no locking.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass


@dataclass(frozen=True)
class CachedAnswer:
    media_type: str
    body: bytes


class ResultCache:
    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._entries: OrderedDict[str, CachedAnswer] = OrderedDict()
        self._size = 0

    @property
    def size(self) -> int:
        """Bytes held by the kept answers."""
        return self._size

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: str) -> CachedAnswer | None:
        answer = self._entries.get(key)
        if answer is not None:
            self._entries.move_to_end(key)
        return answer

    def put(self, key: str, answer: CachedAnswer) -> None:
        size = len(answer.body)
        if size > self.capacity // 8 or key in self._entries:
            return
        self._entries[key] = answer
        self._size += size
        while self._size > self.capacity:
            _, evicted = self._entries.popitem(last=False)
            self._size -= len(evicted.body)
