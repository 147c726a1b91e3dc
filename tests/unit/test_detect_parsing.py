"""Each rule pattern is parsed once, from slots parsed once, and compiled when first needed; what
comes out must be exactly what Python's own parser and compiler make of the whole pattern."""

from __future__ import annotations

import random
import re
import re._parser as sre_parse
from pathlib import Path

import pytest
import yaml

from gateway.detect import Detector, yamlfile
from gateway.detect import prefilter as PF
from gateway.detect.lexicon import load_lexicon
from gateway.detect.parsing import (
    LazyPatterns,
    SlotParser,
    check_compilable,
    compile_tree,
    is_group,
)
from gateway.detect.patterns import alternation, expand
from gateway.errors import RulesError
from gateway.model import Message
from gateway.resources import rules_dir


@pytest.fixture(scope="module")
def lexicon():  # type: ignore[no-untyped-def]
    return load_lexicon(rules_dir())


def test_every_shipped_pattern_parses_and_compiles_as_python_would(lexicon) -> None:  # type: ignore[no-untyped-def]
    regexes = {p for spec in lexicon.rules for p in spec.patterns}
    assert set(lexicon.parsed) == regexes
    for regex, tree in lexicon.parsed.items():
        fresh = sre_parse.parse(regex)
        # Pattern equality compares text, flags and the compiled code.
        assert compile_tree(regex, tree) == re.compile(regex), regex
        assert tree.getwidth() == fresh.getwidth()
        assert PF.needs_wide(regex, tree) == PF.needs_wide(regex)
        for ascii in (True, False):
            try:
                expected = PF.loosen(regex, ascii)
            except PF.Unsupported:
                with pytest.raises(PF.Unsupported):
                    PF.loosen(regex, ascii, tree)
                continue
            assert PF.loosen(regex, ascii, tree) == expected


def _parse_all(slots: dict[str, str], templates: list[str], lang: str = "en") -> SlotParser:
    parser = SlotParser(slots)
    for template in templates:
        regex, tree = parser.parse(template, lambda rx, t=template: expand(t, rx, lang))
        assert regex == expand(template, slots, lang)
        assert compile_tree(regex, tree) == re.compile(regex), template
        assert tree.getwidth() == sre_parse.parse(regex).getwidth(), template
    return parser


def test_slots_the_parser_optimizes_across_are_spliced_exactly() -> None:
    # Terms of one letter make slots the parser would merge into a class; terms sharing a first
    # letter make alternatives with a common first item, which it factors out.
    slots = {name: alternation(terms, "en") for name, terms in {
        "one": ["a"], "two": ["b", "c"], "fx": ["fox", "fix"], "fy": ["fun", "fix it"], "x": ["x"],
    }.items()}
    slots["fixed"] = "(?:ab|cd)"  # a fixed width, as a look-behind needs
    slots["p"], slots["q"] = "(?:a)", "(?:[bc])"  # single characters: merged into a class
    templates = [
        "{one}|{two}", "{fx} a|{fx} b", "{fx}|{fy}", "(?:{one}|{x}) z|{two} z", "z{one}|z{x}",
        "{fx}? {fy}+ (?:{one} ){0,2}{two}", "(?<!{fixed}){fy}", "({fx}) and ({fy})", "(?:(?:{one}|{two})|q)",
        "{gap:2}{fx}", "(?:{fx}|{fx})", "x(?:{fx}|{fy})y|x(?:{fx}|{fy})z",
        "{p}|{q}", "z{p}|z{q}", "(?:{p}|b|{q})+", "{p}|{fx}", "(?:{p}|{q}) (?:{p}|{q}|[^a])",
    ]
    parser = _parse_all(slots, templates)
    assert parser.fallbacks == 0


def test_random_templates_over_random_slots_compile_as_python_would() -> None:
    rng = random.Random(20261126)
    words = ["a", "b", "ab", "abc", "ba", "fox", "fix", "i", "it", "i'm", "you all", "x y"]
    for _ in range(40):
        slots = {f"s{k}": alternation(rng.sample(words, rng.randint(1, 4)), "en") for k in range(4)}

        def piece(depth: int) -> str:
            kind = rng.randrange(7 if depth < 3 else 3)
            if kind == 0:
                return "{s%d}" % rng.randrange(4)
            if kind == 1:
                return rng.choice(["a", "b", "x", "fox", "[ab]", r"\d"])
            if kind == 2:
                return "{s%d}%s" % (rng.randrange(4), rng.choice(["?", "*", "+", "{0,2}", "??"]))
            if kind == 3:
                return "(?:" + "|".join(piece(depth + 1) for _ in range(rng.randint(2, 3))) + ")"
            if kind == 4:
                return "(" + piece(depth + 1) + ")"
            if kind == 5:
                return "(?:" + piece(depth + 1) + " " + piece(depth + 1) + ")" + rng.choice(["", "?", "*"])
            return "|".join(piece(depth + 1) for _ in range(2))

        _parse_all(slots, [" ".join(piece(0) for _ in range(rng.randint(1, 3))) for _ in range(10)])


def test_japanese_templates_and_back_references() -> None:
    slots = {"you": alternation(["お前", "おまえ", "てめえ"], "ja"), "x": alternation(["死ね", "しね"], "ja")}
    parser = _parse_all(slots, ["{you}(?:は|って)?{x}", "{you}|{x}", "(?:{x}){1,3}", "(お前)\\1{x}"], "ja")
    assert parser.fallbacks == 1  # the back-reference: a group's width was measured with stand-ins


def test_a_slot_that_is_not_one_group_is_parsed_whole() -> None:
    parser = _parse_all({"a": "(?:x)|(?:y)", "b": "(?:x)"}, ["{a}z", "{b}z"])
    assert parser.fallbacks == 1
    assert is_group("(?:a(?:b)[)]c)") and not is_group("(?:a)(?:b)") and not is_group("(a)")


def test_a_variable_look_behind_is_refused_at_load_as_compiling_would(tmp_path: Path) -> None:
    with pytest.raises(re.error) as compiled:
        re.compile("(?<!ab?)c")
    with pytest.raises(re.error) as checked:
        check_compilable(sre_parse.parse("x(?:(?<!ab?)c)*"))
    assert str(checked.value) == str(compiled.value)
    root = tmp_path / "rules"
    (root / "lexicons" / "en").mkdir(parents=True)
    (root / "lexicons" / "en" / "threat.yaml").write_text(
        "language: en\ncategory: threat\nrules:\n  - name: x\n    severity: high\n    note: n\n"
        "    patterns:\n      - 'fine'\n      - '(?<!ab?)kill'\n", encoding="utf-8")
    with pytest.raises(RulesError) as info:
        Detector.load(root)
    assert info.value.line == 9 and "regular expression" in info.value.reason


def test_patterns_are_compiled_when_first_used_and_equal_re_compile() -> None:
    regexes = ["a+b", "(?<![\\w*])x(?![\\w*])", "c"]
    lazy = LazyPatterns(regexes)
    assert lazy._compiled == [None, None, None]
    assert lazy[1] == re.compile(regexes[1])
    assert lazy._compiled[0] is None and lazy._compiled[2] is None
    assert list(lazy) == [re.compile(r) for r in regexes] and len(lazy) == 3
    assert lazy[0] is lazy[0]  # compiled once
    assert lazy[1:] == (re.compile(regexes[1]), re.compile(regexes[2]))
    assert lazy == LazyPatterns(regexes) and hash(lazy) == hash(LazyPatterns(regexes))


def test_a_message_compiles_only_the_patterns_it_reaches() -> None:
    detector = Detector(load_lexicon(rules_dir()))
    detector.detect(Message(id="m", text="You are a useless idiot."))
    compiled = [rx for rule in detector.rules for rx in rule.patterns._compiled if rx is not None]
    assert 0 < len(compiled) < 20


def test_rules_files_read_the_same_with_libyaml_and_without(monkeypatch: pytest.MonkeyPatch) -> None:
    def dump(value):  # type: ignore[no-untyped-def]
        if isinstance(value, yamlfile.Node):
            return ("node", value.line, dump(value.value), value.lines)
        if isinstance(value, dict):
            return {k: dump(v) for k, v in value.items()}
        if isinstance(value, list):
            return [dump(v) for v in value]
        return value

    files = sorted(rules_dir().rglob("*.yaml"))
    assert len(files) > 10
    fast = [dump(yamlfile.load(p)) for p in files]
    monkeypatch.setattr(yamlfile, "_LOADER", yaml.SafeLoader)
    assert [dump(yamlfile.load(p)) for p in files] == fast


def test_warm_compiles_every_pattern_and_changes_no_finding() -> None:
    from gateway.detect import Detector
    from gateway.ingest import message_from_text

    detector = Detector.load()
    texts = ["You idiot, I will find where you live.", "この役立たず！土下座しろ", "The router is broken again."]
    before = [[f.to_json() for f in detector.detect(message_from_text(str(i), t))] for i, t in enumerate(texts)]
    count = detector.warm()
    assert count == sum(len(rule.patterns.regexes) for rule in detector.rules) > 0
    assert all(None not in rule.patterns._compiled for rule in detector.rules)
    after = [[f.to_json() for f in detector.detect(message_from_text(str(i), t))] for i, t in enumerate(texts)]
    assert after == before and any(before)
