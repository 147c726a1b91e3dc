"""Turn lexicon terms and phrase templates into regular expressions over normalized text.

English terms tolerate stretched letters (``stuuupid``) and masking symbols after the first letter
(``f*ck``, ``f**k``); spaces between words match any run of separators. A template is a regular
expression over normalized text in which ``{slot}`` stands for a slot's terms, ``{gap:N}`` for up to
N arbitrary words, and (in English) a space for any run of separators. English templates only
match whole words; Japanese ones match anywhere, since Japanese has no spaces.
"""

from __future__ import annotations

import re

from gateway.detect.normalize import Normalizer, fold_char

SEP = r"[^\w*]+"
_SLOT_REF = re.compile(r"\{([a-z_]\w*)(?::(\d+))?\}")
_normalizer = Normalizer()


def fold_term(term: str) -> str:
    """Fold a lexicon term the way message text is folded."""
    return _normalizer.normalize(term).text.strip()


def fold_pattern(pattern: str) -> str:
    """Fold the non-ASCII characters of a regex template (katakana to hiragana, width, marks)."""
    out = []
    for ch in pattern:
        if ord(ch) < 128:
            out.append(ch)
        elif ch in "ー〜":
            continue
        else:
            out.append(fold_char(ch))
    return "".join(out)


def _units(term: str, lang: str) -> list[str]:
    """A term as regex units, one per character."""
    if lang == "ja":
        return [re.escape(ch) for ch in term]
    out: list[str] = []
    first = True
    for ch in term:
        if ch == " ":
            out.append(SEP)
            first = True
        elif ch == "'":
            out.append("'?")
        elif ch.isalpha() and ch.isascii():
            # A literal first letter lets the regex engine reject most positions at once.
            out.append(f"{ch}{ch}*" if first else f"[{ch}*]+")
            first = False
        else:
            out.append(re.escape(ch))
            first = False
    return out


def term_regex(term: str, lang: str) -> str:
    """The regex for one folded term."""
    return "".join(_units(term, lang))


def alternation(terms: list[str], lang: str) -> str:
    """All terms as one regex, factored as a trie so shared prefixes are tried once.

    Longer readings are tried before a term that is their prefix (``idiots`` before ``idiot``).
    """
    trie: dict = {}
    for t in set(terms):
        node = trie
        for unit in _units(t, lang):
            node = node.setdefault(unit, {})
        node[""] = {}

    def emit(node: dict) -> str:
        ends = "" in node
        branches = [u + emit(child) for u, child in sorted(node.items()) if u != ""]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        if ends:
            return "(?:" + body + ")?"
        return body

    return "(?:" + emit(trie) + ")"


def gap(n: int) -> str:
    """Up to ``n`` arbitrary words, each followed by separators."""
    return rf"(?:[\w'*]+{SEP}){{0,{n}}}"


def slot_names(template: str) -> list[str]:
    """The slots a template refers to, in order (``gap`` excluded)."""
    return [m.group(1) for m in _SLOT_REF.finditer(template) if m.group(1) != "gap"]


def expand(template: str, slots: dict[str, str], lang: str) -> str:
    """Expand ``template`` to a regex string; raises KeyError naming an unknown slot."""

    def sub(m: re.Match[str]) -> str:
        name, num = m.group(1), m.group(2)
        if name == "gap":
            return gap(int(num or 3))
        if name not in slots:
            raise KeyError(name)
        return slots[name]

    if lang == "ja":
        body = fold_pattern(template)
        return _SLOT_REF.sub(sub, body)
    # Replace spaces outside slot references, then the references.
    parts = []
    pos = 0
    for m in _SLOT_REF.finditer(template):
        parts.append(template[pos:m.start()].replace(" ", SEP))
        parts.append(sub(m))
        pos = m.end()
    parts.append(template[pos:].replace(" ", SEP))
    return r"(?<![\w*])(?:" + "".join(parts) + r")(?![\w*])"
