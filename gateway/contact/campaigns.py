"""The cross-customer candidate index: which stored messages might say nearly the same as this one?

MinHash band keys (see ``fingerprint.MinHasher``) are kept in memory as two ``uint32`` arrays per
band — sorted keys and the message sequence numbers beside them — so an index over N messages
holds ``8 * bands`` bytes per message (256 B with 32 bands) instead of the ~8.8 KB per item of a
general-purpose LSH library. The full signature is not kept at all: the band keys are stored with
each message, and rapidfuzz on the texts confirms every candidate.

New messages go to a small buffer — their keys kept sorted as ``band << 32 | key`` in ``uint64``
arrays (a small level that takes each batch, merged into a larger one now and then; the messages
added since the last look-up wait unsorted, and a filter of one bit per key hash rules out most
keys before any search) — and when it fills, it is merged into the sorted arrays (one insert
per band, linear in N; at a batch's look-up when the batch would fill it, else at the add that
finds it full). Within one key, sequence numbers stay ascending, so a huge bucket (a form letter
sent a hundred thousand times) is cut to its most recent entries instead of slowing every lookup.

A lookup does not search each band separately (two ``searchsorted`` calls per band cost more in
call overhead than in work): a small directory per band maps the top bits of a key to where keys
with those bits start, and one vectorized pass compares every entry of the slots the message's
keys fall in (16 to 32 entries per slot, so the directory adds 4 to 8 bytes per indexed message:
with 128 to 256 a slot, as before 27 Nov, a batch of 100 messages compared 400,000 entries, which
took 6.5 ms over 100,000 indexed messages and 19 ms over a million; now 0.7 and 1.2 ms).
A batch of messages (one IMAP fetch) is looked up at once (:meth:`CampaignIndex.lookup_batch`): the
sorted arrays and the buffer in one vectorized pass over the whole batch, each message's
candidates counted and ranked there, and the band keys the batch's messages share with each
other found too — so as each message is added, the next ones' answers take it in without
probing anything. The answer holds while the index changes only by the batch's own adds.

Bounded by time: given each message's received time, :meth:`CampaignIndex.expire` drops (at the
next merge) every message received before a horizon — the tracker passes the newest time seen
less the campaign lookback and a day of slack, so the index holds the lookback's messages, not
all history. A dropped message could not have matched anyway: campaign candidates must lie within
the lookback of the message checked.
"""

from __future__ import annotations

import itertools
from array import array
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from itertools import pairwise
from operator import itemgetter

import numpy as np

_MINUTE_US = 60_000_000
_GENERATIONS = itertools.count(1)
_SLOT = 16  # about this many (up to twice as many) sorted keys per directory slot: the entries a look-up compares
_SHARED_THEN_SEQ = itemgetter(1, 0)  # a (seq, shared bands) pair's sort key
_SEQ = itemgetter(0)
_NO_HITS = np.zeros(0, dtype=np.uint32)
_NO_INTS = np.zeros(0, dtype=np.int64)
_NO_KEYS = np.zeros(0, dtype=np.uint64)
_BUFFER_BITS = 20  # a million bits (one byte each) for ``buffer_size * bands`` keys at most: mostly empty
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_BIT_SHIFT = np.uint64(64 - _BUFFER_BITS)
_SMALL_LEVEL = 512  # messages in the buffer's small sorted level before it is merged into the large one
_PENDING = 32  # messages added that a look-up of one message compares whole (more: it sorts them in)
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
        # The buffer's band keys as ``band << 32 | key``, sorted, with the sequence numbers beside
        # them, in two levels: ``_levels[1]`` takes the messages added since the last look-up (a
        # few hundred at most) and, when it holds ``_SMALL_LEVEL`` of them, is merged into
        # ``_levels[0]`` — so a look-up's sorting costs in proportion to the small level, not the
        # whole buffer. The messages added since the last look-up (``_buf_rows[_synced:]``) wait
        # until a look-up sorts them in (``_sync``).
        self._levels = [(_NO_KEYS, _NO_HITS), (_NO_KEYS, _NO_HITS)]
        # A bit per hash of every sorted band key in the buffer (``_bit_of``): most of a look-up's
        # keys are in no message of the buffer, and one read here rules each of those out.
        self._seen_bits = np.zeros(1 << _BUFFER_BITS, dtype=bool)
        self._synced = 0
        # Changed whenever the sorted arrays change (``lookup_batch`` answers
        # expire); drawn from one count for all indexes, so no answer holds for another index.
        self.generation = 0
        self._adds = 0  # messages added so far (a ``BatchLookup`` holds while only its own were)
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
                + sum(k.nbytes + s.nbytes for k, s in self._levels)
                + self._seen_bits.nbytes
                + self._dir.nbytes + 8 * len(self._log_seqs))

    def add(self, seq: int, keys: np.ndarray, received_us: int | None = None,
            batch: BatchLookup | None = None, row: int = -1) -> None:
        """Index one message (its ``uint32[bands]`` keys); with its received time (microseconds)
        it can later be expired. ``batch`` and ``row``: the ``lookup_batch`` answer made for this
        message's keys and its row there, which then goes on holding for the batch's other rows."""
        if len(self._buf_rows) >= self.buffer_size:
            self._merge()
        keys = np.asarray(keys)
        self._buf_rows.append(keys.copy() if keys.flags.writeable else keys)  # (the caller may reuse its array)
        self._buf_seq_list.append(seq)
        if batch is not None and batch.generation == self.generation and batch.adds == self._adds:
            batch.adds += 1
            batch.added[row] = seq
        self._adds += 1
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

    def _build_directory(self) -> None:
        """``_dir[b, p]``: where band ``b``'s sorted keys whose top ``_bits`` bits are >= ``p`` start."""
        self.generation = next(_GENERATIONS)
        size = self._keys.shape[1]
        bits = min(24, max(0, (size // _SLOT).bit_length() - 1))
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

    def _sorted_pairs(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """For a batch of keys (``uint32[n, bands]``), every hit in the sorted arrays as ``(slot,
        position)`` (``slot``: row * bands + band, ascending), and which rows need the band-by-band
        search instead (a bucket larger than ``bucket_cap``, or a huge slot: no pairs for them)."""
        n = len(keys)
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
            return _NO_INTS, _NO_INTS, slow
        ends = np.cumsum(lens)
        pos = np.repeat((self._row_base + lo).reshape(-1) - ends + lens, lens) + np.arange(total)
        slot = np.repeat(np.arange(n * bands), lens)
        keep = self._keys_flat[pos] == np.repeat(keys.reshape(-1), lens)
        pos, slot = pos[keep], slot[keep]
        per_slot = np.bincount(slot, minlength=n * bands).reshape(n, bands)
        slow |= per_slot.max(axis=1) > self.bucket_cap  # a run longer than the cap: cut band by band
        return slot, pos, slow

    def _sync(self) -> None:
        """Sort the messages waiting (added since the last look-up) into the buffer's small
        level, and that into the large one once it holds ``_SMALL_LEVEL`` messages."""
        start = self._synced
        if start == len(self._buf_rows):
            return
        comb = (self._band_offsets + np.array(self._buf_rows[start:], dtype=np.uint32)).reshape(-1)
        seqs = np.repeat(np.array(self._buf_seq_list[start:], dtype=np.uint32), self.bands)
        self._synced = len(self._buf_rows)
        self._seen_bits[_bit_of(comb)] = True
        (big, big_seqs), (small, small_seqs) = self._levels
        if len(small) + len(comb) > _SMALL_LEVEL * self.bands:
            big, big_seqs = _merged(big, big_seqs, small, small_seqs)
            small, small_seqs = _merged(_NO_KEYS, _NO_HITS, comb, seqs)
        else:
            small, small_seqs = _merged(small, small_seqs, comb, seqs)
        self._levels = [(big, big_seqs), (small, small_seqs)]

    def _buffer_hits(self, needles: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For ``band << 32 | key`` values (``uint64``, flat; sorted, for speed), every entry of
        the buffer's sorted levels equal to one: ``(which value, its sequence number)``."""
        which, seqs = [], []
        if not len(self._levels[0][0]) and not len(self._levels[1][0]):
            return _NO_INTS, _NO_HITS
        maybe = np.flatnonzero(self._seen_bits[_bit_of(needles)])  # (the others are surely not there)
        needles = needles[maybe]
        for keys, level_seqs in self._levels:
            if not len(keys) or not len(needles):
                continue
            lo = keys.searchsorted(needles, side="left")
            lens = keys.searchsorted(needles, side="right") - lo
            total = int(lens.sum())
            if total:
                ends = np.cumsum(lens)
                which.append(np.repeat(maybe, lens))
                seqs.append(level_seqs[np.repeat(lo - ends + lens, lens) + np.arange(total)])
        if not which:
            return _NO_INTS, _NO_HITS
        if len(which) == 1:
            return which[0], seqs[0]
        return np.concatenate(which), np.concatenate(seqs)

    def lookup_batch(self, keys: np.ndarray, limit: int) -> BatchLookup:
        """``candidates(keys[i], limit)`` for every row of ``keys`` (``uint32[n, bands]``), looked
        up and ranked for the whole batch at once, for the index as it is now; and which rows
        share band keys with which (so that once a row's message is added — ``add`` with this
        answer and its row — the others' answers count it, as a look-up would then find it).
        A row that needs the band-by-band search (a huge bucket) is left to ``candidates``."""
        keys = np.asarray(keys, dtype=np.uint32)
        n, bands = len(keys), self.bands
        if len(self._buf_rows) + n > self.buffer_size:
            self._merge()  # now rather than amid the batch's adds (which would end this answer)
        self._sync()
        if self._keys.shape[1]:
            slot, pos, slow = self._sorted_pairs(keys)
            main_rows, main_seqs = slot // bands, self._seqs_flat[pos]
        else:
            main_rows = main_seqs = _NO_INTS
            slow = np.zeros(n, dtype=bool)
        comb = (self._band_offsets + keys).reshape(-1)  # (n * bands), row by row
        by_key = comb.argsort()
        needles = comb[by_key]  # (sorted: each search starts where the last one ended)
        which, buf_seqs = self._buffer_hits(needles)
        rows = np.concatenate((main_rows, by_key[which] // bands)).astype(np.int64)
        seqs = np.concatenate((main_seqs, buf_seqs)).astype(np.int64)
        ranked_seqs: list[list[int] | None]
        ranked_keys: list[list[int]]
        if not len(rows):
            ranked_seqs, ranked_keys = [[] for _ in range(n)], [[] for _ in range(n)]
        else:
            # Count each (row, seq) pair, then within each row: most shared bands, then newest.
            pairs, counts = np.unique(rows << 32 | seqs, return_counts=True)
            # sorted as one number: row, then bands not shared, then the sequence number reversed
            most = bands + 1
            width = most.bit_length()
            ranked = np.sort((pairs >> 32) << (32 + width) | (most - counts) << 32 | (0xFFFFFFFF - (pairs & 0xFFFFFFFF)))
            rows, counts, seqs = ranked >> (32 + width), most - ((ranked >> 32) & ((1 << width) - 1)), 0xFFFFFFFF - (ranked & 0xFFFFFFFF)
            first = np.searchsorted(rows, np.arange(n + 1))
            top = (np.arange(len(rows)) - first[rows]) < limit
            rows, seqs, counts = rows[top], seqs[top], counts[top]
            bounds = np.searchsorted(rows, np.arange(n + 1)).tolist()
            seq_list, key_list = seqs.tolist(), (counts << 32 | seqs).tolist()
            # Each row's run of them (an empty list for a row without candidates).
            ranked_seqs = [seq_list[a:b] for a, b in pairwise(bounds)]
            ranked_keys = [key_list[a:b] for a, b in pairwise(bounds)]
        for r in np.flatnonzero(slow).tolist():
            ranked_seqs[r] = None
        return BatchLookup(self.generation, self._adds, limit, ranked_seqs, ranked_keys,
                           _shared_rows(needles, by_key // bands, n))

    def candidates(self, keys: np.ndarray, limit: int, *, batch: BatchLookup | None = None, row: int = -1) -> list[int]:
        """Sequence numbers sharing at least one band key with ``keys``, those sharing the most
        bands first (then the most recent), at most ``limit``. ``batch`` and ``row``: a
        ``lookup_batch`` answer for these keys, used when it still holds."""
        if batch is not None and batch.generation == self.generation and batch.adds == self._adds and limit <= batch.limit:
            ranked = batch.seqs[row]
            if ranked is not None:
                added = batch.added
                more = [shifted | added[other] for other, shifted in batch.shared.get(row, ()) if added[other] is not None]
                if not more:
                    return ranked[:limit]
                # (``bands shared << 32 | seq``: the ranking's order as one number)
                return [key & 0xFFFFFFFF for key in sorted(batch.keys[row] + more, reverse=True)[:limit]]
        keys = np.asarray(keys, dtype=np.uint32)
        hits = self._sorted_hits(keys)
        parts = [hits]
        waiting = len(self._buf_rows) - self._synced
        if waiting > _PENDING:
            self._sync()
        elif waiting:  # (compared whole: cheaper than sorting them in for one look-up)
            rows = np.nonzero(np.array(self._buf_rows[self._synced :], dtype=np.uint32) == keys)[0]
            if len(rows):
                parts.append(np.array(self._buf_seq_list[self._synced :], dtype=np.uint32)[rows])
        _, found = self._buffer_hits(self._band_offsets + keys)
        if len(found):
            parts.append(found)
        if len(parts) > 1:
            hits = np.concatenate(parts)
        total = len(hits)
        if not total:
            return []
        if total <= 256:  # (measured: beyond this numpy's counting is cheaper than a Counter)
            # Most shared bands first, then the most recent: (shared << 32 | seq), largest first.
            # (Sorted as (shared, seq) pairs in C: the same order as ``shared << 32 | seq``.)
            seqs = hits.tolist()
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
        return _top(hits, limit)

    def _merge(self) -> None:
        self._levels = [(_NO_KEYS, _NO_HITS), (_NO_KEYS, _NO_HITS)]
        self._seen_bits[:] = False
        self._synced = 0
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


@dataclass(slots=True)
class BatchLookup:
    """``CampaignIndex.lookup_batch``'s answer: per row, the candidates ranked (``seqs``, with
    ``keys``, each as ``bands shared << 32 | seq``; None for a row left to ``candidates``), and
    ``shared``: row -> [(other row, bands shared << 32)]. ``added[row]``: the sequence number
    the row's message was added with, once it was. Holds while the index's ``generation`` and
    adds are ``generation`` and ``adds`` (``add`` moves ``adds`` along for the batch's own rows)."""

    generation: int
    adds: int
    limit: int
    seqs: list[list[int] | None]
    keys: list[list[int]]
    shared: dict[int, list[tuple[int, int]]]
    added: list[int | None] = field(init=False)

    def __post_init__(self) -> None:
        self.added = [None] * len(self.seqs)


def _shared_rows(ordered: np.ndarray, rows: np.ndarray, n: int) -> dict[int, list[tuple[int, int]]]:
    """For a batch's ``band << 32 | key`` values, sorted (``ordered``), with the row of each
    (``rows``; ``n`` rows in all): row -> [(other row, how many band keys the two share << 32)],
    for every pair of rows sharing one."""
    if not len(ordered):
        return {}
    starts = np.flatnonzero(np.concatenate(([True], ordered[1:] != ordered[:-1])))
    lens = np.diff(np.append(starts, len(ordered)))
    if lens.max() < 2:
        return {}
    # Every position in a run of equal values, paired with every position of its run.
    run_len = np.repeat(lens, lens)
    run_start = np.repeat(starts, lens)
    where = np.flatnonzero(run_len > 1)
    width = run_len[where]
    this = np.repeat(where, width)
    other = np.repeat(run_start[where], width) + (np.arange(int(width.sum())) - np.repeat(np.cumsum(width) - width, width))
    a, b = rows[this], rows[other]
    distinct = a != b
    pairs, counts = np.unique(a[distinct] * n + b[distinct], return_counts=True)
    # ``shared.setdefault(pair // n, []).append((pair % n, count << 32))`` for each pair in
    # order: the pairs are sorted, so each row's are one run of them, cut out of one list.
    if not len(pairs):
        return {}
    items = list(zip((pairs % n).tolist(), (counts.astype(np.int64) << 32).tolist()))
    first = pairs // n
    starts = (np.flatnonzero(first[1:] != first[:-1]) + 1).tolist()
    return {row: items[lo:hi] for row, lo, hi in zip(first[[0, *starts]].tolist(), [0, *starts], [*starts, len(items)])}


def _bit_of(keys: np.ndarray) -> np.ndarray:
    """Where a ``band << 32 | key`` value's bit lies in ``CampaignIndex._seen_bits`` (a multiplicative hash)."""
    return (keys * _GOLDEN) >> _BIT_SHIFT


def _merged(keys: np.ndarray, seqs: np.ndarray, more: np.ndarray, more_seqs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A sorted (key, sequence number) array and more of them (in any order) made one sorted
    array. (One stable sort of the two together: numpy's for 64-bit keys finds the sorted run
    and merges it, cheaper than inserting into it.)"""
    both = np.concatenate((keys, more))
    order = both.argsort(kind="stable")
    return both[order], np.concatenate((seqs, more_seqs))[order]
