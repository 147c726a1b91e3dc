"""The cross-customer candidate index: which stored messages might say nearly the same as this one?

MinHash band keys (see ``fingerprint.MinHasher``) are kept in memory as two ``uint32`` arrays per
band — sorted keys and the message sequence numbers beside them — so an index over N messages
holds ``8 * bands`` bytes per message (256 B with 32 bands) instead of the ~8.8 KB per item of a
general-purpose LSH library. The full signature is not kept at all: the band keys are stored with
each message, and rapidfuzz on the texts confirms every candidate.

New messages go to a small unsorted buffer that lookups scan directly; when it fills, it is
merged into the sorted arrays (one insert per band, linear in N). Within one key, sequence numbers
stay ascending, so a huge bucket (a form letter sent a hundred thousand times) is cut to its most
recent entries instead of slowing every lookup.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np


class CampaignIndex:
    """Band keys -> message sequence numbers, for ``bands`` bands."""

    def __init__(self, bands: int = 32, *, buffer_size: int = 4096, bucket_cap: int = 256) -> None:
        self.bands = bands
        self.bucket_cap = bucket_cap
        self._keys = np.zeros((bands, 0), dtype=np.uint32)
        self._seqs = np.zeros((bands, 0), dtype=np.uint32)
        self._buf_keys = np.zeros((bands, buffer_size), dtype=np.uint32)
        self._buf_seqs = np.zeros((bands, buffer_size), dtype=np.uint32)
        self._fill = 0

    def __len__(self) -> int:
        return self._keys.shape[1] + self._fill

    @property
    def memory_bytes(self) -> int:
        """Bytes held by the index arrays (the sorted arrays and the insert buffer)."""
        return self._keys.nbytes + self._seqs.nbytes + self._buf_keys.nbytes + self._buf_seqs.nbytes

    def add(self, seq: int, keys: np.ndarray) -> None:
        """Index one message (its ``uint32[bands]`` keys)."""
        if self._fill == self._buf_keys.shape[1]:
            self._merge()
        self._buf_keys[:, self._fill] = keys
        self._buf_seqs[:, self._fill] = seq
        self._fill += 1

    def add_many(self, seqs: np.ndarray, keys: np.ndarray) -> None:
        """Index many messages at once (``keys`` is ``uint32[n, bands]``); one sort per band."""
        self._merge()
        if len(seqs) == 0:
            return
        all_keys = np.concatenate([self._keys, keys.T.astype(np.uint32)], axis=1)
        all_seqs = np.concatenate([self._seqs, np.broadcast_to(seqs.astype(np.uint32), (self.bands, len(seqs)))], axis=1)
        for b in range(self.bands):
            order = np.lexsort((all_seqs[b], all_keys[b]))
            all_keys[b] = all_keys[b][order]
            all_seqs[b] = all_seqs[b][order]
        self._keys, self._seqs = np.ascontiguousarray(all_keys), np.ascontiguousarray(all_seqs)

    def rebuild(self, chunks: Iterable[tuple[np.ndarray, np.ndarray]]) -> None:
        """Load the index from the store's ``iter_bands()`` chunks."""
        seq_parts, key_parts = [], []
        for seqs, keys in chunks:
            if keys.shape[1] != self.bands:
                continue  # written with other LSH parameters: not comparable
            seq_parts.append(seqs)
            key_parts.append(keys)
        if seq_parts:
            self.add_many(np.concatenate(seq_parts), np.concatenate(key_parts))

    def candidates(self, keys: np.ndarray, limit: int) -> list[int]:
        """Sequence numbers sharing at least one band key with ``keys``, those sharing the most
        bands first (then the most recent), at most ``limit``."""
        found: list[np.ndarray] = []
        rows, size = self._keys, self._keys.shape[1]
        for b in range(self.bands):
            row = rows[b]
            k = keys[b]  # a numpy uint32: a Python int would make searchsorted convert the whole row
            lo = int(row.searchsorted(k, side="left"))  # the method: no np.searchsorted dispatch per band
            if lo == size or row[lo] != k:
                continue
            hi = int(row.searchsorted(k, side="right"))
            if hi > lo:
                found.append(self._seqs[b, max(lo, hi - self.bucket_cap) : hi])
        if self._fill:
            buf = self._buf_keys[:, : self._fill]
            hit = buf == keys[:, None]
            if hit.any():
                found.append(self._buf_seqs[:, : self._fill][hit])
        if not found:
            return []
        seqs, counts = np.unique(np.concatenate(found), return_counts=True)
        order = np.lexsort((-seqs.astype(np.int64), -counts))[:limit]
        return [int(s) for s in seqs[order]]

    def _merge(self) -> None:
        if not self._fill:
            return
        n = self._fill
        new_keys = np.empty((self.bands, self._keys.shape[1] + n), dtype=np.uint32)
        new_seqs = np.empty_like(new_keys)
        for b in range(self.bands):
            bk, bs = self._buf_keys[b, :n], self._buf_seqs[b, :n]
            order = np.lexsort((bs, bk))
            bk, bs = bk[order], bs[order]
            at = np.searchsorted(self._keys[b], bk, side="right")
            new_keys[b] = np.insert(self._keys[b], at, bk)
            new_seqs[b] = np.insert(self._seqs[b], at, bs)
        self._keys, self._seqs = new_keys, new_seqs
        self._fill = 0
