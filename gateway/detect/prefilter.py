"""A few linear passes over a message that tell which phrase patterns can match it at all.

Python's regex engine tries a pattern at every position of the text, so running a few dozen
patterns over a 1 KB message costs milliseconds even when none matches (the usual case). An RE2
set runs many patterns at once as one automaton that reads the text once. RE2's syntax lacks
lookarounds and its ``\\w``, ``\\d`` and ``\\s`` are ASCII-only, so each pattern is translated into
a *looser* RE2 pattern: lookarounds, word boundaries and end anchors are dropped (the leading
``(?<![\\w*])`` and trailing ``(?![\\w*])`` become a consumed non-word character or the text's
edge), and every character class is widened to a superset of what Python's class accepts (a
negated class is narrowed inside, so it too accepts a superset). The looser pattern therefore
matches wherever the real one does: a pattern no set reports cannot match, and the engine skips
it; the ones reported are run with Python's ``re`` for the real matches. The result is exactly
the exhaustive scan's.

Which patterns share an automaton changes only the cost: the English patterns whose partial
matches run on over any words (:func:`spreads`) are grouped apart, in smaller automata, since they
multiply the states of whatever automaton holds them. An automaton is skipped where none of its
patterns can match: Japanese-only patterns over ASCII text, English ones over a text whose ASCII
copy holds no letter (every English pattern needs one, checked when the sets are built).

Patterns that cannot be translated (back-references, case-insensitive flags) are always run.
Without the ``google-re2`` package the prefilter is unavailable and the engine uses its word
triggers alone.
"""

from __future__ import annotations

import codecs
import re
import re._constants as K  # the parsed form of a Python regex (stable across 3.11-3.13)
import re._parser as sre_parse
from typing import Callable, Iterable

try:  # optional: the engine falls back to its word triggers without it
    import re2 as _re2
except ImportError:  # pragma: no cover - exercised only where google-re2 is missing
    _re2 = None

_UNANCHORED = _re2._re2.RE2.Anchor.UNANCHORED if _re2 is not None else None

#: Memory for each automaton: a fixed budget (RE2 resets its state cache when full), so memory
#: stays flat however many messages pass through.
MAX_MEM = 64 << 20
#: Memory for the automaton of one pattern searched alone (:meth:`Prefilter.spans`): a budget
#: too, used only as far as the text needs.
SINGLE_MAX_MEM = 32 << 20
#: Patterns per automaton: an automaton's states combine the progress of all its patterns, so
#: one for every pattern grows too many states to cache on varied text; small groups stay small.
GROUP = 64
#: Patterns per automaton for the English patterns that *spread* (:func:`spreads`): a partial
#: match of theirs stays alive across any words (``(?:\\w+[^\\w*]+){0,3}``), so each of them
#: multiplies the states of its automaton by the positions it may be at; kept in smaller groups
#: of their own, the other patterns' automata stay small (on the benchmark mail, the automata
#: then build about a seventh fewer instructions' worth of states per message).
SPREAD_GROUP = 16
#: Patterns per automaton for the other English patterns: without the spreading ones among them,
#: a few more per automaton cost less than another automaton to run (80 measured best of 64-210).
ASCII_GROUP = 80

_TOP = r"\x{10FFFF}"
_DEL = r"\x7f"
# Supersets and subsets of Python's Unicode classes, as RE2 class contents. ``wide`` stands for
# every character above ASCII: the code points themselves over UTF-8 text, or DEL over the ASCII
# copy of the text in which every such character became DEL (see ``ascii_copy``).
_SUPER = {
    K.CATEGORY_WORD: r"0-9A-Za-z_{wide}",
    K.CATEGORY_NOT_WORD: r"\x00-/:-@\[-\^`{{-\x7f{wide}",
    K.CATEGORY_DIGIT: r"0-9{wide}",
    K.CATEGORY_NOT_DIGIT: r"\x00-/:-\x7f{wide}",
    K.CATEGORY_SPACE: r"\t-\r\x1c- {wide}",
    K.CATEGORY_NOT_SPACE: r"\x00-\x08\x0e-\x1f!-\x7f{wide}",
}
_SUB = {
    K.CATEGORY_WORD: r"0-9A-Za-z_",
    K.CATEGORY_NOT_WORD: r"\x00-/:-@\[-\^`{{-~",
    K.CATEGORY_DIGIT: r"0-9",
    K.CATEGORY_NOT_DIGIT: r"\x00-/:-~",
    K.CATEGORY_SPACE: r"\t-\r ",
    K.CATEGORY_NOT_SPACE: r"\x00-\x08\x0e-\x1b!-~",
}
_ANY = r"(?s:.)"
_WIDE_UTF8 = r"\x{80}-" + _TOP


def _to_del(exc: UnicodeError) -> tuple[str, int]:
    assert isinstance(exc, UnicodeEncodeError)
    return "\x7f" * (exc.end - exc.start), exc.end


codecs.register_error("gateway.detect.del", _to_del)


#: The byte put before and after the ASCII copy for the English sets (see :class:`_Loosener`'s
#: ``padded``): the copy holds bytes 0-127 only, so this one marks the text's edges.
PAD = b"\x80"
_PAD_RE2 = r"\x{80}"


def ascii_copy(text: str) -> bytes:
    """``text`` with every character above ASCII replaced by DEL, one byte per character: what
    the English patterns are matched against (their classes accept DEL wherever they could
    accept any such character), so their automaton stays small."""
    return text.encode("ascii", "gateway.detect.del")


class Unsupported(ValueError):
    """A construct the translation does not handle: the pattern is always run."""


class _Loosener:
    """Translates one parsed Python pattern to a looser RE2 pattern, over UTF-8 text or (``ascii``)
    over :func:`ascii_copy` of the text.

    ``padded`` (with ``ascii``): over the copy with :data:`PAD` before and after it, and without
    any anchor. The text's edges are then bytes: the leading ``(?<![C])`` becomes one consumed
    character outside C (the start's PAD is one), the trailing ``(?![C])`` likewise, and a ``^``
    right after that leading edge becomes the PAD itself; any other ``^`` is dropped (wider). An
    automaton whose patterns hold no anchor need not track where it is in the text: its states
    are fewer and smaller, and each new one, built while it first reads text, costs less."""

    def __init__(self, ascii: bool, padded: bool = False) -> None:
        self.ascii = ascii
        self.padded = padded and ascii
        self.wide = _DEL if ascii else _WIDE_UTF8
        #: id(parsed sequence) -> (the sequence, its translation): the rules' patterns share
        #: their slots' parsed alternatives (``parsing.py``), translated once this way. The
        #: sequence is kept so that its id cannot be reused while the loosener lives.
        self._memo: dict[int, tuple[list[tuple[object, object]], str]] = {}

    def char(self, cp: int) -> str:
        if self.ascii and cp >= 0x7F:
            return _DEL
        return r"\x{%X}" % cp

    def items(self, items: Iterable[tuple[object, object]], narrow: bool) -> str:
        """Class contents: a superset of ``items`` (or, ``narrow``, a subset)."""
        out = []
        for op, av in items:
            if op is K.LITERAL:
                if narrow and self.ascii and av >= 0x7F:  # type: ignore[operator]
                    continue  # DEL stands for many characters: never excluded
                out.append(self.char(av))  # type: ignore[arg-type]
            elif op is K.RANGE:
                lo, hi = av  # type: ignore[misc]
                if self.ascii:
                    if narrow:
                        hi = min(hi, 0x7E)
                        if lo > hi:
                            continue
                    else:
                        hi = min(hi, 0x7F)
                        lo = min(lo, 0x7F)
                out.append(self.char(lo) + "-" + self.char(hi))
            elif op is K.CATEGORY:
                table = _SUB if narrow else _SUPER
                if av not in table:
                    raise Unsupported(f"category {av}")
                out.append(table[av].format(wide=self.wide))  # type: ignore[index]
            else:
                raise Unsupported(f"class item {op}")
        return "".join(out)

    def cls(self, items: list[tuple[object, object]]) -> str:
        """A class accepting a superset of what Python's class ``items`` accepts."""
        if items and items[0][0] is K.NEGATE:
            inner = self.items(items[1:], narrow=True)  # narrower inside, so wider outside
            return "[^" + inner + "]" if inner else _ANY
        inner = self.items(items, narrow=False)
        if not inner:
            raise Unsupported("empty class")
        return "[" + inner + "]"

    def edge(self, av: object, lookbehind: bool) -> str:
        """``(?<![C])`` at the very start (or ``(?![C])`` at the very end) of a pattern: the
        text's edge or one character outside C, consumed (harmless when asking whether the
        pattern matches anywhere)."""
        direction, sub = av  # type: ignore[misc]
        if direction != (-1 if lookbehind else 1) or len(sub.data) != 1:
            return ""
        op, items = sub.data[0]
        if op is not K.IN or (items and items[0][0] is K.NEGATE):
            return ""
        inner = self.items(items, narrow=True)
        if not inner:
            return ""
        if self.padded:  # PAD is outside every class of ASCII characters
            return "[^" + inner + "]"
        return (r"(?:^|[^" if lookbehind else r"(?:$|[^") + inner + "])"

    def seq(self, data: list[tuple[object, object]], top: bool = False) -> str:
        if not top:
            hit = self._memo.get(id(data))
            if hit is not None and hit[0] is data:
                return hit[1]
        loose = self._seq(data, top)
        if not top:
            self._memo[id(data)] = (data, loose)
        return loose

    def _seq(self, data: list[tuple[object, object]], top: bool) -> str:
        out = []
        last = len(data) - 1
        for k, (op, av) in enumerate(data):
            if op is K.LITERAL:
                out.append(self.char(av))  # type: ignore[arg-type]
            elif op is K.NOT_LITERAL:
                cp: int = av  # type: ignore[assignment]
                out.append(_ANY if self.ascii and cp >= 0x7F else "[^" + self.char(cp) + "]")
            elif op is K.ANY:
                out.append(_ANY)
            elif op is K.IN:
                out.append(self.cls(av))  # type: ignore[arg-type]
            elif op is K.BRANCH and self.padded and top and all(o is K.ASSERT_NOT for o, _ in data[:k]) \
                    and any(_starts_at_beginning(b.data) for b in av[1]):  # type: ignore[index]
                # (?<!C)(?:^X|Y): the alternatives anchored at the start follow the start's PAD,
                # the others the leading edge: (?:PAD X|[^C](?:Y))
                anchored = [self._seq(b.data[1:], False) for b in av[1] if _starts_at_beginning(b.data)]  # type: ignore[index]
                others = [self.seq(b.data) for b in av[1] if not _starts_at_beginning(b.data)]  # type: ignore[index]
                alts = [_PAD_RE2 + a for a in anchored]
                if others:
                    alts.append("".join(out) + "(?:" + "|".join(others) + ")")
                out[:] = ["(?:" + "|".join(alts) + ")"]
            elif op is K.BRANCH:
                out.append("(?:" + "|".join(self.seq(b.data) for b in av[1]) + ")")  # type: ignore[index]
            elif op is K.SUBPATTERN:
                group, add_flags, del_flags, sub = av  # type: ignore[misc]
                if add_flags & (re.IGNORECASE | re.LOCALE):
                    raise Unsupported("case-insensitive group")
                out.append("(?:" + self.seq(sub.data) + ")")
            elif op is K.ATOMIC_GROUP:
                out.append("(?:" + self.seq(av.data) + ")")  # type: ignore[attr-defined]
            elif op in (K.MAX_REPEAT, K.MIN_REPEAT, K.POSSESSIVE_REPEAT):
                lo, hi, sub = av  # type: ignore[misc]
                body = "(?:" + self.seq(sub.data) + ")"
                if hi is K.MAXREPEAT or hi > 1000:
                    out.append(body + ("*" if lo == 0 or lo > 1000 else "{%d,}" % lo))
                else:
                    out.append(body + "{%d,%d}" % (lo, hi))
            elif op is K.ASSERT_NOT and top and k == 0:
                out.append(self.edge(av, lookbehind=True))
            elif op is K.ASSERT_NOT and top and k == last:
                out.append(self.edge(av, lookbehind=False))
            elif op is K.AT and av in (K.AT_BEGINNING, K.AT_BEGINNING_STRING):
                if not self.padded:
                    out.append("^")  # the start of the text, in both engines
                elif top and all(o is K.ASSERT_NOT for o, _ in data[:k]):
                    out[:] = [_PAD_RE2]  # only the leading edge before it: the text's start
                # elsewhere in the padded form: dropped, which only widens the pattern
            elif op in (K.ASSERT, K.ASSERT_NOT, K.AT):
                continue  # a condition on the surroundings: dropping it only widens the pattern
            else:
                raise Unsupported(str(op))
        return "".join(out)


def _starts_at_beginning(data: list[tuple[object, object]]) -> bool:
    """The parsed sequence begins with ``^``."""
    return bool(data) and data[0][0] is K.AT and data[0][1] in (K.AT_BEGINNING, K.AT_BEGINNING_STRING)


def _wide_item(op: object, av: object) -> bool:
    """A class item holding only characters above ASCII."""
    if op is K.LITERAL:
        return av >= 0x80  # type: ignore[operator]
    if op is K.RANGE:
        return av[0] >= 0x80  # type: ignore[index,operator]
    return False


_REPEATS = (K.MAX_REPEAT, K.MIN_REPEAT, K.POSSESSIVE_REPEAT)


def _every_match_holds(data: list[tuple[object, object]], item: Callable[[object, object], bool]) -> bool:
    """Every match of the parsed sequence holds a character that ``item`` accepts: a literal it
    accepts, a class all of whose items it accepts, or such a part in every branch, in a group or
    in a repeat taken at least once."""
    for op, av in data:
        if item(op, av):
            return True
        if op is K.IN and av and all(item(o, a) for o, a in av):  # type: ignore[union-attr]
            return True
        if op is K.BRANCH and all(_every_match_holds(b.data, item) for b in av[1]):  # type: ignore[index]
            return True
        if op is K.SUBPATTERN and _every_match_holds(av[3].data, item):  # type: ignore[index]
            return True
        if op is K.ATOMIC_GROUP and _every_match_holds(av.data, item):  # type: ignore[attr-defined]
            return True
        if op in _REPEATS:
            lo, _, sub = av  # type: ignore[misc]
            if lo >= 1 and _every_match_holds(sub.data, item):
                return True
    return False


def _needs_wide(data: list[tuple[object, object]]) -> bool:
    """Every match of the parsed sequence holds a character above ASCII."""
    return _every_match_holds(data, _wide_item)


_LETTERS = (ord("a"), ord("z"))


def _broad(op: object, av: object) -> bool:
    """An item that accepts an ASCII letter among many other characters (``\\w``, ``\\S``,
    ``.``, ``[^.!?]``): what lets a partial match run on over any word."""
    if op is K.ANY or op is K.NOT_LITERAL:
        return True
    if op is not K.IN:
        return False
    items = av  # type: list[tuple[object, object]]
    if items and items[0][0] is K.NEGATE:  # broad unless it excludes the letters
        return not any((o is K.CATEGORY and a is K.CATEGORY_WORD) or (o is K.RANGE and a == _LETTERS)
                       for o, a in items[1:])
    size = 0
    for o, a in items:
        if o is K.CATEGORY and a in (K.CATEGORY_WORD, K.CATEGORY_NOT_SPACE, K.CATEGORY_NOT_DIGIT):
            return True
        if o is K.LITERAL:
            size += 1
        elif o is K.RANGE:
            size += a[1] - a[0] + 1  # type: ignore[index,operator]
    return size > 8


def _items(data: list[tuple[object, object]]) -> Iterable[tuple[object, object]]:
    """Every item of a parsed sequence, at any depth."""
    for op, av in data:
        yield op, av
        if op is K.SUBPATTERN:
            yield from _items(av[3].data)  # type: ignore[index]
        elif op is K.ATOMIC_GROUP:
            yield from _items(av.data)  # type: ignore[attr-defined]
        elif op is K.BRANCH:
            for b in av[1]:  # type: ignore[index]
                yield from _items(b.data)
        elif op in _REPEATS:
            yield from _items(av[2].data)  # type: ignore[index]


def spreads(tree: "sre_parse.SubPattern") -> bool:
    """The parsed pattern repeats (more than once) something that holds a :func:`_broad` item: a
    partial match may run on over any words. Only decides how patterns are grouped into automata
    (:data:`SPREAD_GROUP`), never what is found."""
    for op, av in _items(tree.data):
        if op in _REPEATS:
            hi = av[1]  # type: ignore[index]
            if (hi is K.MAXREPEAT or hi > 1) and any(_broad(o, a) for o, a in _items(av[2].data)):  # type: ignore[index,operator]
                return True
    return False


#: A byte an English pattern's literal letters (or the ``*`` of masking) read as themselves.
_LETTER = re.compile(rb"[a-z*]")
_LETTER_CPS = frozenset(range(ord("a"), ord("z") + 1)) | {ord("*")}


def _letter_item(op: object, av: object) -> bool:
    """A literal or class item holding only ``a``-``z`` and ``*``."""
    if op is K.LITERAL:
        return av in _LETTER_CPS
    if op is K.RANGE:
        return ord("a") <= av[0] and av[1] <= ord("z")  # type: ignore[index,operator]
    return False


def _needs_letter(data: list[tuple[object, object]]) -> bool:
    """Every match of the parsed sequence holds one of ``a``-``z`` or ``*``: so does every match of
    its looser form, which keeps literals and classes of ASCII characters as they are."""
    return _every_match_holds(data, _letter_item)


def _lettered(pattern: str, tree: "sre_parse.SubPattern | None" = None) -> bool:
    try:
        return _needs_letter((tree if tree is not None else sre_parse.parse(pattern)).data)
    except re.error:
        return False


def needs_wide(pattern: str, tree: "sre_parse.SubPattern | None" = None) -> bool:
    """True when every match of ``pattern`` holds a character above ASCII (a Japanese word):
    such a pattern cannot match an ASCII text, and its automaton need not read one. ``tree``:
    the pattern's parse, when the caller has it."""
    return _needs_wide((tree if tree is not None else sre_parse.parse(pattern)).data)


def loosen(pattern: str, ascii: bool = False, tree: "sre_parse.SubPattern | None" = None,
           loosener: "_Loosener | None" = None) -> str:
    """An RE2 pattern matching wherever the Python ``pattern`` matches (and perhaps elsewhere):
    over the UTF-8 text, or (``ascii``) over :func:`ascii_copy` of it. Raises
    :class:`Unsupported` when the pattern cannot be translated. ``tree``: the pattern's parse,
    when the caller has it; ``loosener``: one shared by many patterns (of the same ``ascii``)."""
    parsed = tree if tree is not None else sre_parse.parse(pattern)
    if parsed.state.flags & (re.IGNORECASE | re.LOCALE | re.VERBOSE):
        raise Unsupported("flags")
    return (loosener or _Loosener(ascii)).seq(parsed.data, top=True)


class _Set:
    """One RE2 set; position 0 is a sentinel that matches every text: missing from a result, it
    shows RE2 gave up (its automaton ran out of memory, which it reports as "no match"). Over the
    padded ASCII copy the sentinel is the PAD, which matches once, at the start: an empty
    sentinel would match at every byte, and RE2 would record that match at every byte."""

    def __init__(self, ascii: bool, wide_only: bool = False, loosener: "_Loosener | None" = None) -> None:
        self.wide_only = wide_only  # its patterns cannot match an ASCII text
        #: (over the ASCII copy) every pattern's matches hold a byte of ``[a-z*]``: a copy
        #: without one (Japanese text) cannot match, and is not read
        self.lettered = ascii
        self.loosener = loosener
        options = _re2.Options()
        options.max_mem = MAX_MEM
        options.log_errors = False  # a give-up is seen by the sentinel, and handled
        if ascii:
            options.encoding = _re2.Options.Encoding.LATIN1
        self.ascii = ascii
        self.rset = _re2.Set.SearchSet(options)
        self.rset.Add(_PAD_RE2 if ascii else "")
        self.index: list[int] = [-1]  # set position -> pattern index

    def add(self, n: int, pattern: str, tree: "sre_parse.SubPattern | None" = None) -> str:
        loose = loosen(pattern, self.ascii, tree, self.loosener)
        if self.lettered and not _lettered(pattern, tree):
            self.lettered = False
        self.rset.Add(loose)  # positions are handed out in order
        self.index.append(n)
        return loose

    def compile(self) -> None:
        self.rset.Compile()
        # The wrapper's Match only encodes str and turns [] into None: call the set directly.
        self._match = getattr(self.rset, "_set", self.rset).Match

    def match(self, data: bytes, out: set[int]) -> bool:
        found = self._match(data)
        if not found or 0 not in found:
            return False
        if len(found) > 1:  # most texts: the sentinel alone
            index = self.index
            out.update([index[k] for k in found if k])
        return True


class Prefilter:
    """All patterns as a few RE2 automata (English over the ASCII copy of the text, Japanese over
    the text itself): ``possible(text)`` names the patterns that may match ``text``; the others
    cannot."""

    def __init__(self, patterns: list[tuple[str, bool]],
                 trees: "list[sre_parse.SubPattern | None] | None" = None) -> None:
        """``patterns``: (Python regex, matched over the ASCII copy) per pattern index; ``trees``:
        their parses, when the caller has them (each pattern is parsed here otherwise)."""
        self.always: frozenset[int] = frozenset()
        self._sets: list[_Set] = []
        #: pattern index -> its looser RE2 pattern over the ASCII copy (for :meth:`first`)
        self._loose: dict[int, str] = {}
        self._single: dict[int, object] = {}
        #: pattern index -> a short text its looser form matches, or None (for :meth:`warm`)
        self._samples: dict[int, "bytes | None"] = {}
        if _re2 is None:
            return
        sets: list[_Set] = []
        always = set()
        # (over the ASCII copy, wide only, spreading): the English patterns that spread go to
        # automata of their own, of SPREAD_GROUP patterns (see ``spreads``)
        kinds = [(True, False, False), (True, False, True), (False, False, False), (False, True, False)]
        tree = trees if trees is not None else [None] * len(patterns)
        kind = {n: (a, False if a else _wide(p, tree[n]), a and _spreads(p, tree[n]))
                for n, (p, a) in enumerate(patterns)}
        # for this build only: the sets' English patterns read the padded copy (``_Loosener``),
        # each pattern's own automaton (``spans``) the copy itself, whose offsets are the text's
        looseners = {True: _Loosener(True, padded=True), False: _Loosener(False)}
        unpadded = _Loosener(True)
        for ascii, wide_only, spread in kinds:
            size = SPREAD_GROUP if spread else ASCII_GROUP if ascii else GROUP
            current = _Set(ascii, wide_only, looseners[ascii])
            for n, (p, a) in enumerate(patterns):
                if kind[n] != (ascii, wide_only, spread):
                    continue
                try:
                    current.add(n, p, tree[n])
                    if ascii:
                        self._loose[n] = loosen(p, True, tree[n], unpadded)
                        self._samples[n] = _sample_of(p, tree[n])
                except (Unsupported, _re2.error):
                    always.add(n)
                    continue
                if len(current.index) > size:
                    sets.append(current)
                    current = _Set(ascii, wide_only, looseners[ascii])
            if len(current.index) > 1:
                sets.append(current)
        compiled = []
        for rs in sets:
            rs.loosener = None
            try:
                rs.compile()
            except _re2.error:  # too large for its memory budget: run its patterns always
                always.update(rs.index[1:])
                continue
            compiled.append(rs)
        self._sets = compiled
        self.always = frozenset(always)
        for n in always:
            self._loose.pop(n, None)
            self._samples.pop(n, None)

    @property
    def available(self) -> bool:
        return _re2 is not None

    def possible(self, text: str, narrow: bytes | None = None) -> "set[int] | None":
        """Indexes of the patterns that may match ``text``; None when undecidable (no RE2, text
        RE2 cannot read, or RE2 gave up), meaning any pattern may. ``narrow``: the text's
        :func:`ascii_copy`, when the caller has it."""
        if _re2 is None:
            return None
        out = set(self.always)
        if narrow is None:
            narrow = ascii_copy(text)
        plain = text.isascii()
        padded = PAD + narrow + PAD
        if plain:
            full = narrow
        else:
            try:
                full = text.encode("utf-8")
            except UnicodeEncodeError:  # lone surrogates
                return None
        # A Japanese text without a letter (its copy: DEL, digits, punctuation) cannot match the
        # English sets whose every pattern needs one (``_Set.lettered``), which are skipped.
        unlettered = not plain and _LETTER.search(narrow) is None
        for rs in self._sets:  # ``_Set.match`` written out: one Python call less per set
            if plain and rs.wide_only or unlettered and rs.lettered:
                continue
            found = rs._match(padded if rs.ascii else full)
            if not found or 0 not in found:
                return None  # the sentinel is missing: RE2 gave up
            if len(found) > 1:  # most texts: the sentinel alone
                index = rs.index
                out.update([index[k] for k in found if k])
        return out


    def spans(self, n: int, narrow: bytes, limit: int = 16) -> "list[tuple[int, int]] | None":
        """The successive non-overlapping matches of pattern ``n``'s looser form in the text whose
        :func:`ascii_copy` is ``narrow`` (at most ``limit``); None when unknown (a pattern not
        matched over the ASCII copy, or more matches than ``limit``).

        Every match of the pattern is a match of its looser form, shifted at most one character
        left by a consumed edge character; a looser match the scan steps over starts inside a
        reported one. So every match of the pattern starts within a reported span or one
        character after it. The copy has one byte per character, so offsets are the text's."""
        single = self._single.get(n)
        if single is None:
            single = self._compile_single(n)
        if single is False:
            return None
        out: list[tuple[int, int]] = []
        pos, end = 0, len(narrow)
        match = single.Match  # type: ignore[attr-defined]
        while True:
            a, b = match(_UNANCHORED, narrow, pos, end)[0]
            if a < 0:
                return out
            out.append((a, b))
            if len(out) > limit:
                return None
            if pos == end:
                return out
            pos = b if b > pos else pos + 1

    def warm(self) -> None:
        """Compile every pattern's own automaton now (:meth:`spans` compiles each when first
        needed), so a throughput measurement sees the steady state. Each is also run once over
        a text it matches (``_sample_of``): RE2 compiles the reverse program that finds where a
        match starts only when it first finds a match, and for the largest patterns that costs
        more than detecting many messages. Warm-up texts change nothing that is found."""
        for n in self._loose:
            single = self._single.get(n)
            if single is None:
                single = self._compile_single(n)
            sample = self._samples.pop(n, None)
            if single is not False and sample is not None:
                single.Match(_UNANCHORED, sample, 0, len(sample))  # type: ignore[attr-defined]

    def _compile_single(self, n: int) -> object:
        loose = self._loose.get(n)
        single: object = False
        if loose is not None:
            options = _re2.Options()
            # One pattern: RE2 falls back to a slower search rather than give up, but the largest
            # loosened patterns (tens of kilobytes) need this much to search with their automaton
            # at all (with 8 MB, a match in a 1 KB text took ten times as long).
            options.max_mem = SINGLE_MAX_MEM
            options.log_errors = False
            options.encoding = _re2.Options.Encoding.LATIN1
            try:
                rx = _re2._re2.RE2(loose.encode("latin-1"), options)
                if rx.ok():
                    single = rx
            except (UnicodeEncodeError, _re2.error):
                pass
        self._single[n] = single
        return single


def _spreads(pattern: str, tree: "sre_parse.SubPattern | None" = None) -> bool:
    try:
        return spreads(tree if tree is not None else sre_parse.parse(pattern))
    except re.error:
        return False


#: What each category accepts, for ``_accepts``.
_CATEGORY_RX = {K.CATEGORY_WORD: re.compile(r"\w"), K.CATEGORY_NOT_WORD: re.compile(r"\W"),
                K.CATEGORY_DIGIT: re.compile(r"\d"), K.CATEGORY_NOT_DIGIT: re.compile(r"\D"),
                K.CATEGORY_SPACE: re.compile(r"\s"), K.CATEGORY_NOT_SPACE: re.compile(r"\S")}


def _accepts(items: list[tuple[object, object]], ch: str) -> bool:
    """Whether a class's (non-negated) items accept ``ch``; an unknown item counts as accepting
    (a sample built on it is then only less likely to match)."""
    cp = ord(ch)
    for op, av in items:
        if op is K.LITERAL and av == cp:
            return True
        if op is K.RANGE and av[0] <= cp <= av[1]:  # type: ignore[index,operator]
            return True
        if op is K.CATEGORY:
            rx = _CATEGORY_RX.get(av)  # type: ignore[call-overload]
            if rx is None or rx.match(ch):
                return True
    return False


def _sample(data: list[tuple[object, object]], out: list[str], budget: list[int]) -> bool:
    """Append to ``out`` a short text the parsed sequence matches, ignoring lookarounds and
    anchors (which the looser form mostly drops): each branch's first alternative, each repeat's
    fewest copies. False when it cannot say (or the text grows past the budget)."""
    for op, av in data:
        budget[0] -= 1
        if budget[0] < 0:
            return False
        if op is K.LITERAL:
            out.append(chr(av))  # type: ignore[arg-type]
        elif op is K.NOT_LITERAL:
            out.append("a" if av != ord("a") else "b")
        elif op is K.ANY:
            out.append("a")
        elif op is K.IN:
            items = av  # type: list[tuple[object, object]]
            if items and items[0][0] is K.NEGATE:
                ch = next((c for c in " a.0-" if not _accepts(items[1:], c)), None)
            else:
                ch = next((c for c in "a .0" if _accepts(items, c)), None)
                if ch is None and items and items[0][0] is K.LITERAL:
                    ch = chr(items[0][1])  # type: ignore[arg-type]
                elif ch is None and items and items[0][0] is K.RANGE:
                    ch = chr(items[0][1][0])  # type: ignore[index]
            if ch is None:
                return False
            out.append(ch)
        elif op is K.BRANCH:
            if not _sample(av[1][0].data, out, budget):  # type: ignore[index]
                return False
        elif op is K.SUBPATTERN:
            if not _sample(av[3].data, out, budget):  # type: ignore[index]
                return False
        elif op is K.ATOMIC_GROUP:
            if not _sample(av.data, out, budget):  # type: ignore[attr-defined]
                return False
        elif op in _REPEATS:
            lo, _, sub = av  # type: ignore[misc]
            for _ in range(min(lo, 8)):
                if not _sample(sub.data, out, budget):
                    return False
        elif op in (K.ASSERT, K.ASSERT_NOT, K.AT):
            continue
        else:
            return False
    return True


def _sample_of(pattern: str, tree: "sre_parse.SubPattern | None" = None) -> "bytes | None":
    """The ASCII copy of a short text, between spaces, that the pattern's looser form probably
    matches (see :meth:`Prefilter.warm`), or None."""
    try:
        parsed = tree if tree is not None else sre_parse.parse(pattern)
        out: list[str] = [" "]
        if not _sample(parsed.data, out, [2000]):
            return None
    except (re.error, ValueError):
        return None
    out.append(" ")
    return ascii_copy("".join(out))


def _wide(pattern: str, tree: "sre_parse.SubPattern | None" = None) -> bool:
    try:
        return needs_wide(pattern, tree)
    except re.error:
        return False


__all__ = ["Prefilter", "Unsupported", "ascii_copy", "loosen"]
