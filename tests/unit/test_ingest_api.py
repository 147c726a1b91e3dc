"""The ingest contract other parts call (plan INTERFACES: ingest section) is what the package exports."""

from __future__ import annotations

import inspect

import gateway.ingest as ingest_pkg


def test_exports_the_contract_names():
    for name in ("ingest", "message_from_text", "html_to_text", "customer_key", "guess_lang", "normalize_subject",
                 "Limits"):
        assert name in ingest_pkg.__all__
        assert getattr(ingest_pkg, name) is not None
    assert sorted(ingest_pkg.__all__) == ingest_pkg.__all__


def test_entry_point_signatures():
    ingest = inspect.signature(ingest_pkg.ingest)
    assert list(ingest.parameters) == ["raw", "source", "limits"]
    assert ingest.parameters["source"].kind is inspect.Parameter.KEYWORD_ONLY
    assert ingest.parameters["source"].default == "cli"
    from_text = inspect.signature(ingest_pkg.message_from_text)
    assert list(from_text.parameters)[:2] == ["id", "text"]
    for name, default in (("subject", ""), ("sender", ""), ("thread", ""), ("received_at", None), ("lang", None),
                          ("source", "cli"), ("html", False), ("external", None)):
        assert from_text.parameters[name].kind is inspect.Parameter.KEYWORD_ONLY
        assert from_text.parameters[name].default == default
