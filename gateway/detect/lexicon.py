"""Load and validate the detection rules under ``rules/``.

Layout::

    rules/detect.yaml                 thresholds per category, context factors
    rules/lexicons/<lang>/slots.yaml  named word lists ("slots") the phrase rules refer to
    rules/lexicons/<lang>/<any>.yaml  phrase rules: category, severity, note, score, patterns
    rules/lexicons/en/misspellings.yaml  real words that must never be read as a misspelled term

Every file is validated at load; a malformed one raises RulesError(path, line, reason).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gateway.detect import patterns as P
from gateway.detect.normalize import LONG_MARKS, SMALL_KANA, fold_pattern_kana, fold_template
from gateway.detect.parsing import SlotParser, check_compilable
from gateway.detect.yamlfile import Node, load
from gateway.errors import RulesError
from gateway.model import CATEGORIES, Severity

LANGS = ("en", "ja")
DETECTABLE = tuple(c for c in CATEGORIES if c not in ("persistent_contact", "duplicate_contact"))
CONTEXT_KINDS = ("quoted", "reported", "negated", "polite")
_NAME = re.compile(r"^[a-z0-9_.]+$")
#: Japanese function words and endings too common to decide whether a pattern runs (folded).
JA_STOP_WORDS = frozenset(P.fold_pattern(w) for w in """ください 下さい して です ます ない から まで ので もの こと
くれ ほしい 欲しい もらい もらう いただけ いただく じゃ では には なんか ても でも たい ている てる いる ある
しろ する した させ される られ なさい だろ だよ だね よね ですか ますか ません""".split())

#: Words too common to decide whether a pattern is worth running.
STOP_WORDS = frozenset("""a an the i me my we our you u ur your ya he she him her his it its they them their
is are was were be been am re s ll d ve m t to of in on at for with and or but if so as by from
this that these those not no do does did don will would can could should shall may might must
have has had get got go up out just all any some one what who how when where why which there
here than then too very really also only about going gonna every more like now""".split())
#: Common content words: allowed as triggers, but rarer words are preferred.
COMMON_WORDS = frozenset("""time want need please call back pay send give know take tell said say see look think
thank good new still never again well way even much many off over into make day man guy come long""".split())


@dataclass(frozen=True)
class Slot:
    """A named word list, e.g. ``insult_noun``."""

    name: str
    lang: str
    terms: tuple[str, ...]
    note: str
    fuzzy: bool = False
    common: bool = False

    @property
    def regex(self) -> str:
        return P.alternation(list(self.terms), self.lang)


@dataclass(frozen=True)
class RuleSpec:
    """One phrase rule as written in a lexicon file, validated."""

    name: str
    category: str
    severity: Severity
    lang: str
    note: str
    score: float
    patterns: tuple[str, ...]  # expanded regex strings
    triggers: tuple[frozenset[str], ...]  # per pattern: folded words (en) or strings (ja) it needs
    context: frozenset[str]
    path: str
    line: int
    requires: tuple[tuple[frozenset[str], ...], ...] = ()  # per pattern: further sets, one word of each


@dataclass
class Settings:
    """rules/detect.yaml."""

    thresholds: dict[str, float] = field(default_factory=dict)
    default_threshold: float = 0.5
    factors: dict[str, float] = field(default_factory=dict)

    def threshold(self, category: str) -> float:
        return self.thresholds.get(category, self.default_threshold)


@dataclass
class Lexicon:
    """Everything detection reads from ``rules/``."""

    slots: dict[tuple[str, str], Slot]
    rules: list[RuleSpec]
    settings: Settings
    not_misspellings: frozenset[str]
    glue_words: frozenset[str]
    #: Regex text -> its parse tree, from loading: the Detector takes them rather than parsing
    #: every pattern again (see ``parsing.py``), and empties this.
    parsed: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)


def _req(node: Node, key: str, typ: type | tuple[type, ...], what: str) -> Any:
    if not isinstance(node.value, dict) or key not in node.value:
        raise node.error(f"missing '{key}' ({what})")
    value = node.value[key]
    if not isinstance(value, typ) or isinstance(value, bool) and typ is not bool:
        raise node.error(f"'{key}' must be {what}", key)
    return value


def _str_list(node: Node, key: str, parent: Node) -> list[str]:
    value = parent.value.get(key)
    if not isinstance(value, Node) or not isinstance(value.value, list):
        raise parent.error(f"'{key}' must be a list of strings", key)
    out = []
    for i, item in enumerate(value.value):
        if not isinstance(item, (str, int)) or isinstance(item, bool) or str(item).strip() == "":
            raise value.error(f"item {i + 1} of '{key}' must be a non-empty string", i)
        out.append(str(item))
    return out


def _lang(node: Node, default: str | None) -> str:
    lang = node.get("language", default)
    if lang not in LANGS:
        raise node.error(f"unknown language {lang!r}; use one of {', '.join(LANGS)}", "language")
    return lang


def load_settings(path: Path) -> Settings:
    settings = Settings(factors={"quoted": 0.2, "reported": 0.2, "negated": 0.15, "polite": 0.4})
    if not path.is_file():
        return settings
    root = load(path)
    if not isinstance(root, Node) or not isinstance(root.value, dict):
        raise RulesError(str(path), 1, "expected a mapping with 'thresholds' and 'context'")
    th = root.get("thresholds")
    if th is not None:
        if not isinstance(th, Node) or not isinstance(th.value, dict):
            raise root.error("'thresholds' must be a mapping of category: score", "thresholds")
        for cat, value in th.value.items():
            if cat != "default" and cat not in DETECTABLE:
                raise th.error(f"unknown category {cat!r}", cat)
            if not isinstance(value, (int, float)) or isinstance(value, bool) or not 0 <= value <= 1:
                raise th.error(f"threshold for {cat!r} must be a number from 0 to 1", cat)
            if cat == "default":
                settings.default_threshold = float(value)
            else:
                settings.thresholds[cat] = float(value)
    ctx = root.get("context")
    if ctx is not None:
        if not isinstance(ctx, Node) or not isinstance(ctx.value, dict):
            raise root.error("'context' must be a mapping of kind: factor", "context")
        for kind, value in ctx.value.items():
            if kind not in CONTEXT_KINDS:
                raise ctx.error(f"unknown context kind {kind!r}; use {', '.join(CONTEXT_KINDS)}", kind)
            if not isinstance(value, (int, float)) or isinstance(value, bool) or not 0 <= value <= 1:
                raise ctx.error(f"factor for {kind!r} must be a number from 0 to 1", kind)
            settings.factors[kind] = float(value)
    return settings


def _load_slots(root: Node, lang: str, slots: dict[tuple[str, str], Slot]) -> None:
    body = root.get("slots")
    if not isinstance(body, Node) or not isinstance(body.value, dict):
        raise root.error("'slots' must be a mapping of slot name to {note, terms}", "slots")
    for name, spec in body.value.items():
        if not isinstance(name, str) or not _NAME.match(name) or name == "gap":
            raise body.error(f"bad slot name {name!r}", name)
        if (lang, name) in slots:
            raise body.error(f"slot {name!r} is defined twice for {lang}", name)
        if not isinstance(spec, Node) or not isinstance(spec.value, dict):
            raise body.error(f"slot {name!r} must be a mapping with note and terms", name)
        note = _req(spec, "note", str, "a short description")
        terms = [P.fold_term(t) for t in _str_list(spec, "terms", spec)]
        if lang == "ja":
            # Text drops a long-vowel mark between Japanese characters (``オペレーターを`` reads
            # ``おぺれたを``), so a term's final one may be missing: terms are read without them.
            terms = ["".join(c for c in t if c not in LONG_MARKS) or t for t in terms]
        if any(not t for t in terms):
            raise spec.error(f"slot {name!r} has a term that folds to nothing", "terms")
        unknown = set(spec.value) - {"note", "terms", "fuzzy", "common"}
        if unknown:
            raise spec.error(f"unknown key(s) {', '.join(sorted(map(str, unknown)))}", sorted(unknown)[0])
        slots[(lang, name)] = Slot(name, lang, tuple(terms), note,
                                   fuzzy=bool(spec.get("fuzzy", False)),
                                   common=bool(spec.get("common", False)))


def _first_words(terms: tuple[str, ...], lang: str) -> set[str]:
    if lang == "ja":
        # A small kana at either end of a term is dropped in text that continues it (``てめぇが``
        # reads ``てめが``): the rest of the term is what every match holds.
        return {t.strip(SMALL_KANA) or t for t in terms}
    out = set()
    for t in terms:
        words = re.findall(r"[a-z]+", t)
        if not words:
            continue
        content = [w for w in words if w not in STOP_WORDS]
        # Every match of the term holds all its words: its first uncommon one is enough.
        out.add("w:" + canonical_word(content[0] if content else words[0]))
    return out


def canonical_word(word: str) -> str:
    """The form of a word used to decide which rules to run (as written; stretched words in a
    message make every English rule run)."""
    return word


_RUNS = re.compile(r"([a-z])\1+")
_ESCAPE = re.compile(r"\\[a-zA-Z]|\{\w+(?::\d+)?\}|\(\?[:!=<]+|\{\d+(?:,\d*)?\}")
# A literal word starts a word of the text: not after a letter, a class, a quantifier, an
# optional letter ("you'?re") or a group that ends inside a word.
_EN_LITERAL = re.compile(r"(?<![a-z\]+*}])(?<![a-z']\?)(?<![^ ]\))(?<![^ ]\)\?)[a-z]+")
_JA_LITERAL = re.compile(r"[^\x00-\x7f]+")
_OPTIONAL_KANA = re.compile(f"[{SMALL_KANA}][?*]")


def _split_alternatives(body: str) -> list[str]:
    """Split ``body`` at its top-level ``|``."""
    parts, depth, cur, i = [], 0, [], 0
    while i < len(body):
        c = body[i]
        if c == "\\":
            cur.append(body[i:i + 2])
            i += 2
            continue
        if c == "[":
            j = body.find("]", i + 1)
            j = len(body) - 1 if j < 0 else j
            cur.append(body[i:j + 1])
            i = j + 1
            continue
        if c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
        elif c == "|" and depth == 0:
            parts.append("".join(cur))
            cur = []
            i += 1
            continue
        cur.append(c)
        i += 1
    parts.append("".join(cur))
    return parts


def _word_cost(word: str) -> int:
    """How often a trigger word makes its pattern run, roughly."""
    if len(word) < 2:
        return 1000
    if word in STOP_WORDS:
        return 100
    if word in COMMON_WORDS:
        return 20
    return 3 if len(word) < 4 else 1


def _is_optional(template: str, end: int) -> bool:
    return end < len(template) and (template[end] in "?*" or template[end:end + 2] == "{0")


def _required(seq: str, lang: str, slots: dict[tuple[str, str], Slot],
              collect: "list[tuple[int, set[str]]] | None" = None) -> "tuple[int, set[str]] | None":
    """The cheapest trigger set that every match of the sequence ``seq`` must hold, with its cost
    (common words cost more, as they make the pattern run often), or None."""
    options: list[tuple[int, set[str]]] = []
    i, n = 0, len(seq)
    while i < n:
        c = seq[i]
        if c == "\\":
            i += 2
            continue
        if c == "[":
            j = seq.find("]", i + 1)
            i = n if j < 0 else j + 1
            continue
        if c == "(":
            depth, j = 1, i + 1
            while j < n and depth:
                if seq[j] == "\\":
                    j += 2
                    continue
                if seq[j] == "[":
                    k = seq.find("]", j + 1)
                    j = n if k < 0 else k + 1
                    continue
                depth += {"(": 1, ")": -1}.get(seq[j], 0)
                j += 1
            inner = seq[i + 1:j - 1]
            if inner.startswith("?:"):
                inner = inner[2:]
            elif inner.startswith("?"):
                i = j  # lookaround: holds nothing of the match
                continue
            if not _is_optional(seq, j):
                branches = [_required(b, lang, slots) for b in _split_alternatives(inner)]
                if branches and all(b is not None for b in branches):
                    options.append((sum(b[0] for b in branches),  # type: ignore[index]
                                    set().union(*(b[1] for b in branches))))  # type: ignore[index]
            i = j
            continue
        if c == "{":
            m = re.match(r"\{([a-z_]\w*)(?::\d+)?\}", seq[i:])
            if m:
                end = i + m.end()
                name = m.group(1)
                if name != "gap" and not _is_optional(seq, end):
                    slot = slots[(lang, name)]
                    words = _first_words(slot.terms, lang)
                    options.append((len(words) * (50 if slot.common else 1), words))
                i = end
                continue
        if lang == "en" and c.isalpha() and c.isascii() and (i == 0 or not seq[i - 1].isalnum()):
            m = re.match(r"[a-z]+", seq[i:])
            assert m is not None
            end = i + m.end()
            word = m.group()
            if end < n and seq[end] == "?" and len(word) > 1:
                # "dies?", "rumou?rs": a word that starts with the letters before the optional one.
                word, end = word[:-1], end + 1
                while end < n and (seq[end].isalnum() or seq[end] == "?"):
                    end += 1
                options.append((_word_cost(word), {"p:" + word}))
                i = end
                continue
            if not _is_optional(seq, end) and (end >= n or not seq[end].isalnum() and seq[end] != "'"):
                options.append((_word_cost(word), {"p:" + word}))
            i = end
            continue
        if lang == "ja" and not c.isascii() and c not in "ー〜":
            j = i
            while j < n and not seq[j].isascii():
                j += 1
            word = P.fold_pattern(seq[i:j])
            if not _is_optional(seq, j) and word:
                options.append((100 if (len(word) < 2 or word in JA_STOP_WORDS) else 1, {word}))
            i = j
            continue
        i += 1
    if collect is not None:
        collect.extend(options)
    if not options:
        return None
    return min(options, key=lambda o: o[0])


def _also_required(template: str, lang: str, slots: dict[tuple[str, str], Slot]) -> list[frozenset[str]]:
    """Further word sets every match must also hold (one word of each), cheap ones only: the
    engine skips the pattern when any of them is absent from the message."""
    if len(_split_alternatives(template)) != 1:
        return []
    options: list[tuple[int, set[str]]] = []
    _required(template, lang, slots, options)
    options.sort(key=lambda o: o[0])

    def reliable(word: str) -> bool:
        if lang == "en":
            return len(word) > 3 and word[2:] not in STOP_WORDS
        return len(word) > 1 and word not in JA_STOP_WORDS

    # Requiring a set is a cheap check, so any size will do, but one holding very common words
    # would be present almost everywhere and only cost time.
    return [frozenset(words) for cost, words in options[1:] if all(reliable(w) for w in words)]


def _mandatory_triggers(template: str, lang: str, slots: dict[tuple[str, str], Slot]) -> set[str]:
    """The most selective set of words one of which every match of ``template`` must hold."""
    branches = [_required(b, lang, slots) for b in _split_alternatives(template)]
    if not branches or not all(b is not None for b in branches):
        return set()
    return set().union(*(b[1] for b in branches))  # type: ignore[index]


def literal_words(template: str, lang: str) -> set[str]:
    """Literal words of a template (word starts only), used to decide when its rule runs."""
    body = _ESCAPE.sub(" ", template)
    if lang == "ja":
        body = _OPTIONAL_KANA.sub(" ", P.fold_pattern(body))
        return set(_JA_LITERAL.findall(body))
    return {"p:" + canonical_word(w) for w in _EN_LITERAL.findall(body)}


def _load_rules(root: Node, lang: str, slots: dict[tuple[str, str], Slot], out: list[RuleSpec],
                names: dict[str, str], parser: SlotParser, parsed: dict[str, Any]) -> None:
    default_cat = root.get("category")
    if default_cat is not None and default_cat not in DETECTABLE:
        raise root.error(f"unknown category {default_cat!r}", "category")
    body = root.get("rules")
    if not isinstance(body, Node) or not isinstance(body.value, list):
        raise root.error("'rules' must be a list of rule entries", "rules")
    for i, entry in enumerate(body.value):
        if not isinstance(entry, Node) or not isinstance(entry.value, dict):
            raise body.error(f"rule {i + 1} must be a mapping", i)
        unknown = set(entry.value) - {"name", "category", "severity", "language", "note", "score",
                                      "patterns", "triggers", "context"}
        if unknown:
            raise entry.error(f"unknown key(s) {', '.join(sorted(map(str, unknown)))}", sorted(unknown)[0])
        short = _req(entry, "name", str, "a rule name")
        if not _NAME.match(short):
            raise entry.error(f"rule name {short!r} may use only a-z, 0-9, '_' and '.'", "name")
        category = entry.get("category", default_cat)
        if category not in DETECTABLE:
            raise entry.error(f"unknown category {category!r}", "category" if "category" in entry.value else None)
        name = f"{lang}.{category}.{short}"
        if name in names:
            raise entry.error(f"duplicate rule name {name!r} (also in {names[name]})", "name")
        names[name] = f"{entry.path} line {entry.line}"
        try:
            severity = Severity.parse(_req(entry, "severity", str, "low, medium, high or critical"))
        except ValueError as exc:
            raise entry.error(str(exc), "severity") from None
        rlang = _lang(entry, lang)
        if rlang != lang:
            raise entry.error(f"rule language {rlang!r} differs from the file's {lang!r}", "language")
        note = _req(entry, "note", str, "a short note a team lead can read")
        score = entry.get("score", 0.8)
        if not isinstance(score, (int, float)) or isinstance(score, bool) or not 0 < score <= 1:
            raise entry.error("'score' must be a number above 0 and at most 1", "score")
        context = entry.get("context")
        if context is None:
            ctx = frozenset({"quoted", "reported", "negated"})
        else:
            ctx_list = _str_list(entry, "context", entry)
            bad = [c for c in ctx_list if c not in CONTEXT_KINDS]
            if bad:
                raise entry.error(f"unknown context kind {bad[0]!r}; use {', '.join(CONTEXT_KINDS)}", "context")
            ctx = frozenset(ctx_list)
        templates = _str_list(entry, "patterns", entry)
        pnode = entry.value["patterns"]
        compiled: list[str] = []
        triggers: list[frozenset[str]] = []
        requires: list[tuple[frozenset[str], ...]] = []
        explicit: set[str] = set()
        if "triggers" in entry.value:
            for t in _str_list(entry, "triggers", entry):
                folded = P.fold_term(t)
                explicit.add("p:" + canonical_word(folded) if lang == "en" else folded)
        for j, template in enumerate(templates):
            if lang == "ja":
                # Fold the template as message text is folded (small kana included), so that
                # its triggers and its regex both read what the folded text holds.
                template = fold_template(template)
            try:
                regex, tree = parser.parse(template, lambda rx, t=template: P.expand(t, rx, lang))
                check_compilable(tree)  # compiled when first needed (``parsing.LazyPatterns``)
                parsed.setdefault(regex, tree)
            except KeyError as exc:
                raise pnode.error(f"pattern refers to unknown slot {{{exc.args[0]}}}", j) from None
            except re.error as exc:
                raise pnode.error(f"pattern is not a valid regular expression: {exc}", j) from None
            compiled.append(regex)
            names_used = P.slot_names(template)
            trig: set[str] = set(explicit)
            if not explicit:
                trig = _mandatory_triggers(template, lang, slots)
            if not trig and not explicit:
                # Nothing is required by itself: run on any of its words.
                trig |= literal_words(template, lang)
                for s in names_used:
                    trig |= _first_words(slots[(lang, s)].terms, lang)
            triggers.append(frozenset(trig))
            requires.append(tuple(_also_required(template, lang, slots)) if not explicit else ())
        out.append(RuleSpec(name, category, severity, lang, note, float(score), tuple(compiled),
                            tuple(triggers), ctx, entry.path, entry.line, tuple(requires)))


def load_lexicon(rules_dir: Path) -> Lexicon:
    """Load every lexicon under ``rules_dir`` and ``rules_dir/detect.yaml``."""
    settings = load_settings(rules_dir / "detect.yaml")
    slots: dict[tuple[str, str], Slot] = {}
    rule_roots: list[tuple[Node, str]] = []
    not_misspellings: set[str] = set()
    glue: set[str] = set()
    lex_dir = rules_dir / "lexicons"
    if not lex_dir.is_dir():
        raise RulesError(str(lex_dir), None, "the lexicons folder is missing")
    for lang_dir in sorted(p for p in lex_dir.iterdir() if p.is_dir()):
        if lang_dir.name not in LANGS:
            raise RulesError(str(lang_dir), None, f"unknown language folder; use one of {', '.join(LANGS)}")
        for path in sorted(lang_dir.glob("*.yaml")):
            root = load(path)
            if not isinstance(root, Node) or not isinstance(root.value, dict):
                raise RulesError(str(path), 1, "expected a mapping at the top of the file")
            lang = _lang(root, lang_dir.name)
            if lang != lang_dir.name:
                raise root.error(f"language {lang!r} does not match folder {lang_dir.name!r}", "language")
            if "slots" in root.value:
                _load_slots(root, lang, slots)
            if "rules" in root.value:
                rule_roots.append((root, lang))
            if "not_misspellings" in root.value:
                not_misspellings.update(w.lower() for w in _str_list(root, "not_misspellings", root))
            if "glue_words" in root.value:
                glue.update(w.lower() for w in _str_list(root, "glue_words", root))
            if not {"slots", "rules", "not_misspellings", "glue_words"} & set(root.value):
                raise RulesError(str(path), 1, "expected 'slots', 'rules', 'not_misspellings' or 'glue_words'")
    rules: list[RuleSpec] = []
    names: dict[str, str] = {}
    parsers: dict[str, SlotParser] = {}
    parsed: dict[str, Any] = {}
    for root, lang in rule_roots:
        if lang not in parsers:
            parsers[lang] = SlotParser({name: fold_pattern_kana(s.regex) if lang == "ja" else s.regex
                                        for (lg, name), s in slots.items() if lg == lang})
        _load_rules(root, lang, slots, rules, names, parsers[lang], parsed)
    return Lexicon(slots, rules, settings, frozenset(not_misspellings), frozenset(glue), parsed)
