"""The detector's shortcuts give exactly what the plain forms they replace give: the normalizer's
quicker searches and table, and the prefilter's automata."""

from __future__ import annotations

import importlib
import json
import random
from pathlib import Path

import pytest

N = importlib.import_module("gateway.detect.normalize")

DATA = Path(__file__).resolve().parent.parent / "data"


def corpus() -> list[str]:
    texts = []
    for path in sorted(DATA.glob("*/*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                texts.append(json.loads(line)["text"])
            except (ValueError, KeyError, TypeError):
                continue
    rng = random.Random(11)
    pieces = ["バ　カ", "死・ね", "ネッート", "すごぉい", "っ", "ー", " ", "・", "★", "\u3000", "a", "1d10t",
              "f*ck", "h4te", "@you", "s.t.u.p.i.d", "$$", "+", "|", "#", "%", "０１２", "ｶﾀｶﾅ", "Ａ", "\u200b"]
    texts += ["".join(rng.choice(pieces) for _ in range(rng.randint(1, 30))) for _ in range(3000)]
    return texts


@pytest.fixture(scope="module")
def texts() -> list[str]:
    found = corpus()
    assert len(found) > 3000
    return found


def test_gap_matches_are_the_full_scan_s(texts: list[str]) -> None:
    checked = 0
    for text in texts:
        folded = N._fold_chars(text).text
        expected = [(m.start(), m.end()) for m in N._JA_GAP.finditer(folded)]
        assert [(m.start(), m.end()) for m in N._gap_matches(folded)] == expected, folded
        checked += bool(expected)
    assert checked > 100


def test_leet_check_is_the_regex_search(texts: list[str]) -> None:
    hits = 0
    for text in texts:
        folded = N._fold_chars(text).text
        expected = N._LEET_ANY.search(folded) is not None
        assert N._has_leet(folded) == expected, folded
        hits += expected
    assert hits > 100


def test_translate_table_as_a_list_is_the_dict(texts: list[str]) -> None:
    for text in texts + ["".join(map(chr, range(0x80, 0x3100))), "\U0001f600ｱ"]:
        assert text.translate(N._TABLE_LIST) == text.translate(N._TABLE)
