"""What two messages are compared on: the customer's own new words, normalized, and compact
fingerprints of them.

* ``core_span`` finds the part of ``Message.text`` worth comparing: greeting and sign-off lines and
  any ``>``-quoted line left behind by ingest are not the customer's demand.
* ``comparable`` normalizes that part for rapidfuzz (NFKC, case, spacing; for Japanese, no spaces
  or punctuation at all, so the comparison is character-based).
* ``content_hash`` finds exact repeats even after the text itself was purged.
* ``MinHasher`` turns token 2-shingles (word pairs for English, character pairs for Japanese) into
  band keys for the cross-customer LSH index. Pairs, not triples: by measurement (bench/) word
  3-shingles missed 6% of the pairs an exhaustive rapidfuzz scan finds at 90 (a swapped or
  replaced word breaks three of them); pairs miss 1-3%. Shingles are hashed with a stable hash,
  never Python's per-process ``hash()``, because band keys are stored and reused by other
  processes.
"""

from __future__ import annotations

import functools
import hashlib
import re
import struct
import unicodedata
from collections.abc import Sequence
from itertools import chain, compress, islice
from operator import methodcaller, not_
from typing import NamedTuple

import numpy as np

_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff66-\uff9f"
_TOKEN = re.compile(rf"[{_CJK}]|(?:(?![{_CJK}])[^\W_])+")
_HAS_CJK = re.compile(rf"[{_CJK}]")
_NOT_CJK = re.compile(rf"[^{_CJK}]+")
_WORD = re.compile(r"[^\W_]+")
_QUOTED = re.compile(r"^\s*>")


def core_span(text: str, ignore_lines: Sequence[re.Pattern[str]] = ()) -> tuple[int, int]:
    """The span of ``text`` holding the customer's own words: from the first to the last line that
    is not blank, a greeting or sign-off (matched by ``ignore_lines``) at either end, or quoted.

    Falls back to the whole stripped text when every line would be dropped, so a message that
    is only "Hello!" still compares as itself."""
    raw_lines = text.splitlines(keepends=True)
    if len(raw_lines) <= 1:
        # One line (most mail) or none: kept, it spans the stripped text (its line break is
        # whitespace too); dropped (blank, quoted, a greeting or sign-off), the fall-back below
        # gives the stripped text as well. So no line needs checking: ``_core_span_lines``.
        start = len(text) - len(text.lstrip())
        return start, start + len(text.strip())
    return _core_span_lines(text, raw_lines, ignore_lines)


def _core_span_lines(text: str, raw_lines: list[str], ignore_lines: Sequence[re.Pattern[str]]) -> tuple[int, int]:
    """``core_span`` of ``text``, whose ``splitlines(keepends=True)`` is ``raw_lines``, line by line."""
    lines: list[tuple[int, int]] = []
    pos = 0
    for raw in raw_lines:
        body = raw.rstrip("\r\n")
        stripped = body.strip()
        if stripped:
            lead = len(body) - len(body.lstrip())
            lines.append((pos + lead, pos + lead + len(stripped)))
        pos += len(raw)

    global _LAST_COMBINED
    last = _LAST_COMBINED
    if last[0] is ignore_lines:  # (the settings' tuple asked for last: ``_combined`` of it, not hashed again)
        combined = last[1]
    else:
        combined = _combined(tuple(ignore_lines))
        if type(ignore_lines) is tuple:  # (a tuple of compiled patterns never changes)
            _LAST_COMBINED = (ignore_lines, combined)
    # A line is stripped, so it is quoted exactly when it starts with ">": with no ">" in the
    # text at all (most messages) no line needs the check.
    quotes = ">" in text

    # A line's answer, once per line: the checks from the front, from the back and for a sign-off
    # can meet the same line (a one-line message is checked from both ends), and the answer
    # depends on the line alone.
    answers: dict[tuple[int, int], bool] = {}

    def ignorable(span: tuple[int, int]) -> bool:
        known = answers.get(span)
        if known is not None:
            return known
        line = text[span[0] : span[1]]
        if quotes and _QUOTED.match(line):
            answer = True
        else:
            answer = combined is not None and combined.search(unicodedata.normalize("NFKC", line)) is not None
        answers[span] = answer
        return answer

    kept = [s for s in lines if not _QUOTED.match(text[s[0] : s[1]])] if quotes else lines
    while kept and ignorable(kept[0]):
        kept.pop(0)
    while kept and ignorable(kept[-1]):
        kept.pop()
    # A sign-off followed only by a short name or title ("Regards,\nTom") ends the message too.
    # (The lengths first: both tests are pure, and the length test costs no normalizing.)
    for back in range(2, min(4, len(kept)) + 1):
        tail = kept[-back + 1 :]
        if all(e - s <= 40 for s, e in tail) and ignorable(kept[-back]):
            del kept[-back:]
            break
    if not kept:
        stripped = text.strip()
        start = len(text) - len(text.lstrip())
        return start, start + len(stripped)
    return kept[0][0], kept[-1][1]


_LAST_COMBINED: tuple[object, re.Pattern[str] | None] = (None, None)  # (ignore patterns, ``_combined`` of them)


@functools.lru_cache(maxsize=16)
def _combined(patterns: tuple[re.Pattern[str], ...]) -> re.Pattern[str] | None:
    """One regex for all ignore patterns: one search per line instead of one per pattern."""
    if not patterns:
        return None
    return re.compile("|".join(f"(?:{p.pattern})" for p in patterns), re.IGNORECASE)


def is_cjk(text: str) -> bool:
    """Whether a text is mostly Japanese/Chinese characters, so words are not space-separated."""
    if text.isascii():  # (no Japanese character is ASCII: no scan needed)
        return False
    sample = text[:400]
    # ``len(_HAS_CJK.findall(sample))``: the sample without its other characters, measured (one
    # string made instead of one per Japanese character); none at all is ``_HAS_CJK.search`` failing.
    count = len("".join(_NOT_CJK.split(sample)))
    if not count:
        return False
    return count * 3 >= len(sample.replace(" ", ""))


def comparable(text: str, ignore_lines: Sequence[re.Pattern[str]] = ()) -> str:
    """The normalized core of a message, as rapidfuzz compares it. Japanese loses spaces and
    punctuation too (character-based); English keeps words apart so token_sort_ratio works."""
    return comparable_core(text[slice(*core_span(text, ignore_lines))])


def comparable_core(core: str) -> str:
    """``comparable`` of a text whose ``core_span`` is already cut out."""
    joined = _joined_words(unicodedata.normalize("NFKC", core).lower())
    return joined.replace(" ", "") if not joined.isascii() and is_cjk(joined) else joined


# Every ASCII byte that is not a letter or digit, as a space: for an ASCII text, ``_WORD``
# (``[^\W_]+``: a run of letters and digits) matches exactly the runs ``bytes.split`` then finds.
_ASCII_SEPARATORS = bytes(c if chr(c).isalnum() else 0x20 for c in range(256))


def _joined_words(text: str) -> str:
    """``" ".join(_WORD.findall(text))``; for an ASCII text (most English mail) with a byte
    translation and a split instead of the regex (a third of the cost)."""
    if text.isascii():
        return " ".join(text.encode("ascii").translate(_ASCII_SEPARATORS).decode("ascii").split())
    return " ".join(_WORD.findall(text))


_tuple_new = tuple.__new__


class Comparable(NamedTuple):
    """A comparable text with what every comparison of it needs, computed once: whether it is
    Japanese (character-based scoring) and, for other texts, its words sorted (what rapidfuzz's
    ``token_sort_ratio`` compares)."""

    text: str
    cjk: bool
    sorted_words: str

    @classmethod
    def of(cls, comparable_text: str) -> "Comparable":
        cjk = is_cjk(comparable_text)
        return cls(comparable_text, cjk, "" if cjk else " ".join(sorted(comparable_text.split())))

    @classmethod
    def of_core(cls, core: str) -> "Comparable":
        """``Comparable.of(comparable_core(core))``, with the language checked once for a text
        that is not Japanese (``comparable_core`` already checked that very string)."""
        joined = _joined_words(unicodedata.normalize("NFKC", core).lower())
        if joined.isascii() or not is_cjk(joined):  # (an ASCII text has no Japanese in it)
            # (``cls(joined, False, words)``: the tuple made directly, as the named tuple's own
            # ``__new__`` makes it, without that Python-level call)
            return _tuple_new(cls, (joined, False, " ".join(sorted(joined.split()))))
        return cls.of(joined.replace(" ", ""))


def comparable_tokens(core: str) -> tuple[Comparable, list[str]]:
    """``(Comparable.of_core(core), tokens(its text))`` with the words found once: the text is
    its words joined by spaces, so splitting it again (for the sorted words, and for the tokens)
    gives those same words; a Japanese text (spaces dropped) is cut by ``_cjk_tokens``."""
    low = unicodedata.normalize("NFKC", core).lower()
    if low.isascii():  # (``_joined_words``' byte translation, its words kept)
        words = low.encode("ascii").translate(_ASCII_SEPARATORS).decode("ascii").split()
    else:
        words = _WORD.findall(low)
    joined = " ".join(words)
    if joined.isascii():
        return _tuple_new(Comparable, (joined, False, " ".join(sorted(words)))), words
    if not is_cjk(joined):
        # (``tokens(joined)``: the words themselves unless some character is Japanese)
        toks = _TOKEN.findall(joined) if _HAS_CJK.search(joined) else words
        return _tuple_new(Comparable, (joined, False, " ".join(sorted(words)))), toks
    prepared = Comparable.of(joined.replace(" ", ""))
    return prepared, _cjk_tokens(prepared.text)


def _cjk_tokens(text: str) -> list[str]:
    """``tokens(text)`` of a text made of letters and digits only (``_WORD``'s characters, as a
    Japanese comparable text is: its words with the spaces dropped): each Japanese character a
    token, each run of other letters and digits one. In such a text those runs are exactly the
    runs of ``_NOT_CJK`` (a plain character class: no per-character look-ahead), so the
    characters are listed and each run put back as one token, the last first (the earlier
    positions stay where they were)."""
    if not _HAS_CJK.search(text):
        return text.split()
    toks = list(text)
    for start, end in reversed([m.span() for m in _NOT_CJK.finditer(text)]):
        toks[start:end] = [text[start:end]]
    return toks


def content_hash(comparable_text: str) -> str:
    """A short stable hash of the comparable text: equal hashes mean an exact repeat."""
    return hashlib.blake2b(comparable_text.encode("utf-8"), digest_size=12).hexdigest()


def tokens(comparable_text: str) -> list[str]:
    """Words for English, single characters for Japanese."""
    if comparable_text.isascii() or not _HAS_CJK.search(comparable_text):
        return comparable_text.split()
    return _TOKEN.findall(comparable_text)


_M64 = np.uint64(0xFFFFFFFFFFFFFFFF)
_UTF8 = methodcaller("encode", "utf-8")
_BLAKE2B_8 = functools.partial(hashlib.blake2b, digest_size=8)
_DIGEST8 = methodcaller("digest")


_S30, _S27, _S31, _S32 = np.uint64(30), np.uint64(27), np.uint64(31), np.uint64(32)
_C1, _C2 = np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)


def _mix64(x: np.ndarray) -> np.ndarray:
    """splitmix64's finalizer, vectorized: spreads every input bit over the output. (The
    constants are made once: building numpy scalars per call cost more than the arithmetic.)"""
    x = x ^ (x >> _S30)
    x = x * _C1
    x = x ^ (x >> _S27)
    x = x * _C2
    return x ^ (x >> _S31)


_MASK64 = (1 << 64) - 1


def _mix64_int(x: int) -> int:
    """``_mix64`` of one value, in Python integers (cheaper than numpy for a single value)."""
    x ^= x >> 30
    x = (x * 0xBF58476D1CE4E5B9) & _MASK64
    x ^= x >> 27
    x = (x * 0x94D049BB133111EB) & _MASK64
    return x ^ (x >> 31)


def _mix64_inplace(x: np.ndarray) -> np.ndarray:
    """``_mix64`` computed in ``x`` itself (an array the caller owns): fewer temporaries."""
    x ^= x >> _S30
    x *= _C1
    x ^= x >> _S27
    x *= _C2
    x ^= x >> _S31
    return x


TOKEN_CACHE = 50_000  # tokens whose hashes are kept (oldest dropped first: a few MB at most)
BANDS_CACHE = 2_048  # texts whose band keys are kept (about 0.5 MB)


class MinHasher:
    """MinHash over token shingles (2 tokens by default), cut into ``bands`` band keys of ``rows`` values each.

    With the defaults (32 bands of 3 rows) two texts whose shingle sets have Jaccard similarity
    0.5 share a band key with probability 0.986, at 0.3 with 0.58 and at 0.1 with 0.03: edited
    re-sends (about 0.67) are found, unrelated mail rarely collides. A band key is 32 bits, so a
    signature is ``4 * bands`` bytes."""

    def __init__(self, bands: int = 32, rows: int = 3, seed: int = 0x5EED, shingle: int = 2) -> None:
        self.bands = bands
        self.rows = rows
        self.shingle = shingle
        rng = np.random.default_rng(seed)
        k = bands * rows
        self._a = (rng.integers(0, 2**63, size=k, dtype=np.uint64) << np.uint64(1)) | np.uint64(1)
        self._b = rng.integers(0, 2**63, size=k, dtype=np.uint64)
        self._token_cache: dict[str, int] = {}
        # token -> its hash mixed for each position j of a shingle (``_mix64(h * (2j + 1))``) as
        # ``shingle`` native uint64 bytes: all ``bands_for`` needs of a token, so a known token costs
        # no numpy work, and a text's tokens become one array with one ``bytes.join``.
        self._mixed_cache: dict[str, bytes] = {}
        self._multipliers = np.array([2 * j + 1 for j in range(shingle)], dtype=np.uint64)
        self._pack = struct.Struct(f"={shingle}Q").pack  # native order, as numpy reads it back
        self._row_salt = [np.uint64(((r + 1) * 0x9E3779B97F4A7C15) % 2**64) for r in range(rows)]
        self._band_salt = _mix64(np.array([(i * 0x9E3779B97F4A7C15) % 2**64 for i in range(1, bands + 1)], dtype=np.uint64))
        # The hash functions reordered row-major ((rows, bands) instead of (bands, rows)), so each
        # row's MinHash values are one contiguous vector for the fold in ``bands_for``.
        order = np.arange(k).reshape(bands, rows).T.reshape(-1)
        self._a_rows = np.ascontiguousarray(self._a[order])
        self._b_rows = np.ascontiguousarray(self._b[order])
        self._salt_flat = np.repeat(np.array([int(s) for s in self._row_salt], dtype=np.uint64), bands)
        # Band keys of recently seen texts: a form letter or a re-sent demand is hashed once.
        self._bands_cache: dict[str, np.ndarray | None] = {}

    # -- shingles -------------------------------------------------------------------------------
    def _token_hash(self, token: str) -> int:
        h = self._token_cache.get(token)
        if h is None:
            h = int.from_bytes(hashlib.blake2b(token.encode("utf-8"), digest_size=8).digest(), "little")
            if len(self._token_cache) < TOKEN_CACHE:
                self._token_cache[token] = h
        return h

    def shingle_hashes(self, comparable_text: str) -> np.ndarray:
        """64-bit hashes of the token shingles (one shingle of all tokens when there are fewer)."""
        toks = tokens(comparable_text)
        if not toks:
            return np.zeros(0, dtype=np.uint64)
        th = np.fromiter((self._token_hash(t) for t in toks), dtype=np.uint64, count=len(toks))
        return self._shingles_from_token_hashes(th)

    def _shingles_from_token_hashes(self, th: np.ndarray) -> np.ndarray:
        n, k = len(th), self.shingle
        if n < k:
            acc = np.uint64(0)
            for v in th:
                acc = _mix64(np.array([acc ^ v], dtype=np.uint64))[0]
            return np.array([acc], dtype=np.uint64)
        return _mix64(self._window_xor(th))

    def _window_xor(self, th: np.ndarray) -> np.ndarray:
        """For each k-token window, a mix of its token hashes that depends on their order."""
        k, n = self.shingle, len(th)
        s = _mix64(th[: n - k + 1])
        for j in range(1, k):
            s = s ^ _mix64(th[j : n - k + 1 + j] * np.uint64(2 * j + 1))
        return s

    def _mixed(self, token: str) -> bytes:
        mixed = self._mixed_cache.get(token)
        if mixed is None:
            h = self._token_hash(token)
            mixed = self._pack(*[_mix64_int((h * (2 * j + 1)) & _MASK64) for j in range(self.shingle)])
            cache = self._mixed_cache
            if len(cache) >= TOKEN_CACHE:
                del cache[next(iter(cache))]  # the oldest entry: the cache stays bounded
            cache[token] = mixed
        return mixed

    def _mix_new(self, tokens: list[str]) -> dict[str, bytes]:
        """``_mixed`` of each of ``tokens`` (none cached yet, and room for all: nothing is
        evicted), with the per-position mixing vectorized over all of them: the same bytes.
        Returns them (now cached too) by token."""
        token_cache = self._token_cache
        hashes = np.frombuffer(b"".join(map(_DIGEST8, map(_BLAKE2B_8, map(_UTF8, tokens)))), dtype="<u8").astype(np.uint64)
        if len(token_cache) + len(tokens) <= TOKEN_CACHE:  # as ``_token_hash`` keeps them: while there is room
            token_cache.update(zip(tokens, hashes.tolist()))  # (a token already there gets the same value)
        elif len(token_cache) < TOKEN_CACHE:
            room = TOKEN_CACHE - len(token_cache)
            token_cache.update(islice(((t, h) for t, h in zip(tokens, hashes.tolist()) if t not in token_cache), room))
        mixed = np.empty((len(tokens), self.shingle), dtype=np.uint64)
        for j in range(self.shingle):
            mixed[:, j] = _mix64(hashes * np.uint64(2 * j + 1))
        fresh = dict(zip(tokens, map(bytes, mixed)))
        self._mixed_cache.update(fresh)
        return fresh

    # -- signatures -----------------------------------------------------------------------------
    def bands_for(self, comparable_text: str) -> np.ndarray | None:
        """The band keys (``uint32[bands]``) of one text, or None for a text without words.
        The same keys as ``bands_for_many`` and the step-by-step ``shingle_hashes``, with the
        per-token mixing cached, the hash functions applied shingle-major (the minimum is then
        taken across rows, vectorized over all hash functions) and the fold done in place.
        Recently seen texts are answered from a small cache (treat the result as read-only)."""
        cache = self._bands_cache
        if comparable_text in cache:
            return cache[comparable_text]
        keys = self._bands_for(comparable_text)
        if keys is not None:
            keys.flags.writeable = False
        if len(cache) >= BANDS_CACHE:
            del cache[next(iter(cache))]  # the oldest entry
        cache[comparable_text] = keys
        return keys

    def bands_for_texts(self, comparable_texts: Sequence[str],
                        token_lists: Sequence[list[str]] | None = None) -> list[np.ndarray | None]:
        """:meth:`bands_for` of each text (the same keys, and the same cache), computed for the
        whole batch in one vectorized pass: a text costs about as many numpy calls as a batch
        of a hundred, so a batch of messages (one IMAP fetch) is fingerprinted at once.
        ``token_lists``: ``tokens(text)`` of each text, when the caller has them already
        (``comparable_tokens``); read, never changed."""
        cache = self._bands_cache
        out: list[np.ndarray | None] = [None] * len(comparable_texts)
        todo: dict[str, list[int]] = {}
        for i, text in enumerate(comparable_texts):
            if text in cache:
                out[i] = cache[text]
            else:
                todo.setdefault(text, []).append(i)
        k = self.shingle
        batch: list[tuple[str, list[str]]] = []
        for text, where in todo.items():
            toks = tokens(text) if token_lists is None else token_lists[where[0]]
            if len(toks) >= k:
                batch.append((text, toks))
            else:  # no words (None) or fewer than a shingle: the one-text path
                keys = self.bands_for(text)
                for i in where:
                    out[i] = keys
        if not batch:
            return out
        token_runs = [toks for _, toks in batch]
        flat = list(chain.from_iterable(token_runs))
        mixed_cache = self._mixed_cache
        # Each token's mixed bytes in one pass of look-ups; only when some are missing (None)
        # are those found and mixed, all at once while the cache has room for them.
        parts = list(map(mixed_cache.get, flat))
        if None in parts:
            missing = list(dict.fromkeys(compress(flat, map(not_, parts))))  # in order of first use
            if len(mixed_cache) + len(missing) <= TOKEN_CACHE:  # nothing evicted: every token stays cached
                # (``list(map(mixed_cache.__getitem__, flat))``: the new tokens looked up in
                # the small dict of them, the others keep the bytes found above)
                parts = list(map(self._mix_new(missing).get, flat, parts))
            else:
                parts = [p or self._mixed(t) for t, p in zip(flat, parts)]
        mixed_bytes = b"".join(parts)
        counts = np.array(list(map(len, token_runs)), dtype=np.int64)  # (each text's tokens, counted in C)
        total = int(counts.sum())
        mixed = np.frombuffer(mixed_bytes, dtype=np.uint64).reshape(total, k)
        # Shingles of the concatenation; keep those whose k tokens lie in one text.
        width = total - k + 1
        sh = mixed[:width, 0] ^ mixed[1 : width + 1, 1] if k > 1 else mixed[:, 0].copy()
        for j in range(2, k):
            sh ^= mixed[j : width + j, j]
        owner = np.repeat(np.arange(len(batch)), counts)
        sh = sh[owner[:width] == owner[k - 1 :]]
        _mix64_inplace(sh)
        starts = np.zeros(len(batch), dtype=np.int64)
        np.cumsum(counts[:-1] - (k - 1), out=starts[1:])
        # Hash functions along the first axis, shingles along the second: the per-text minimum
        # is then a reduction over contiguous memory (2-3 times faster than along axis 0).
        values = self._a_rows[:, None] * sh  # (rows * bands, shingles)
        values += self._b_rows[:, None]
        v = np.minimum.reduceat(values, starts, axis=1)  # per text, as ``values.min(axis=0)`` one by one
        v >>= _S32
        v += self._salt_flat[:, None]
        v = v.reshape(self.rows, self.bands, len(batch))
        acc = v[0] ^ self._band_salt[:, None]
        _mix64_inplace(acc)
        for r in range(1, self.rows):
            acc ^= v[r]
            _mix64_inplace(acc)
        acc >>= _S32
        keys_all = np.ascontiguousarray(acc.T, dtype=np.uint32)  # (texts, bands)
        # Read-only once for all: each text's row is then a read-only view (as if each were
        # marked one by one).
        keys_all.flags.writeable = False
        rows = list(keys_all)
        # Each text cached in turn, the oldest entry dropped whenever the cache is full: as the
        # texts are new to it, that keeps the newest ``BANDS_CACHE`` of its entries followed by
        # the texts, so they are added at once and then that many of the oldest dropped.
        cache.update(zip([text for text, _ in batch], rows))
        over = len(cache) - BANDS_CACHE
        if over > 0:
            for old in list(islice(cache, over)):
                del cache[old]
        for (text, _), keys in zip(batch, rows):
            for i in todo[text]:
                out[i] = keys
        return out

    def _bands_for(self, comparable_text: str) -> np.ndarray | None:
        toks = tokens(comparable_text)
        n, k = len(toks), self.shingle
        if n == 0:
            return None
        if n < k:
            sh = self.shingle_hashes(comparable_text)
        else:
            get = self._mixed_cache.get
            mixed = np.frombuffer(b"".join([get(t) or self._mixed(t) for t in toks]), dtype=np.uint64).reshape(n, k)
            sh = mixed[: n - k + 1, 0] ^ mixed[1 : n - k + 2, 1] if k > 1 else mixed[:, 0].copy()
            for j in range(2, k):
                sh ^= mixed[j : n - k + 1 + j, j]
            _mix64_inplace(sh)
        values = sh[:, None] * self._a_rows  # (shingles, rows * bands)
        values += self._b_rows
        # min(x >> 32) == min(x) >> 32 (the shift never reorders): one pass fewer over the matrix.
        v = values.min(axis=0)
        v >>= _S32
        v += self._salt_flat
        v = v.reshape(self.rows, self.bands)
        acc = v[0] ^ self._band_salt
        _mix64_inplace(acc)
        for r in range(1, self.rows):
            acc ^= v[r]
            _mix64_inplace(acc)
        acc >>= _S32
        return acc.astype(np.uint32)

    def bands_for_many(self, comparable_texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """Band keys for many texts at once (a backfill or a benchmark load): returns
        ``(keys uint32[n, bands], ok bool[n])``; ``ok`` is false for texts without words.
        Gives exactly what :meth:`bands_for` gives for each text, vectorized over the batch."""
        n = len(comparable_texts)
        keys = np.zeros((n, self.bands), dtype=np.uint32)
        ok = np.zeros(n, dtype=bool)
        token_lists = [tokens(t) for t in comparable_texts]
        counts = np.fromiter((len(t) for t in token_lists), dtype=np.int64, count=n)
        cache = self._token_cache
        flat_tokens = [tok for toks in token_lists for tok in toks]
        for tok in set(flat_tokens) - cache.keys():
            self._token_hash(tok)
        if len(cache) >= TOKEN_CACHE:  # the cache stopped growing: hash what it lacks on the fly
            th = np.fromiter(map(self._token_hash, flat_tokens), dtype=np.uint64, count=len(flat_tokens))
        else:
            th = np.array(list(map(cache.__getitem__, flat_tokens)), dtype=np.uint64)
        starts = np.zeros(n, dtype=np.int64)
        np.cumsum(counts[:-1], out=starts[1:])
        long = counts >= self.shingle
        # Every position whose shingle window stays inside its own text.
        sh_parts, owner_parts = [], []
        k = self.shingle
        if long.any() and th.size >= k:
            s = _mix64(self._window_xor(th))
            text_of = np.repeat(np.arange(n), counts)
            first = text_of[: len(text_of) - k + 1]
            valid = (first == text_of[k - 1 :]) & long[first]
            sh_parts.append(s[valid])
            owner_parts.append(first[valid])
        for i in np.nonzero((counts > 0) & ~long)[0]:  # 1-2 tokens: one shingle of all of them
            sh_parts.append(self._shingles_from_token_hashes(th[starts[i] : starts[i] + counts[i]]))
            owner_parts.append(np.array([i]))
        if not sh_parts:
            return keys, ok
        flat = np.concatenate(sh_parts)
        owners = np.concatenate(owner_parts)
        order = np.argsort(owners, kind="stable")
        flat, owners = flat[order], owners[order]
        present, seg_starts = np.unique(owners, return_index=True)
        k = self.bands * self.rows
        values = np.empty((len(present), k), dtype=np.uint64)
        for j in range(k):  # one hash function at a time keeps the working set small
            hv = (self._a[j] * flat + self._b[j]) >> np.uint64(32)
            values[:, j] = np.minimum.reduceat(hv, seg_starts)
        keys[present] = self._band_keys(values)
        ok[present] = True
        return keys, ok

    def _band_keys(self, values: np.ndarray) -> np.ndarray:
        """Fold each band's ``rows`` MinHash values into one 32-bit key."""
        v = values.reshape(values.shape[0], self.bands, self.rows)
        acc = np.broadcast_to(self._band_salt, v.shape[:2])
        for r in range(self.rows):
            acc = _mix64(acc ^ (v[:, :, r] + self._row_salt[r]))
        return (acc >> _S32).astype(np.uint32)


def band_bytes(keys: np.ndarray | None) -> bytes | None:
    """Band keys as stored in the message store (little-endian uint32)."""
    return None if keys is None else keys.astype("<u4").tobytes()


def band_array(blob: bytes | None) -> np.ndarray | None:
    return None if not blob else np.frombuffer(blob, dtype="<u4").astype(np.uint32)
