"""``_shared_rows`` (which rows of a batch share band keys, each row's pairs cut out of one
sorted list) against the pair-by-pair dict it replaces, and ``lookup_batch`` over it."""

from __future__ import annotations

import numpy as np

from gateway.contact.campaigns import CampaignIndex, _shared_rows


def _pair_by_pair(ordered: np.ndarray, rows: np.ndarray, n: int) -> dict[int, list[tuple[int, int]]]:
    shared: dict[int, list[tuple[int, int]]] = {}
    for i in range(len(ordered)):
        for j in range(len(ordered)):
            if ordered[i] == ordered[j] and rows[i] != rows[j]:
                shared.setdefault(int(rows[i]), []).append(int(rows[j]))
    return {row: [(other, others.count(other) << 32) for other in sorted(set(others))]
            for row, others in sorted(shared.items())}


def test_shared_rows_equal_the_pair_by_pair_count() -> None:
    rng = np.random.default_rng(3)
    for _ in range(400):
        n, bands = int(rng.integers(1, 9)), int(rng.integers(1, 5))
        keys = rng.integers(0, int(rng.integers(1, 6)), size=(n, bands)).astype(np.uint64)
        comb = ((np.arange(bands, dtype=np.uint64) << np.uint64(32)) + keys).reshape(-1)
        by_key = comb.argsort()
        got = _shared_rows(comb[by_key], by_key // bands, n)
        assert got == _pair_by_pair(comb[by_key], by_key // bands, n)
        assert list(got) == sorted(got)
    assert _shared_rows(np.zeros(0, dtype=np.uint64), np.zeros(0, dtype=np.int64), 0) == {}


def test_lookup_batch_with_shared_rows_equals_candidates_after_each_add() -> None:
    rng = np.random.default_rng(9)
    index = CampaignIndex(bands=8, buffer_size=64)
    seq = 0
    for _ in range(12):
        keys = rng.integers(0, 6, size=(int(rng.integers(1, 10)), 8)).astype(np.uint32)
        batch = index.lookup_batch(keys, 5)
        for row, k in enumerate(keys):
            got = index.candidates(k, 5, batch=batch, row=row)
            assert got == index.candidates(k, 5)  # (looked up afresh, for the index as it is now)
            seq += 1
            index.add(seq, k, batch=batch, row=row)
