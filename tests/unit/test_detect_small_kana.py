"""Japanese rules are folded like the text they read: a small kana (``ッ``, ``ぁ``...) that the
normalizer drops from a message is dropped from the rule's pattern the same way, so a rule written
``ネット`` finds ``ネット`` and ``ネト`` alike, with evidence in the original text."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.detect import Detector, normalize
from gateway.detect.normalize import fold_template
from gateway.model import Message


def folded(template: str) -> str:
    """What the rules loader makes of a Japanese template."""
    return fold_template(template)


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("ネット", "ねと"),  # between kana: dropped, as in the text
        ("ツイッター", "ついた"),
        ("ティックトック", "てくとく"),
        ("すごぉい", "すごい"),
        ("殴って", "殴って"),  # after a kanji the text keeps it
        ("(?:は|って)", "(?:は|っ?て)"),  # after a group boundary: the text may hold it or not
        ("{you}って", "{you}っ?て"),
        ("(?:ぶっ)?殺す", "(?:ぶっ?)?殺す"),
        ("めくら(?!な|っ)", "めくら(?!な|っ)"),  # inside a lookaround: as written
        ("しね(?![ぇよ])", "しね(?![ぇよ])"),  # character classes are left alone
    ],
)
def test_templates_fold_small_kana_like_text(template: str, expected: str) -> None:
    assert folded(template) == expected


_KANA = st.lists(st.sampled_from(list("ねとすごい待殺ぶきゃネトッァィォっぁぉーャ")), max_size=6).map("".join)


@settings(max_examples=400, deadline=None, derandomize=True)
@given(_KANA.filter(bool), _KANA, _KANA)
def test_a_word_written_in_a_rule_is_found_wherever_the_text_holds_it(word: str, before: str, after: str) -> None:
    """Whatever surrounds it, a word the text contains is found by a rule that spells it the same."""
    text = normalize(before + word + after).text
    assert re.search(fold_template(word), text), (word, before, after, fold_template(word), text)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(_KANA.filter(bool), _KANA.filter(bool), _KANA, _KANA, _KANA, st.booleans())
def test_a_word_split_over_a_group_is_found_too(first: str, other: str, rest: str, before: str, after: str,
                                                 optional: bool) -> None:
    """A small kana at a group's edge cannot be decided from the pattern: either text is found."""
    template = f"(?:{first}|{other}){'?' if optional else ''}{rest}"
    text = normalize(before + first + rest + after).text
    assert re.search(fold_template(template), text), (template, before, after, fold_template(template), text)


def test_long_marks_after_small_kana_fold_like_text() -> None:
    assert fold_template("ネッート") == "ねっと" == normalize("ネッート").text
    assert fold_template("ばーっと") == "ばっと" == normalize("ばーっと").text


def test_folding_a_template_twice_changes_nothing_more() -> None:
    for template in ("ネット", "(?:は|って)", "殴って", "{you}って", "ちょっ"):
        once = folded(template)
        assert folded(once) == once


RULES = """\
language: ja
rules:
  - name: post_online
    category: online_exposure
    severity: high
    note: ネットに晒す予告
    patterns: ['(?:ネット|ツイッター)に晒{gap:0}(?:す|してやる)']
  - name: waiting
    category: privacy_intrusion
    severity: high
    note: 待ち伏せ
    patterns: ['出口で待ってる']
  - name: you_are
    category: verbal_abuse
    severity: medium
    note: 相手を罵る
    patterns: ['{you}ってバカ']
"""
SLOTS = """\
language: ja
slots:
  you:
    note: 相手
    terms: [お前, あんた, てめぇ, オペレーター]
"""


@pytest.fixture(scope="module")
def detector(tmp_path_factory: pytest.TempPathFactory) -> Detector:
    root = tmp_path_factory.mktemp("kana") / "rules"
    (root / "lexicons" / "ja").mkdir(parents=True)
    (root / "lexicons" / "ja" / "rules.yaml").write_text(RULES, encoding="utf-8")
    (root / "lexicons" / "ja" / "slots.yaml").write_text(SLOTS, encoding="utf-8")
    return Detector.load(root)


def evidence_of(detector: Detector, text: str, rule: str) -> list[str]:
    m = Message(id="k", text=text, lang="ja")
    findings = detector.detect(m)
    # the fast paths find what a full scan finds
    assert [f.to_json() for f in findings] == [f.to_json() for f in detector.detect_exhaustive(m)]
    assert [f.to_json() for f in detector.detect_by_triggers(m)] == [f.to_json() for f in findings]
    out = []
    for f in findings:
        for ev in f.evidence:
            assert text[ev.start:ev.end] == ev.text
            if f.rule == rule:
                out.append(ev.text)
    return out


@pytest.mark.parametrize(
    ("text", "passage"),
    [
        ("担当者の顔をネットに晒してやる。", "ネットに晒してやる"),
        ("担当者の顔をネトに晒してやる。", "ネトに晒してやる"),
        ("担当者の顔をねっとに晒してやる。", "ねっとに晒してやる"),
        ("担当者の顔をﾈｯﾄに晒す", "ﾈｯﾄに晒す"),
        ("担当者の顔をツイッターに晒す", "ツイッターに晒す"),
        ("担当者の顔をツイターに晒す", "ツイターに晒す"),
    ],
)
def test_rule_with_small_kana_matches_text_with_or_without_them(detector: Detector, text: str, passage: str) -> None:
    assert evidence_of(detector, text, "ja.online_exposure.post_online") == [passage]


def test_small_kana_after_a_kanji_is_kept_in_rule_and_text(detector: Detector) -> None:
    assert evidence_of(detector, "毎日出口で待ってるから", "ja.privacy_intrusion.waiting") == ["出口で待ってる"]
    assert evidence_of(detector, "出口で待てるよ", "ja.privacy_intrusion.waiting") == []  # "can wait"


@pytest.mark.parametrize(
    ("text", "passage"),
    [
        ("お前ってバカだな", "お前ってバカ"),  # after a kanji: the text keeps the っ
        ("あんたってバカだな", "あんたってバカ"),  # after a kana: the text drops it
        ("てめぇってバカか", "てめぇってバカ"),  # a slot term ending in a small kana
        ("オペレーターってバカ?", "オペレーターってバカ"),  # a slot term ending in a long-vowel mark
    ],
)
def test_small_kana_at_a_slot_boundary_matches_either_way(detector: Detector, text: str, passage: str) -> None:
    assert evidence_of(detector, text, "ja.verbal_abuse.you_are") == [passage]


def test_shipped_japanese_rules_need_no_small_kana_workarounds() -> None:
    shipped = Path(__file__).resolve().parents[2] / "rules" / "lexicons" / "ja"
    for path in shipped.glob("*.yaml"):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.lstrip().startswith("- '"):
                assert "ッ?" not in line and "っ?" not in line, (path.name, line)
    detector = Detector.load()
    text = "お前の名前をネットに晒してやる"
    findings = detector.detect(Message(id="s", text=text, lang="ja"))
    assert any(f.category == "online_exposure" for f in findings)
    assert all(text[e.start:e.end] == e.text for f in findings for e in f.evidence)
