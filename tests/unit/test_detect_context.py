"""Context rules: legitimate complaints are left alone, abuse aimed at staff is found."""

from __future__ import annotations

import pytest

from gateway.detect import Detector, mask
from gateway.model import Message, Severity


def categories(detector: Detector, text: str) -> set[str]:
    return {f.category for f in detector.detect(Message(id="t", text=text))}


def flagged(detector: Detector, text: str) -> bool:
    return any(f.severity >= Severity.MEDIUM and f.category != "escalation_pressure"
               for f in detector.detect(Message(id="t", text=text)))


def test_profanity_about_a_product_is_not_abuse(detector: Detector) -> None:
    assert not flagged(detector, "This damn router keeps dropping the connection.")
    assert "verbal_abuse" in categories(detector, "You damn idiot, fix the router.")


def test_insult_aimed_at_the_reader_is_verbal_abuse(detector: Detector) -> None:
    findings = detector.detect(Message(id="t", text="Honestly, you idiot."))
    abuse = [f for f in findings if f.category == "verbal_abuse"]
    assert abuse and abuse[0].evidence[0].text == "you idiot"
    assert abuse[0].rule.startswith("en.verbal_abuse.")
    assert "you idiot" in abuse[0].reason


def test_reported_speech_is_not_the_customers_own_abuse(detector: Detector) -> None:
    assert not flagged(detector, "Your agent called me an idiot on the phone.")
    assert not flagged(detector, 'He said "I\'ll kill you" to me at the counter and I am reporting it.')
    assert not flagged(detector, "「バカ」と言われました。")


def test_negation_cancels_a_threat(detector: Detector) -> None:
    assert not flagged(detector, "I'm not going to hurt you, I just want my refund.")
    assert not flagged(detector, "殺すつもりはありません。")
    assert "threat" in categories(detector, "I'm going to hurt you.")


def test_a_condition_is_not_a_negation(detector: Detector) -> None:
    assert "threat" in categories(detector, "If you don't refund me I'll kill you.")


def test_legitimate_demands_are_not_flagged(detector: Detector) -> None:
    for text in ("I want a full refund.", "Please send a replacement or cancel my order.",
                 "I will post an honest review.", "I want my $1,200 back, I was charged twice.",
                 "返金をお願いします。", "契約どおり全額返金してください。"):
        assert not flagged(detector, text), text


def test_one_polite_supervisor_request_is_not_escalation_pressure(detector: Detector) -> None:
    assert "escalation_pressure" not in categories(detector, "Could I please speak to a supervisor?")
    assert "escalation_pressure" not in categories(detector, "責任者の方とお話しできますでしょうか。")
    assert "escalation_pressure" in categories(detector, "Get me your manager now.")


def test_escalation_pressure_is_low_and_never_flags_alone(detector: Detector) -> None:
    findings = detector.detect(Message(id="t", text="社長を出せ！"))
    assert [f.category for f in findings] == ["escalation_pressure"]
    assert findings[0].severity == Severity.LOW


def test_online_exposure_needs_a_target(detector: Detector) -> None:
    assert "online_exposure" not in categories(detector, "I will post about this on twitter.")
    assert "online_exposure" in categories(detector, "I will post your agent's name and photo on twitter.")
    assert "online_exposure" not in categories(detector, "口コミに正直に書きます。")
    assert "online_exposure" in categories(detector, "担当者の名前をSNSに晒します")


def test_japanese_politeness_does_not_hide_abuse(detector: Detector) -> None:
    assert "verbal_abuse" in categories(detector, "本当に無能な方ですね。")
    assert "verbal_abuse" in categories(detector, "バカなんですか？")


def test_blunt_japanese_is_not_abuse_by_itself(detector: Detector) -> None:
    assert not flagged(detector, "ふざけるな。早く直せ。")
    assert not flagged(detector, "バカ高い料金にはうんざりです。")
    assert not flagged(detector, "担当者に馬鹿にされたように感じました。")


def test_counter_speech_quoting_abuse_is_scored_down(detector: Detector) -> None:
    assert not flagged(detector, 'People who send me messages like "you are a moron" will get blocked.')


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("I will kill you", "threat"),
        ("I know where you live.", "threat"),
        ("You are a s.t.u.p.i.d moron", "verbal_abuse"),
        ("f*ck you", "verbal_abuse"),
        ("Send me nudes", "sexual_harassment"),
        ("Go back to your own country.", "discrimination"),
        ("I recorded you and will post your voice online", "online_exposure"),
        ("What time do you get off work?", "privacy_intrusion"),
        ("Fire that agent now.", "staff_punishment_demand"),
        ("Get on your knees and apologize.", "excessive_apology_demand"),
        ("I want $50,000 for my trouble.", "unreasonable_compensation_demand"),
        ("Don't you dare hang up on me.", "restrictive_conduct"),
        ("ぶっ殺すぞ", "threat"),
        ("死ね", "verbal_abuse"),
        ("胸触らせて", "sexual_harassment"),
        ("女のくせに", "discrimination"),
        ("お前の名前をネットに晒してやる", "online_exposure"),
        ("担当者の住所を教えろ", "privacy_intrusion"),
        ("あいつをクビにしろ", "staff_punishment_demand"),
        ("土下座しろ", "excessive_apology_demand"),
        ("慰謝料100万円払え", "unreasonable_compensation_demand"),
        ("電話を切るな", "restrictive_conduct"),
    ],
)
def test_each_category_is_found(detector: Detector, text: str, category: str) -> None:
    assert category in categories(detector, text)


def test_mask_replaces_abusive_passages_and_keeps_the_rest(detector: Detector) -> None:
    text = "Hello. You stupid idiot, I want a refund."
    findings = detector.detect(Message(id="t", text=text))
    masked = mask(text, findings)
    assert "idiot" not in masked
    assert masked.startswith("Hello. [insult]")
    assert masked.endswith(", I want a refund.")


def test_mask_leaves_demands_readable() -> None:
    from gateway.model import Evidence, Finding

    f = Finding("staff_punishment_demand", Severity.MEDIUM, 0.8, [Evidence(0, 14, "Fire the agent")], "r", "why")
    assert mask("Fire the agent now", [f]) == "Fire the agent now"
