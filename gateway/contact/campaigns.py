"""The cross-customer candidate index: which stored messages might say nearly the same as this one?

MinHash band keys (see ``fingerprint.MinHasher``) are kept in memory as two ``uint32`` arrays per
band — sorted keys and the message sequence numbers beside them — so an index over N messages
holds ``8 * bands`` bytes per message (256 B with 32 bands) instead of the ~8.8 KB per item of a
general-purpose LSH library. The full signature is not kept at all: the band keys are stored with
each message, and rapidfuzz on the texts confirms every candidate.

New messages go to a small buffer — a dict from (band, key) to sequence numbers for lookups,
and the messages' key arrays, stacked only at the merge — and when it fills, it is merged into
the sorted arrays (one insert per band, linear in N). A lookup in the buffer is one dict probe per band, whatever its size. Within one key, sequence numbers
stay ascending, so a huge bucket (a form letter sent a hundred thousand times) is cut to its most
recent entries instead of slowing every lookup.

A lookup does not search each band separately (two ``searchsorted`` calls per band cost more in
call overhead than in work): a small directory per band maps the top bits of a key to where keys
with those bits start, and one vectorized pass compares every entry of the slots the message's
keys fall in (about 128 entries per slot, so the directory adds under 1 byte per indexed message).
A batch of messages can be looked up in the sorted arrays at once (:meth:`CampaignIndex.lookup_many`:
the same pass over the whole batch); the answer holds until the arrays change (``generation``:
a merge every ``buffer_size`` messages), and the buffer is always probed at the time of asking.

Bounded by time: given each message's received time, :meth:`CampaignIndex.expire` drops (at the
next merge) every message received before a horizon — the tracker passes the newest time seen
less the campaign lookback and a day of slack, so the index holds the lookback's messages, not
all history. A dropped message could not have matched anyway: campaign candidates must lie within
the lookback of the message checked.
"""

from __future__ import annotations

from array import array
from collections import Counter
from collections.abc import Iterable
from itertools import chain
from operator import itemgetter

import numpy as np

_MINUTE_US = 60_000_000
_SHARED_THEN_SEQ = itemgetter(1, 0)  # a (seq, shared bands) pair's sort key
_SEQ = itemgetter(0)
_NO_HITS = np.zeros(0, dtype=np.uint32)
_COUNT_SCANS = 512  # distinct numbers times hits up to which ``candidates`` counts by scanning (measured)


class CampaignIndex:
    """Band keys -> message sequence numbers, for ``bands`` bands."""

    def __init__(self, bands: int = 32, *, buffer_size: int = 4096, bucket_cap: int = 256) -> None:
        self.bands = bands
        self.bucket_cap = bucket_cap
        self._keys = np.zeros((bands, 0), dtype=np.uint32)
        self._seqs = np.zeros((bands, 0), dtype=np.uint32)
        self.buffer_size = buffer_size
        # The buffered messages' keys and sequence numbers, in insert order (stacked at the merge:
        # two numpy assignments per message cost more than the whole merge's stacking).
        self._buf_rows: list[np.ndarray] = []
        self._buf_seq_list: list[int] = []
        # (band << 32 | key) -> the buffered sequence number as a 1-tuple (one per message, shared
        # by its keys), or a list of them when several buffered messages share that band key:
        # either way an iterable, so a look-up flattens its hits in C.
        self._buf: dict[int, tuple[int] | list[int]] = {}
        self.generation = 0  # bumped whenever the sorted arrays change (``lookup_many`` answers expire)
        # Bumped whenever the buffer changes (an add, a merge): ``candidates`` leaves the buffer's
        # band keys it found for a message in ``_probe`` with the count it saw, and ``add`` of the
        # same message (the same ``combined`` list) reuses them while the count is unchanged.
        self._buf_changes = 0
        self._probe: tuple[list[int], int, set[int]] | None = None
        self._band_ids = np.arange(bands)
        self._band_offsets = np.arange(bands, dtype=np.uint64) << np.uint64(32)
        # Indexed messages with a known received time (for ``expire``), in insert order: sequence
        # number and minute of receipt, 8 bytes a message.
        self._log_seqs = array("I")
        self._log_min = array("i")
        self._horizon: int | None = None
        self._build_directory()

    def __len__(self) -> int:
        return self._keys.shape[1] + len(self._buf_rows)

    @property
    def memory_bytes(self) -> int:
        """Bytes held by the index arrays (the sorted arrays and the insert buffer)."""
        fill = len(self._buf_rows)
        return (self._keys.nbytes + self._seqs.nbytes + (4 * self.bands + 150) * fill
                + self._dir.nbytes + 120 * self.bands * fill
                + 8 * len(self._log_seqs))

    def add(self, seq: int, keys: np.ndarray, received_us: int | None = None, combined: list[int] | None = None) -> None:
        """Index one message (its ``uint32[bands]`` keys); with its received time (microseconds)
        it can later be expired. ``combined``: ``self.combined(keys)`` when the caller has it."""
        if len(self._buf_rows) >= self.buffer_size:
            self._merge()
        keys = np.asarray(keys)
        self._buf_rows.append(keys.copy() if keys.flags.writeable else keys)  # (the caller may reuse its array)
        self._buf_seq_list.append(seq)
        buf = self._buf
        if combined is None:
            combined = (self._band_offsets + keys).tolist()
        one = (seq,)  # one tuple for all the message's keys
        probe = self._probe
        if probe is not None and probe[0] is combined and probe[1] == self._buf_changes:
            shared = probe[2]  # (``buf.keys() & combined``, found by ``candidates`` for this message)
        else:
            shared = buf.keys() & combined
        self._probe = None
        self._buf_changes += 1
        if shared:
            # (A list grows in place: a text repeated a few hundred times within the buffer
            # would otherwise copy its lists on every repeat.)
            for k in shared:
                old = buf[k]
                if type(old) is tuple:
                    buf[k] = [old[0], seq]
                else:
                    old.append(seq)  # type: ignore[union-attr]
            buf.update(dict.fromkeys(shared.symmetric_difference(combined), one))  # (the keys not shared)
        else:
            buf.update(dict.fromkeys(combined, one))
        if received_us is not None:
            self._log_seqs.append(seq)
            self._log_min.append(received_us // _MINUTE_US)

    def expire(self, before_us: int) -> None:
        """Drop, at the next merge, the messages indexed with a received time before ``before_us``."""
        if self._horizon is None or before_us > self._horizon:
            self._horizon = before_us

    def add_many(self, seqs: np.ndarray, keys: np.ndarray, received_us: np.ndarray | None = None) -> None:
        """Index many messages at once (``keys`` is ``uint32[n, bands]``); one sort per band."""
        self._merge()
        if len(seqs) == 0:
            return
        if received_us is not None:
            self._log_seqs.frombytes(np.asarray(seqs, dtype=np.uint32).tobytes())
            self._log_min.frombytes((np.asarray(received_us, dtype=np.int64) // _MINUTE_US).astype(np.int32).tobytes())
        all_keys = np.concatenate([self._keys, keys.T.astype(np.uint32)], axis=1)
        all_seqs = np.concatenate([self._seqs, np.broadcast_to(seqs.astype(np.uint32), (self.bands, len(seqs)))], axis=1)
        for b in range(self.bands):
            order = np.lexsort((all_seqs[b], all_keys[b]))
            all_keys[b] = all_keys[b][order]
            all_seqs[b] = all_seqs[b][order]
        self._keys, self._seqs = np.ascontiguousarray(all_keys), np.ascontiguousarray(all_seqs)
        self._build_directory()

    def rebuild(self, chunks: Iterable[tuple[np.ndarray, ...]]) -> None:
        """Load the index from the store's ``iter_bands()`` chunks ``(seqs, keys)``, or
        ``iter_recent_bands()`` chunks ``(seqs, keys, received_us)`` (which can expire)."""
        seq_parts, key_parts, us_parts = [], [], []
        for chunk in chunks:
            seqs, keys = chunk[0], chunk[1]
            if keys.shape[1] != self.bands:
                continue  # written with other LSH parameters: not comparable
            seq_parts.append(seqs)
            key_parts.append(keys)
            if len(chunk) > 2:
                us_parts.append(chunk[2])
        if seq_parts:
            received = np.concatenate(us_parts) if len(us_parts) == len(seq_parts) else None
            self.add_many(np.concatenate(seq_parts), np.concatenate(key_parts), received)

    def combined(self, keys: np.ndarray) -> list:  # type: ignore[type-arg]
        """``band << 32 | key`` for each band of ``keys`` (``uint32[bands]``, or ``[n, bands]`` for
        a batch: a list per message): the buffer's dict keys."""
        return (self._band_offsets + keys).tolist()

    def _build_directory(self) -> None:
        """``_dir[b, p]``: where band ``b``'s sorted keys whose top ``_bits`` bits are >= ``p`` start."""
        self.generation += 1
        size = self._keys.shape[1]
        bits = min(24, max(0, (size // 128).bit_length() - 1))
        slots = 1 << bits
        self._bits = bits
        self._shift = np.uint32(32 - bits) if bits else None
        self._dir = np.empty((self.bands, slots + 1), dtype=np.uint32)
        bounds = (np.arange(slots, dtype=np.uint64) << np.uint64(32 - bits)).astype(np.uint32)
        for b in range(self.bands):
            self._dir[b, :slots] = self._keys[b].searchsorted(bounds, side="left")
        self._dir[:, slots] = size
        self._dir_flat = self._dir.reshape(-1)
        self._dir_base = self._band_ids.astype(np.int64) * (slots + 1)
        self._row_base = self._band_ids.astype(np.int64) * size
        self._keys_flat = self._keys.reshape(-1)
        self._seqs_flat = self._seqs.reshape(-1)

    def _sorted_hits(self, keys: np.ndarray) -> np.ndarray:
        """Sequence numbers in the sorted arrays whose band key equals ``keys[band]``, each
        band's run of equal keys cut to its ``bucket_cap`` most recent."""
        size = self._keys.shape[1]
        if not size:
            return np.zeros(0, dtype=np.uint32)
        at = self._dir_base + (keys >> self._shift) if self._shift is not None else self._dir_base
        lo = self._dir_flat[at].astype(np.int64)
        lens = self._dir_flat[at + 1] - lo
        total = int(lens.sum())
        if not total:
            return np.zeros(0, dtype=np.uint32)
        if total > 64 * 1024:  # a huge bucket somewhere: searching band by band is cheaper
            return self._sorted_hits_per_band(keys)
        ends = np.cumsum(lens)
        pos = np.repeat(self._row_base + lo - ends + lens, lens) + np.arange(total)
        pos = pos[self._keys_flat[pos] == np.repeat(keys, lens)]
        if len(pos) > self.bucket_cap:
            per_band = np.bincount(pos // size, minlength=self.bands)
            if per_band.max() > self.bucket_cap:
                return self._sorted_hits_per_band(keys)
        return self._seqs_flat[pos]

    def _sorted_hits_per_band(self, keys: np.ndarray) -> np.ndarray:
        found: list[np.ndarray] = [np.zeros(0, dtype=np.uint32)]
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
        return np.concatenate(found)

    def lookup_many(self, keys: np.ndarray) -> tuple[int, list[np.ndarray | None]]:
        """``_sorted_hits`` of each row of ``keys`` (``uint32[n, bands]``), in one pass
        over the batch, with the ``generation`` they are valid for. A row whose hits need the
        band-by-band search (a huge bucket) gets None: ``candidates`` searches it itself."""
        n = len(keys)
        size = self._keys.shape[1]
        if not size or not n:
            return self.generation, [_NO_HITS] * n
        bands = self.bands
        at = self._dir_base + (keys >> self._shift) if self._shift is not None else np.broadcast_to(self._dir_base, keys.shape)
        lo = self._dir_flat[at].astype(np.int64)
        lens = self._dir_flat[at + 1] - lo  # (n, bands)
        slow = lens.sum(axis=1) > 64 * 1024  # as ``_sorted_hits``: such a row is searched band by band
        if slow.any():
            lens[slow] = 0
        lens = lens.reshape(-1)
        total = int(lens.sum())
        if not total:
            return self.generation, [None if s else _NO_HITS for s in slow.tolist()]
        ends = np.cumsum(lens)
        pos = np.repeat((self._row_base + lo).reshape(-1) - ends + lens, lens) + np.arange(total)
        slot = np.repeat(np.arange(n * bands), lens)
        keep = self._keys_flat[pos] == np.repeat(keys.reshape(-1), lens)
        pos, slot = pos[keep], slot[keep]
        per_slot = np.bincount(slot, minlength=n * bands).reshape(n, bands)
        slow |= per_slot.max(axis=1) > self.bucket_cap  # a run longer than the cap: cut band by band
        bounds = np.concatenate(([0], np.cumsum(per_slot.sum(axis=1)))).tolist()
        seqs = self._seqs_flat[pos]
        return self.generation, [None if s else seqs[a:b] for s, a, b in zip(slow.tolist(), bounds, bounds[1:])]

    def candidates(self, keys: np.ndarray, limit: int, *, combined: list[int] | None = None,
                   sorted_hits: np.ndarray | None = None) -> list[int]:
        """Sequence numbers sharing at least one band key with ``keys``, those sharing the most
        bands first (then the most recent), at most ``limit``. ``combined``: ``self.combined(keys)``
        and ``sorted_hits``: ``lookup_many``'s answer for ``keys`` (valid only while
        ``generation`` is unchanged), when the caller has them."""
        if sorted_hits is None:
            keys = np.asarray(keys, dtype=np.uint32)
            hits = self._sorted_hits(keys)
        else:
            hits = sorted_hits
        found: list[int] = []
        if self._buf:
            if combined is None:
                combined = (self._band_offsets + keys).tolist()
            # The band keys the buffer holds, found in C (the order of hits never matters: they
            # are counted), then their messages.
            shared = self._buf.keys() & combined
            self._probe = (combined, self._buf_changes, shared)  # (for ``add`` of the same message)
            if shared:
                found = list(chain.from_iterable(map(self._buf.__getitem__, shared)))
        total = len(hits) + len(found)
        if not total:
            return []
        if total <= 256:  # (measured: beyond this numpy's counting is cheaper than a Counter)
            # Most shared bands first, then the most recent: (shared << 32 | seq), largest first.
            # (Sorted as (shared, seq) pairs in C: the same order as ``shared << 32 | seq``.)
            seqs = hits.tolist() + found
            distinct = dict.fromkeys(seqs)  # (in order of first occurrence, as a Counter's items)
            if len(distinct) * len(seqs) <= _COUNT_SCANS:
                # ``Counter(seqs).items()``: each number counted by a scan in C, cheaper than
                # building a Counter while the scans stay few (a message shares its bands with a
                # few earlier ones).
                counted = zip(distinct, map(seqs.count, distinct))
            else:
                counted = Counter(seqs).items()  # type: ignore[assignment]
            ranked = sorted(counted, key=_SHARED_THEN_SEQ, reverse=True)
            return list(map(_SEQ, ranked[:limit]))
        if found:
            hits = np.concatenate([hits, np.array(found, dtype=np.uint32)])
        return _top(hits, limit)

    def _merge(self) -> None:
        self._buf.clear()
        self._buf_changes += 1
        if self._buf_rows:
            self._merge_buffer()
        self._drop_expired()

    def _drop_expired(self) -> None:
        """Remove the messages received before the horizon ``expire`` set (only when they are at
        least a sixteenth of the index: each removal rewrites the arrays)."""
        if self._horizon is None or not self._log_min:
            return
        times = np.frombuffer(self._log_min, dtype=np.int32)
        old = times < self._horizon // _MINUTE_US  # whole minutes: at most a minute kept longer
        count = int(old.sum())
        if not count or count * 16 < len(self):
            return
        seqs = np.frombuffer(self._log_seqs, dtype=np.uint32)
        expired = np.unique(seqs[old])
        keep = ~np.isin(self._seqs, expired, assume_unique=False)
        self._keys = np.ascontiguousarray(self._keys[keep].reshape(self.bands, -1))
        self._seqs = np.ascontiguousarray(self._seqs[keep].reshape(self.bands, -1))
        self._log_seqs = array("I", seqs[~old].tobytes())
        self._log_min = array("i", times[~old].tobytes())
        self._build_directory()

    def _merge_buffer(self) -> None:
        n = len(self._buf_rows)
        buf_keys = np.array(self._buf_rows, dtype=np.uint32).T  # (bands, n)
        bs_all = np.array(self._buf_seq_list, dtype=np.uint32)
        new_keys = np.empty((self.bands, self._keys.shape[1] + n), dtype=np.uint32)
        new_seqs = np.empty_like(new_keys)
        for b in range(self.bands):
            bk, bs = buf_keys[b], bs_all
            order = np.lexsort((bs, bk))
            bk, bs = bk[order], bs[order]
            at = np.searchsorted(self._keys[b], bk, side="right")
            new_keys[b] = np.insert(self._keys[b], at, bk)
            new_seqs[b] = np.insert(self._seqs[b], at, bs)
        self._keys, self._seqs = new_keys, new_seqs
        self._buf_rows = []
        self._buf_seq_list = []
        self._build_directory()


def _top(hits: np.ndarray, limit: int) -> list[int]:
    """The ``limit`` sequence numbers occurring most often in ``hits``, the most recent first among
    equals. Counted with ``bincount`` when the numbers lie close together (a repeated text's
    recent copies), else by sorting."""
    low = int(hits.min())
    span = int(hits.max()) - low + 1
    if span <= 4 * len(hits) + 4096:
        counts = np.bincount(hits - np.uint32(low))
        seqs = np.flatnonzero(counts)[::-1]  # most recent first ...
        order = np.argsort(-counts[seqs], kind="stable")[:limit]  # ... within each count
        return (seqs[order] + low).tolist()
    seqs, n = np.unique(hits, return_counts=True)
    order = np.lexsort((-seqs.astype(np.int64), -n))[:limit]
    return seqs[order].tolist()
