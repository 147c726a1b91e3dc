"""Text normalization that defeats evasion, with a map back to the original offsets.

Detection reads a folded copy of the message: NFKC (full-width to half-width), lower case,
zero-width and bidi characters dropped, homoglyphs and Latin diacritics folded, katakana folded to
hiragana, leetspeak inside words (``1d10t``), single letters spread out with spaces or dots
(``i d i o t``, ``s.t.u.p.i.d``) joined, and symbols or spaces interleaved between Japanese
characters (``死・ね``, ``バ　カ``) removed, as are small kana between kana (``ネット`` reads ``ねと``;
:func:`fold_pattern_kana` folds the lexicon's patterns the same way). Masking symbols (``f*ck``) and stretched letters
(``stuuupid``) are left in place: the lexicon's compiled patterns tolerate them.

Every character of the folded text remembers the span of original text it came from, so a match
in the folded text maps back to ``original[start:end]`` exactly.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from typing import Callable, Iterable

from gateway.detect.parsing import class_end

#: Characters that carry no visible content and are used to split words invisibly.
_INVISIBLE = {
    0x00AD, 0x034F, 0x061C, 0x115F, 0x1160, 0x17B4, 0x17B5, 0x180E, 0x200B, 0x200C, 0x200D,
    0x200E, 0x200F, 0x202A, 0x202B, 0x202C, 0x202D, 0x202E, 0x2060, 0x2061, 0x2062, 0x2063,
    0x2064, 0x2066, 0x2067, 0x2068, 0x2069, 0x206A, 0x206B, 0x206C, 0x206D, 0x206E, 0x206F,
    0x3164, 0xFEFF, 0xFFA0,
}
_INVISIBLE.update(range(0xFE00, 0xFE10))  # variation selectors

#: Letters from other scripts that look like Latin ones (Cyrillic, Greek, a few symbols).
_HOMOGLYPHS = {
    "а": "a", "в": "b", "с": "c", "е": "e", "ё": "e", "һ": "h", "і": "i", "ї": "i", "ј": "j",
    "к": "k", "м": "m", "н": "h", "о": "o", "р": "p", "ѕ": "s", "т": "t", "у": "y", "х": "x",
    "ԁ": "d", "ԛ": "q", "ԝ": "w", "ɡ": "g", "ɑ": "a", "ı": "i", "ɩ": "i", "ʟ": "l",
    "α": "a", "β": "b", "ε": "e", "η": "n", "ι": "i", "κ": "k", "ν": "v", "ο": "o", "ρ": "p",
    "τ": "t", "υ": "u", "χ": "x", "ω": "w", "ϲ": "c", "ѡ": "w",
    "’": "'", "‘": "'", "ʼ": "'", "`": "'", "´": "'", "“": '"', "”": '"', "„": '"', "«": '"',
    "»": '"', "〝": '"', "〟": '"', "＂": '"',
}

#: Leetspeak digits and symbols read as letters when they sit inside a word.
_LEET = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "8": "b",
                       "9": "g", "@": "a", "$": "s", "!": "i", "|": "l", "€": "e", "+": "t"})
_LEET_CHARS = "0134578@$!|+"

_KATA_START, _KATA_END = 0x30A1, 0x30F6


@lru_cache(maxsize=65536)
def fold_char(ch: str) -> str:
    """Fold one original character to zero or more normalized characters."""
    cp = ord(ch)
    if cp in _INVISIBLE or unicodedata.category(ch) == "Cf":
        return ""
    out = unicodedata.normalize("NFKC", ch).lower()
    folded = []
    for c in out:
        c = _HOMOGLYPHS.get(c, c)
        o = ord(c)
        if _KATA_START <= o <= _KATA_END:
            c = chr(o - 0x60)
        elif 0x00C0 <= o < 0x0250:  # Latin with diacritics: keep the base letter
            c = "".join(x for x in unicodedata.normalize("NFKD", c) if not unicodedata.combining(x))
        elif unicodedata.combining(c) and o not in (0x3099, 0x309A):
            c = ""
        folded.append(c)
    return "".join(folded)


def is_japanese_char(ch: str) -> bool:
    """Kana, kanji and the prolonged-sound mark."""
    o = ord(ch)
    return (0x3040 <= o <= 0x30FF) or (0x4E00 <= o <= 0x9FFF) or (0x3400 <= o <= 0x4DBF) or o == 0x3005


@dataclass(frozen=True)
class Normalized:
    """The folded text and, per folded character, the original span it came from.

    ``starts``/``ends`` are ``None`` when the folding kept every offset (the common case), so the
    identity map costs nothing.
    """

    original: str
    text: str
    starts: list[int] | None = None
    ends: list[int] | None = None

    def span(self, start: int, end: int) -> tuple[int, int]:
        """Original ``(start, end)`` covering folded ``text[start:end]``."""
        if self.starts is None or self.ends is None:
            return start, end
        if end <= start:
            pos = self.starts[start] if start < len(self.starts) else len(self.original)
            return pos, pos
        return self.starts[start], self.ends[end - 1]


class _Builder:
    """Accumulates folded pieces with their original spans."""

    __slots__ = ("parts", "starts", "ends")

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.starts: list[int] = []
        self.ends: list[int] = []

    def add(self, piece: str, start: int, end: int) -> None:
        if not piece:
            return
        self.parts.append(piece)
        self.starts.extend([start] * len(piece))
        self.ends.extend([end] * len(piece))

    def add_mapped(self, piece: str, starts: list[int], ends: list[int]) -> None:
        self.parts.append(piece)
        self.starts.extend(starts)
        self.ends.extend(ends)


def _build_tables() -> tuple[dict[int, str], "re.Pattern[str]"]:
    """A 1:1 translate table for characters that fold to one other character, and a pattern
    for those that fold to zero or several (handled one by one, with offsets)."""
    table: dict[int, str] = {}
    special: list[str] = []
    for lo, hi in ((0x80, 0x3100), (0xF900, 0xFB00), (0xFE00, 0x10000)):
        for cp in range(lo, hi):
            ch = chr(cp)
            if 0xD800 <= cp <= 0xDFFF:
                continue
            folded = fold_char(ch)
            if len(folded) != 1 or folded in ("\u3099", "\u309a"):
                special.append(ch)
            elif folded != ch:
                table[cp] = folded
    for cp in range(ord("A"), ord("Z") + 1):
        table[cp] = chr(cp + 32)
    return table, re.compile("[" + "".join(re.escape(c) for c in special) + "]")


_TABLE, _SPECIAL = _build_tables()
#: The same table as a list indexed by code point, identity where the table has no entry:
#: ``str.translate`` then finds every character by index, where a dict raised (and cleared) a
#: KeyError for each character that stays as it is, most of a Japanese text.
_TABLE_LIST: list[int | str] = [_TABLE.get(cp, cp) for cp in range(max(_TABLE) + 1)]


def _fold_chars(text: str) -> Normalized:
    if text.isascii():
        return Normalized(text, text.lower())
    if not _SPECIAL.search(text):
        return Normalized(text, text.translate(_TABLE_LIST))
    pieces = [fold_char(c) for c in text]
    joined = "".join(pieces)
    if all(len(p) == 1 for p in pieces) and "\u3099" not in joined and "\u309a" not in joined:
        return Normalized(text, joined)
    b = _Builder()
    for i, p in enumerate(pieces):
        if p in ("\u3099", "\u309a") and b.parts:
            prev = b.parts[-1]
            composed = unicodedata.normalize("NFC", prev[-1] + p)
            if len(composed) == 1:
                b.parts[-1] = prev[:-1] + composed
                b.ends[-1] = i + 1
                continue
        b.add(p, i, i + 1)
    return Normalized(text, "".join(b.parts), b.starts, b.ends)


def _rewrite(norm: Normalized, pattern: re.Pattern[str],
             replace: Callable[[re.Match[str]], "Iterable[tuple[str, int, int]] | str | None"],
             matches: "list[re.Match[str]] | None" = None) -> Normalized:
    """Rewrite matches of ``pattern`` in ``norm.text``, composing the offset maps.

    ``replace`` returns ``None`` to keep a match, a same-length string, or a list of
    ``(piece, folded_start, folded_end)`` where each piece maps to that folded span.
    ``matches``: the matches, when the caller found them already.
    """
    text = norm.text
    if matches is None:
        matches = list(pattern.finditer(text))
    if not matches:
        return norm
    starts = norm.starts if norm.starts is not None else list(range(len(text)))
    ends = norm.ends if norm.ends is not None else list(range(1, len(text) + 1))
    b = _Builder()
    pos = 0
    changed_length = False
    for m in matches:
        rep = replace(m)
        if rep is None:
            continue
        b.add_mapped(text[pos:m.start()], starts[pos:m.start()], ends[pos:m.start()])
        if isinstance(rep, str):
            b.add_mapped(rep, starts[m.start():m.end()], ends[m.start():m.end()])
            changed_length |= len(rep) != m.end() - m.start()
        else:
            for piece, s, e in rep:
                if e <= s:
                    continue
                b.add(piece, starts[s], ends[e - 1])
            changed_length = True
        pos = m.end()
    b.add_mapped(text[pos:], starts[pos:], ends[pos:])
    new_text = "".join(b.parts)
    if norm.starts is None and not changed_length:
        return Normalized(norm.original, new_text)
    return Normalized(norm.original, new_text, b.starts, b.ends)


# "i d i o t", "s.t.u.p.i.d", "k-i-l-l": three or more single letters with one separator each.
_SPACED = re.compile(r"(?<![\w*'])(?:[a-z](?:[ .\-_*,]|\. )){2,}[a-z](?![\w*])")
# Leetspeak inside a word: between letters, or leading a word of letters. Each pattern starts
# with its (rare) symbol class and looks behind from there, so ``re`` skips ahead to the symbols
# instead of trying a lookbehind at every character; the matches are those of the plain forms
# ``(?<=[a-z*])[0134578@$!|+]+(?=[a-z*])``, ``(?<![\w*@$])[0134@$](?=[a-z*]{2,})``,
# ``(?<=[a-z]{2})\$+|(?<=[a-z]{3})[0137](?![\w*])`` and ``(?<=[a-z])[#%]+(?=[a-z])``
# (tests/unit/test_detect_leet_patterns.py compares them).
_LEET_INNER = re.compile(r"[0134578@$!|+](?<=[a-z*].)[0134578@$!|+]*(?=[a-z*])")
_LEET_LEAD = re.compile(r"[0134@$](?<![\w*@$].)(?=[a-z*]{2,})")
_LEET_TAIL = re.compile(r"[$0137](?:(?<=[a-z]{2}\$)\$*|(?<=[a-z]{3}[0137])(?![\w*]))")
_MASK_INNER = re.compile(r"[#%](?<=[a-z].)[#%]*(?=[a-z])")
#: Small kana dropped between a hiragana and a following hiragana or kanji (``ねっと`` -> ``ねと``,
#: ``すごぉい`` -> ``すごい``), so a word reads the same with or without them.
SMALL_KANA = "ぁぃぅぇぉっ"
_HIRAGANA = "\u3040-\u309f"
_KANA_NEXT = "\u3040-\u309f\u4e00-\u9fff"  # what may follow a dropped small kana
# Symbols and spaces interleaved between Japanese characters; the long-vowel mark is dropped too.
_JA_GAP = re.compile(
    r"(?<=[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff々])"
    r"(?:[\sー〜~・*＊.\-_/|\\♪☆★♡♥◯○●×]"
    rf"|(?<=[{_HIRAGANA}])[{SMALL_KANA}](?=[{SMALL_KANA}]*[{_KANA_NEXT}]))+"
    r"(?=[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff々])"
)
#: What a _JA_GAP match starts with: it is tried only there (see _gap_matches).
_JA_GAP_FIRST = re.compile(rf"[\sー〜~・*＊.\-_/|\\♪☆★♡♥◯○●×{SMALL_KANA}]")
_KANA_NEXT_RX = re.compile(f"[{_KANA_NEXT}]")
_HIRAGANA_RX = re.compile(f"[{_HIRAGANA}]")
_WORD = re.compile(r"[a-z*]+")
# Leet or masking next to a letter: a letter then a digit or symbol, or a leading 0134@$ then a
# letter. Written to start with the (rare) symbol class, so the regex engine can skip ahead to it.
_LEET_ANY = re.compile(r"[0134578@$!|+#%](?:(?<=[a-z*].)|(?<=[0134@$])(?=[a-z*]))")
_LEET_ANY_CHARS = "0134578@$!|+#%"  # what a _LEET_ANY match starts with
#: ASCII characters other than letters and ``*`` to spaces, as a list indexed by code point
#: (identity for the letters): ``str.translate`` then looks each character up by index, where
#: a dict raised and cleared a ``KeyError`` for every letter, most of a text.
_NON_LETTER: list[str] = [chr(c) if 97 <= c <= 122 or c == 42 else " " for c in range(128)]


def _gap_matches(text: str) -> list[re.Match[str]]:
    """``list(_JA_GAP.finditer(text))``, trying the pattern only where a match can start (a
    space, symbol or small kana: few in most text) rather than at every character."""
    out: list[re.Match[str]] = []
    end = 0
    match = _JA_GAP.match
    for c in _JA_GAP_FIRST.finditer(text):
        pos = c.start()
        if pos < end:
            continue
        m = match(text, pos)
        if m is not None:
            out.append(m)
            end = m.end()
    return out


def _masked(m: re.Match[str]) -> str:
    return "*" * (m.end() - m.start())


def _unleet(m: re.Match[str]) -> str:
    return m.group().translate(_LEET)


def _has_leet(text: str) -> bool:
    """``_LEET_ANY.search(text) is not None``, searching only from the first digit or symbol it
    needs (``str.find`` is far quicker than the regex at skipping text without them)."""
    first = -1
    for ch in _LEET_ANY_CHARS:
        pos = text.find(ch)
        if pos >= 0 and (first < 0 or pos < first):
            first = pos
    return first >= 0 and _LEET_ANY.search(text, first) is not None


#: Quick checks before two leetspeak passes, over ``text.encode("ascii").translate(...)``: a
#: _LEET_INNER match is a run of its symbols (``S``) between letters or ``*`` (``a``), a
#: _LEET_TAIL match starts with ``$0137`` (``T``) right after two letters (``$``; three before a
#: digit). Without that, the pass would change nothing and is not run.
_INNER_KINDS = bytes(ord("a") if 97 <= c <= 122 or c == 42 else ord("S") if chr(c) in "0134578@$!|+"
                     else 32 for c in range(256))
_TAIL_KINDS = bytes(ord("a") if 97 <= c <= 122 else ord("T") if chr(c) in "$0137" else 32 for c in range(256))
#: A _LEET_INNER match in those kinds: a letter or ``*``, its symbols, and a letter or ``*`` after
#: them (its lookbehind and lookahead). Where the symbols end the word (``help!``), no match.
_INNER_RUN = re.compile(rb"aS+a")


def _leet_passes(t: str) -> str:
    """The masking and leetspeak rewrites, in order; each replaces a match by as many characters.
    A pass that cannot match (its quick check above) is skipped: it would return ``t`` itself."""
    if "#" in t or "%" in t:
        t = _MASK_INNER.sub(_masked, t)
    if not t.isascii() or _INNER_RUN.search(t.encode("ascii").translate(_INNER_KINDS)):
        t = _LEET_INNER.sub(_unleet, t)
    t = _LEET_LEAD.sub(_unleet, t)
    if "$" in t or "0" in t or "1" in t or "3" in t or "7" in t:
        if not t.isascii() or b"aaT" in t.encode("ascii").translate(_TAIL_KINDS):  # two letters first
            t = _LEET_TAIL.sub(_unleet, t)
    return t


def words_of(text: str) -> list[str]:
    """The words of folded text (letters and masking stars), quickly."""
    if text.isascii():
        return text.translate(_NON_LETTER).split()
    return _WORD.findall(text)


_THREE_SINGLES = re.compile(r" [a-z*] [a-z*] [a-z*] ")


def _has_spaced_letters(words: list[str]) -> bool:
    """Three single-letter words in a row (``i d i o t``): one search over the joined words."""
    return _THREE_SINGLES.search(" " + " ".join(words) + " ") is not None


class Normalizer:
    """Folds text for matching. ``vocabulary`` names words the spaced-letter joiner may split
    off a leading ``i``/``a`` from (``I h a t e`` -> ``i hate``); ``rewrites`` maps whole folded
    words to their reading (misspellings and run-together words), built by the lexicon."""

    def __init__(self, vocabulary: frozenset[str] = frozenset(),
                 rewrites: dict[str, str] | None = None) -> None:
        self.vocabulary = vocabulary
        self.rewrites = rewrites or {}
        self._rewrite_keys = frozenset(self.rewrites)

    def __call__(self, text: str) -> Normalized:
        return self.normalize(text)

    def normalize(self, text: str) -> Normalized:
        norm = _fold_chars(text)
        t = norm.text
        if not t.isascii():
            norm = _rewrite(norm, _JA_GAP, lambda m: [], _gap_matches(t))
            t = norm.text
        if _has_leet(t):
            t = _leet_passes(t)  # as many characters as before, so the offsets stay
            if t != norm.text:
                norm = Normalized(norm.original, t, norm.starts, norm.ends)
        words = words_of(norm.text)
        if _has_spaced_letters(words):
            norm = _rewrite(norm, _SPACED, self._join_spaced)
            words = words_of(norm.text)
        if self.rewrites:
            hits = self._rewrite_keys.intersection(words)
            if hits:
                norm = _rewrite(norm, _WORD, lambda m: self._respell(m, hits))
        return norm

    def _join_spaced(self, m: re.Match[str]) -> list[tuple[str, int, int]]:
        base = m.start()
        letters = [(c, base + i) for i, c in enumerate(m.group()) if c.isalpha()]
        word = "".join(c for c, _ in letters)
        pieces = [(c, i, i + 1) for c, i in letters]
        if word[0] in "ia" and word not in self.vocabulary and word[1:] in self.vocabulary:
            first = letters[0][1]
            pieces.insert(1, (" ", first + 1, first + 2))
        return pieces

    def _respell(self, m: re.Match[str], hits: set[str]) -> "list[tuple[str, int, int]] | None":
        word = m.group()
        if word not in hits:
            return None
        reading = self.rewrites[word]
        # The whole reading maps to the whole misspelled word.
        s, e = m.start(), m.end()
        if " " not in reading:
            return [(reading, s, e)]
        left, right = reading.split(" ", 1)
        # A run-together pair: split where the original text splits.
        cut = s + len(left)
        return [(left, s, cut), (" ", cut - 1, cut), (right, cut, e)]


_DEFAULT = Normalizer()


def normalize(text: str) -> Normalized:
    """Fold ``text`` with no lexicon knowledge (see :class:`Normalizer` for the full version)."""
    return _DEFAULT.normalize(text)


#: Long-vowel marks: text drops them between Japanese characters, and patterns drop them always.
LONG_MARKS = "ー〜"


def fold_template(template: str) -> str:
    """A Japanese regex template folded as message text is folded: characters (katakana to
    hiragana, width), small kana (:func:`fold_pattern_kana`), then long-vowel marks. The marks
    are dropped last since a small kana before one stays in the text (``ネッート`` reads ``ねっと``)."""
    chars = "".join(c if ord(c) < 128 or c in LONG_MARKS else fold_char(c) for c in template)
    return "".join(c for c in fold_pattern_kana(chars) if c not in LONG_MARKS)


_GROUP_OPENERS = ("(?<=", "(?<!", "(?=", "(?!", "(?:", "(")
#: After a small kana, the pattern continues with something whose first character it cannot name.
_OPEN_ENDED = set("()|.[\\")


def fold_pattern_kana(pattern: str) -> str:
    """Fold the small kana of a (character-folded) Japanese regex template as :class:`Normalizer`
    folds them in text, so ``ネット`` in a rule matches ``ネット`` and ``ネト`` alike.

    Text loses a small kana written after a hiragana when a hiragana or kanji follows, and keeps
    it otherwise. A pattern's small kana with a hiragana literal before it and a hiragana or kanji
    literal after it is therefore dropped (with any quantifier of its own), and one after any
    other literal is kept. Where the pattern cannot say what stands on one side (a group, an
    alternative or a slot begins or ends there), the small kana becomes optional, since the text
    may hold it or not; inside a lookaround it is left as written (a lookbehind must keep a
    fixed width, and widening a negative lookahead would narrow the rule). Character classes are
    left alone.
    """
    out: list[str] = []
    looks: list[bool] = []  # per open group: inside a lookaround
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        if c == "\\":
            out.append(pattern[i:i + 2])
            i += 2
            continue
        if c == "[":
            j = class_end(pattern, i)
            out.append(pattern[i:j])
            i = j
            continue
        if c == "(":
            opener = next(o for o in _GROUP_OPENERS if pattern.startswith(o, i))
            looks.append(opener in ("(?<=", "(?<!", "(?=", "(?!") or (bool(looks) and looks[-1]))
            out.append(opener)
            i += len(opener)
            continue
        if c == ")":
            if looks:
                looks.pop()
            out.append(c)
            i += 1
            continue
        if c not in SMALL_KANA:
            out.append(c)
            i += 1
            continue
        quant = pattern[i + 1] if i + 1 < n and pattern[i + 1] in "?*+" else ""
        end = i + 1 + len(quant)
        if quant == "" and end < n and pattern[end] == "{":
            out.append(c)  # a counted repeat: rare enough to keep as written
            i += 1
            continue
        prev = _literal_before(pattern, i)
        after = _literal_after(pattern, end)
        if prev is not None and not _HIRAGANA_RX.match(prev):
            out.append(c + quant)  # after a kanji or a letter the text keeps it
        elif after is not None and not _KANA_NEXT_RX.match(after):
            out.append(c + quant)  # before a letter, a long-vowel mark or the end: kept too
        elif prev is not None and after is not None:
            pass  # between kana: dropped, exactly as in the text
        elif looks and looks[-1]:
            out.append(c + quant)
        else:
            out.append(c + ("*" if quant in ("*", "+") else "?"))
        i = end
    return "".join(out)


def _literal_before(pattern: str, i: int) -> "str | None":
    """The literal character right before ``pattern[i]``, or None when that is regex syntax
    (a group's start or end, an alternative, a quantifier, a class, a slot) or the start."""
    if i == 0:
        return None
    prev = pattern[i - 1]
    if prev in "()|?*+]}:=!>" or (i >= 2 and pattern[i - 2] == "\\"):
        return None
    return prev


def _literal_after(pattern: str, j: int) -> "str | None":
    """The literal character at ``pattern[j]``, or None when the pattern is open-ended there (its
    end, a group, an alternative, a class, an escape, any-character, or an optional character).
    Another small kana counts as what follows: it is a hiragana, as in the text."""
    n = len(pattern)
    if j >= n or pattern[j] in _OPEN_ENDED or pattern[j] == "{":
        return None
    if j + 1 < n and pattern[j + 1] in "?*{":
        return None
    return pattern[j]
