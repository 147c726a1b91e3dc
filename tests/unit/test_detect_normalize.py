"""Normalization folds evasions and keeps a map back to the original offsets."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.detect import Detector, Normalizer, normalize


@pytest.mark.parametrize(
    ("raw", "folded"),
    [
        ("You 1d10t!", "you idiot!"),
        ("s.t.u.p.i.d", "stupid"),
        ("i d i o t", "idiot"),
        ("ＦＵＣＫ", "fuck"),
        ("i\u200bdi\u200dot", "idiot"),
        ("\u202eidiot\u202c", "idiot"),
        ("іdіot", "idiot"),  # Cyrillic і
        ("a$$hole", "asshole"),
        ("b!tch", "bitch"),
        ("4ssholes", "assholes"),
        ("ïdiöt", "idiot"),
        ("バーカ", "ばか"),
        ("ﾊﾞｶ", "ばか"),
        ("死・ね", "死ね"),
        ("し　ね", "しね"),
    ],
)
def test_evasions_fold_to_the_plain_word(raw: str, folded: str) -> None:
    assert normalize(raw).text == folded


def test_numbers_that_are_not_words_are_left_alone() -> None:
    assert normalize("Order 24 arrived at 10am on 2024-05-01").text == "order 24 arrived at 10am on 2024-05-01"


def test_spaced_letters_split_off_a_leading_i_when_the_rest_is_a_known_word() -> None:
    n = Normalizer(vocabulary=frozenset({"hate"}))
    assert n.normalize("I h a t e them").text == "i hate them"


def test_rewrites_read_misspelled_and_run_together_words() -> None:
    n = Normalizer(rewrites={"murdr": "murder", "justpathetic": "just pathetic"})
    folded = n.normalize("I will murdr you, justpathetic")
    assert folded.text == "i will murder you, just pathetic"
    s, e = folded.span(folded.text.index("murder"), folded.text.index("murder") + 6)
    assert "I will murdr you, justpathetic"[s:e] == "murdr"
    s, e = folded.span(folded.text.index("pathetic"), folded.text.index("pathetic") + 8)
    assert "I will murdr you, justpathetic"[s:e] == "pathetic"


def test_span_maps_folded_offsets_back_to_the_original() -> None:
    raw = "ＹＯＵ\u200b ｉ ｄ ｉ ｏ ｔ"
    folded = normalize(raw)
    start = folded.text.index("idiot")
    s, e = folded.span(start, start + 5)
    assert raw[s:e] == "ｉ ｄ ｉ ｏ ｔ"


_alphabet = st.sampled_from(list("abcdefghijklmnopqrstuvwxyz 01345!$@*.-'\"\u200b\u202eｉｄｏｔＹ")
                            + list("ばかしね死殺すバカ・ー　、。「」") + ["you ", "idiot", "kill", "fuck", "i d i o t"])


@settings(max_examples=200, deadline=None, derandomize=True)
@given(st.lists(_alphabet, max_size=40).map("".join))
def test_every_evidence_indexes_the_original_text(detector: Detector, text: str) -> None:
    from gateway.model import Message

    for finding in detector.detect(Message(id="h", text=text)):
        for ev in finding.evidence:
            assert text[ev.start:ev.end] == ev.text
            assert ev.text


@settings(max_examples=200, deadline=None, derandomize=True)
@given(st.text(max_size=60))
def test_span_is_within_the_original_for_any_text(text: str) -> None:
    folded = normalize(text)
    for i in range(len(folded.text)):
        s, e = folded.span(i, i + 1)
        assert 0 <= s <= e <= len(text)
