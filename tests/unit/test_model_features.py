"""The model's features read the engine's folded text, and its evidence indexes the original."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from gateway.detect import Detector
from gateway.detect.model import AbuseModel, FEATURES_VERSION, feature_set, tokenize
from gateway.detect.normalize import normalize
from gateway.errors import RulesError
from gateway.model import Message


def toy_model(threshold: float = 0.5) -> AbuseModel:
    return AbuseModel("toy", {"idiot": 3.0, "stupid": 2.0, "you": 0.5, "stupid idiot": 1.0,
                              "router": -1.0, "please": -2.0}, -2.0, threshold, {})


def test_words_are_folded_collapsed_and_split_into_sentences() -> None:
    sentences = tokenize(normalize("You're SOOOO stupid!!! see https://x.example @bob ok"))
    assert [[t.word for t in s] for s in sentences] == [["youre", "so", "stupid"], ["see", "ok"]]


def test_features_are_words_and_neighbour_pairs() -> None:
    assert feature_set("you stupid idiot") == {"you", "stupid", "idiot", "you stupid", "stupid idiot"}


@pytest.mark.parametrize("text", ["you st*pid 1d10t", "you are a stup1d id!ot", "y o u  s.t.u.p.i.d  i d i o t",
                                  "ｙｏｕ ＳＴＵＰＩＤ ｉｄｉｏｔ", "you stu\u200bpid idiooooot"])
def test_evidence_maps_back_to_the_original_on_evasive_text(detector: Detector, text: str) -> None:
    msg = Message(id="1", text=text, lang="en")
    norm = detector.normalizer.normalize(text)
    found = toy_model().check(msg, norm, {}, 0.5)
    assert len(found) == 1
    f = found[0]
    assert f.rule == "model:toy" and f.category == "verbal_abuse"
    assert f.evidence, "a model finding always has evidence"
    for ev in f.evidence:
        assert text[ev.start:ev.end] == ev.text
    evidence = " ".join(normalize(ev.text).text for ev in f.evidence)
    assert "idiot" in re.sub(r"(.)\1\1+", r"\1", evidence.replace(" ", ""))
    assert "idiot" in f.reason and "probability" in f.reason


def test_score_is_the_logistic_of_the_features_that_fired() -> None:
    model = toy_model()
    s = tokenize("you stupid idiot")[0]
    scored = model.score_sentence(s)
    # -2 + 0.5 + 2 + 3 + 1 = 4.5
    assert scored.probability == pytest.approx(1 / (1 + 2.718281828459045 ** -4.5))
    assert [f for f, *_ in scored.top] == ["idiot", "stupid", "stupid idiot"]


def test_a_thing_described_a_long_message_and_a_quote_are_left_alone(detector: Detector) -> None:
    model = toy_model()
    for text in ["this stupid router", "that is " + "really " * 10 + "stupid idiot",
                 'my agent was told "stupid idiot" by someone']:
        norm = detector.normalizer.normalize(text)
        assert model.check(Message(id="1", text=text, lang="en"), norm,
                           detector.settings.factors, 0.5) == [], text


def test_a_model_file_of_another_feature_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "m.json"
    path.write_text(json.dumps({"features_version": FEATURES_VERSION + 1, "weights": {}, "bias": 0}))
    with pytest.raises(ValueError, match="features_version"):
        AbuseModel.load(path)


def test_a_malformed_model_section_names_file_and_line(tmp_path: Path) -> None:
    import shutil

    from gateway.detect.model import load_model_settings
    from gateway.resources import rules_dir

    rules = tmp_path / "rules"
    shutil.copytree(rules_dir(), rules)
    text = (rules / "detect.yaml").read_text(encoding="utf-8")
    (rules / "detect.yaml").write_text(re.sub(r"(?m)^  threshold: .*$", "  threshold: high", text),
                                       encoding="utf-8")
    with pytest.raises(RulesError) as err:
        load_model_settings(rules)
    assert "detect.yaml" in str(err.value) and "threshold" in str(err.value)


def test_a_missing_model_file_names_the_rules_file(tmp_path: Path) -> None:
    import shutil

    from gateway.detect.model import load_model_settings
    from gateway.resources import rules_dir

    rules = tmp_path / "rules"
    shutil.copytree(rules_dir(), rules)
    text = (rules / "detect.yaml").read_text(encoding="utf-8")
    (rules / "detect.yaml").write_text(text.replace("models/en-abuse-1.json", "models/nope.json"),
                                       encoding="utf-8")
    with pytest.raises(RulesError, match=r"detect\.yaml line \d+: .*nope\.json"):
        load_model_settings(rules)
