"""Each rule pattern parsed once, from slots parsed once.

A rule pattern is its template with every ``{slot}`` replaced by the slot's alternation of terms
(``patterns.py``). The slots are most of its text, and the same slots recur in many patterns;
Python's parser would read each slot again in every pattern, and the engine used the parsed form
three times (to compile, for the shortest match, for the prefilter's looser form), so loading the
rules spent seconds parsing the same text over and over.

Here each slot is parsed once per language, and each template once with a one-character stand-in
for each slot (a private-use character); the stand-in is then replaced by the slot's parse exactly
where Python's parser would have put the slot: a slot is a non-capturing group, which the parser
splices into the sequence holding it, or makes the body of the repeat that follows it. Where the
parser would have optimized across a slot's edge (alternatives that begin with a slot: a first item
they share is factored out, single characters become a class), the whole pattern is parsed the
ordinary way instead. The tree is the one ``re._parser.parse`` builds for the whole pattern, so it
compiles to the same code (tests compare the compiled patterns for every shipped rule), and
:func:`compile_tree` compiles it without parsing again, keeping the pattern's text.
"""

from __future__ import annotations

import re
import re._compiler as sre_compile
import re._constants as K
import re._parser as sre_parse
from typing import Callable, Sequence

try:
    import _sre
except ImportError:  # pragma: no cover - CPython always has it
    _sre = None

#: Stand-ins for slots: characters of the Supplementary Private Use Area-B, which no template
#: holds (a template that does is parsed the ordinary way).
_FIRST, _LAST = 0x100000, 0x10FFFD
_REPEATS = (K.MAX_REPEAT, K.MIN_REPEAT, K.POSSESSIVE_REPEAT)

Tree = sre_parse.SubPattern


class _Fallback(Exception):
    """The splice cannot reproduce the parser's tree: parse the whole pattern."""


def is_group(regex: str) -> bool:
    """``regex`` is one non-capturing group ``(?:...)`` from its first to its last character."""
    if not regex.startswith("(?:") or not regex.endswith(")"):
        return False
    depth, i, n = 0, 0, len(regex)
    while i < n:
        c = regex[i]
        if c == "\\":
            i += 2
            continue
        if c == "[":
            i = class_end(regex, i)
            continue
        if c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
            if depth == 0 and i != n - 1:
                return False
        i += 1
    return depth == 0


def class_end(regex: str, start: int) -> int:
    """Index just past the character class opening at ``start`` (at most ``len(regex)``)."""
    j = start + 1
    if j < len(regex) and regex[j] == "^":
        j += 1
    if j < len(regex) and regex[j] == "]":
        j += 1
    while j < len(regex) and regex[j] != "]":
        j += 2 if regex[j] == "\\" else 1
    return min(j + 1, len(regex))


class SlotParser:
    """Parses the patterns of one language whose slots are ``slots`` (name -> regex text)."""

    def __init__(self, slots: dict[str, str]) -> None:
        self.slots = slots
        self._trees: dict[str, Tree | None] = {}
        #: Patterns parsed whole (a slot that is not one plain group, a back-reference...).
        self.fallbacks = 0

    def _slot_tree(self, name: str) -> "Tree | None":
        if name not in self._trees:
            regex = self.slots[name]
            tree = None
            if is_group(regex) and not any(_FIRST <= ord(c) <= _LAST for c in regex):
                tree = sre_parse.parse(regex)
                if tree.state.groups != 1 or tree.state.flags & ~K.SRE_FLAG_UNICODE:
                    tree = None  # capturing groups or flags: splicing would renumber or change them
            self._trees[name] = tree
        return self._trees[name]

    def parse(self, template: str, expand: Callable[[dict[str, str]], str]) -> "tuple[str, Tree]":
        """The regex text of ``template`` and its parse tree.

        ``expand(slots)`` expands the template with the given slot texts (``patterns.expand``
        bound to the template and language). Raises ``re.error`` for a pattern Python rejects
        (from parsing the whole pattern, so the message is the ordinary one)."""
        regex = expand(self.slots)
        try:
            return regex, self._spliced(template, expand)
        except _Fallback:
            self.fallbacks += 1
            return regex, sre_parse.parse(regex)

    def _spliced(self, template: str, expand: Callable[[dict[str, str]], str]) -> Tree:
        if any(_FIRST <= ord(c) <= _LAST for c in template):
            raise _Fallback
        names = sorted(self.slots)
        if len(names) >= _LAST - _FIRST:
            raise _Fallback
        marks = {name: chr(_FIRST + k) for k, name in enumerate(names)}
        skeleton = expand(marks)
        # Every occurrence gets its own stand-in, a group of two characters: a mark of its own
        # and _END. Two items keep the parser from merging an alternative that is only a slot
        # into a class; a mark of its own keeps it from factoring out two slots as equal items.
        by_mark = {chr(_FIRST + k): name for k, name in enumerate(names)}
        where: dict[int, Tree] = {}
        out = []
        nxt = _FIRST + len(names)
        for c in skeleton:
            name = by_mark.get(c)
            if name is None:
                out.append(c)
                continue
            tree = self._slot_tree(name)
            if tree is None or nxt >= _LAST:
                raise _Fallback
            where[nxt] = tree
            out.append("(?:" + chr(nxt) + chr(_LAST) + ")")
            nxt += 1
        try:
            parsed = sre_parse.parse("".join(out))
        except re.error:
            raise _Fallback from None  # parsed whole, for the ordinary error message
        used: set[int] = set()
        _splice(parsed, where, used)
        if len(used) != len(where):
            raise _Fallback
        return parsed


_END = (K.LITERAL, _LAST)


def _mark(items: list[tuple[object, object]], k: int, where: dict[int, Tree]) -> "int | None":
    """The stand-in starting at ``items[k]``, if one does."""
    op, av = items[k]
    if op is K.LITERAL and av in where:
        if k + 1 < len(items) and items[k + 1] == _END:
            return av  # type: ignore[return-value]
        raise _Fallback
    if op is K.LITERAL and av == _LAST:
        raise _Fallback
    return None


def _splice(sub: Tree, where: dict[int, Tree], used: set[int]) -> None:
    """Replace the stand-ins in ``sub`` (in place) by their slots' trees, then redo what the
    parser does to alternatives whose beginnings changed."""
    items = sub.data
    data: list[tuple[object, object]] = []
    k = 0
    while k < len(items):
        mark = _mark(items, k, where)
        if mark is not None:
            used.add(mark)
            data.extend(where[mark].data)
            k += 2
            continue
        op, av = items[k]
        k += 1
        if op is K.BRANCH:
            alts = av[1]  # type: ignore[index]
            for alt in alts:
                _splice(alt, where, used)
            data.extend(_alternatives(alts))
            continue
        if op in _REPEATS:
            lo, hi, body = av  # type: ignore[misc]
            if len(body.data) == 2 and _mark(body.data, 0, where) is not None:
                mark = body.data[0][1]
                used.add(mark)
                av = (lo, hi, where[mark])
            else:
                _splice(body, where, used)
        elif op is K.SUBPATTERN:
            _splice(av[3], where, used)  # type: ignore[index]
        elif op is K.ATOMIC_GROUP:
            _splice(av, where, used)  # type: ignore[arg-type]
        elif op in (K.ASSERT, K.ASSERT_NOT):
            _splice(av[1], where, used)  # type: ignore[index]
        elif op is K.IN:
            if any(o is K.LITERAL and (a in where or a == _LAST) for o, a in av):  # type: ignore[union-attr]
                raise _Fallback
        elif op is K.NOT_LITERAL:
            if av in where or av == _LAST:
                raise _Fallback
        elif op in (K.GROUPREF, K.GROUPREF_EXISTS):
            raise _Fallback  # a group's width was measured with the stand-ins in it
        data.append((op, av))
    sub.data = data
    sub.width = None


def _holds_tree(item: object) -> bool:
    if isinstance(item, sre_parse.SubPattern):
        return True
    if isinstance(item, (tuple, list)):
        return any(_holds_tree(x) for x in item)
    return False


def _same(a: tuple[object, object], b: tuple[object, object]) -> bool:
    """Whether the parser, reading the whole pattern, finds two items equal: its subpatterns are
    distinct objects (equal only to themselves), while a slot's are shared between its uses."""
    return a == b and not _holds_tree(a)


def _alternatives(alts: list[Tree]) -> list[tuple[object, object]]:
    """What ``re._parser._parse_sub`` makes of the alternatives ``alts``: a prefix they all share
    factored out, single characters merged into one class, else a branch."""
    out: list[tuple[object, object]] = []
    while True:
        prefix = None
        for alt in alts:
            if not alt.data:
                break
            if prefix is None:
                prefix = alt.data[0]
            elif not _same(alt.data[0], prefix):
                break
        else:
            for alt in alts:
                del alt.data[0]
                alt.width = None
            out.append(prefix)  # type: ignore[arg-type]
            continue
        break
    chars: list[tuple[object, object]] = []
    for alt in alts:
        if len(alt.data) != 1:
            break
        op, av = alt.data[0]
        if op is K.LITERAL:
            chars.append((op, av))
        elif op is K.IN and av[0][0] is not K.NEGATE:  # type: ignore[index]
            chars.extend(av)  # type: ignore[arg-type]
        else:
            break
    else:
        out.append((K.IN, list(dict.fromkeys(chars))))
        return out
    out.append((K.BRANCH, (None, alts)))
    return out


def compile_tree(regex: str, tree: Tree) -> "re.Pattern[str]":
    """``re.compile(regex)`` from its parse ``tree``, without parsing again (the result equals
    ``re.compile(regex)``: same text, flags and code, which is how the tests show that a spliced
    tree is the parser's). Falls back to ``re.compile`` where the internals differ."""
    if _sre is None:  # pragma: no cover
        return re.compile(regex)
    try:
        code = sre_compile._code(tree, 0)
        state = tree.state
        groupindex = state.groupdict
        indexgroup: list[str | None] = [None] * state.groups
        for k, i in groupindex.items():
            indexgroup[i] = k
        return _sre.compile(regex, state.flags, code, state.groups - 1, groupindex, tuple(indexgroup))
    except (AttributeError, TypeError):  # pragma: no cover - another Python's internals
        return re.compile(regex)




def check_compilable(tree: Tree) -> None:
    """Raise ``re.error`` as compiling would for what parsing accepts but compiling refuses (a
    look-behind of varying width), so a rule can be compiled later, when first needed."""
    for op, av in tree.data:
        if op in (K.ASSERT, K.ASSERT_NOT):
            direction, sub = av  # type: ignore[misc]
            if direction < 0:
                lo, hi = sub.getwidth()
                if lo > getattr(sre_compile, "MAXCODE", (1 << 32) - 1):
                    raise re.error("looks too much behind")
                if lo != hi:
                    raise re.error("look-behind requires fixed-width pattern")
            check_compilable(sub)
        elif op is K.BRANCH:
            for alt in av[1]:  # type: ignore[index]
                check_compilable(alt)
        elif op in _REPEATS:
            check_compilable(av[2])  # type: ignore[index]
        elif op is K.SUBPATTERN:
            check_compilable(av[3])  # type: ignore[index]
        elif op is K.ATOMIC_GROUP:
            check_compilable(av)  # type: ignore[arg-type]
        elif op is K.GROUPREF_EXISTS:
            check_compilable(av[1])  # type: ignore[index]
            if av[2] is not None:  # type: ignore[index]
                check_compilable(av[2])  # type: ignore[index]


class LazyPatterns(Sequence["re.Pattern[str]"]):
    """A rule's compiled patterns, each compiled when first used.

    Compiling was most of what loading the rules cost, and a message reaches only the few
    patterns the prefilter lets through, so most patterns of a process are never needed. Each
    is compiled from its text (``re.compile``) the first time it is: keeping the trees from
    loading to compile from would hold more memory than the compiled patterns themselves."""

    __slots__ = ("regexes", "_compiled")

    def __init__(self, regexes: "Sequence[str]") -> None:
        self.regexes = tuple(regexes)
        self._compiled: list[re.Pattern[str] | None] = [None] * len(self.regexes)

    def __len__(self) -> int:
        return len(self.regexes)

    def __getitem__(self, j):  # type: ignore[no-untyped-def, override]
        if isinstance(j, slice):
            return tuple(self[k] for k in range(len(self.regexes))[j])
        rx = self._compiled[j]
        if rx is None:
            rx = self._compiled[j] = re.compile(self.regexes[j])
        return rx

    def __eq__(self, other: object) -> bool:
        if isinstance(other, LazyPatterns):
            return self.regexes == other.regexes
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self.regexes)

    def __repr__(self) -> str:
        return f"LazyPatterns({len(self.regexes)} patterns)"


__all__ = ["LazyPatterns", "SlotParser", "check_compilable", "compile_tree", "is_group"]
