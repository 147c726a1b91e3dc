"""The notice count's ``=`` terms joined by OR count what ``IN`` lists count, and the render's
context (built with the template's globals here) renders what ``new_context(context)`` renders."""

from __future__ import annotations

from collections import ChainMap
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.drafts import (
    STATES,
    DraftRenderer,
    DraftStore,
    Rendered,
    _with_globals,
    clean_header,
    reply_subject_once,
)
from gateway.policy import Policy
from gateway.store.db import Database

T0 = datetime(2026, 4, 1, 12, 0, tzinfo=timezone.utc)
TEMPLATES = ["warning", "boundary", "answered", "held_received", "Warning", "warning "]
IN_QUERY = ("SELECT COUNT(*) AS n FROM drafts WHERE customer = ? AND created_at >= ? "
            "AND state IN ('pending', 'approved', 'sent')")


def count_with_in(db: Database, customer: str, since: datetime, templates: Any) -> int:
    """The notice count as it was written before: IN lists."""
    from gateway.audit import iso

    if templates:
        sql = IN_QUERY + f" AND template IN ({','.join('?' * len(templates))})"
        return int(db.query_one(sql, (customer, iso(since), *templates))["n"])
    return int(db.query_one(IN_QUERY, (customer, iso(since)))["n"])


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.sampled_from(["a@x", "b@x"]), st.sampled_from(TEMPLATES), st.integers(0, 20),
                          st.sampled_from(STATES)), max_size=12),
       st.lists(st.tuples(st.sampled_from(["a@x", "b@x", "c@x"]), st.integers(0, 21),
                          st.one_of(st.none(), st.lists(st.one_of(st.sampled_from(TEMPLATES), st.integers(0, 2)),
                                                        max_size=4))), min_size=1, max_size=6))
def test_the_notice_count_counts_what_in_lists_count(tmp_path_factory: pytest.TempPathFactory,
                                                      drafts: list[tuple[str, str, int, str]],
                                                      asks: list[tuple[str, int, Any]]) -> None:
    db = Database.open(tmp_path_factory.mktemp("n") / "g.db")
    store = DraftStore(db)
    for i, (customer, template, day, state) in enumerate(drafts):
        draft_id = store.queue(customer, "en", template, "Re: x", "body", message_id=f"m{i}",
                               now=T0 + timedelta(days=day))
        db.conn.execute("UPDATE drafts SET state = ? WHERE id = ?", (state, draft_id))  # any state, directly
    for customer, day, templates in asks:
        since = T0 + timedelta(days=day)
        assert store.count_notices(customer, since, templates) == count_with_in(db, customer, since, templates)
        with db.tx() as c:
            assert store.count_notices(customer, since, templates, conn=c) == count_with_in(db, customer, since,
                                                                                           templates)


def test_with_globals_is_dict_of_the_globals_and_the_context() -> None:
    inner, outer = {"a": 1, "range": "mine"}, {"range": range, "b": 2, "a": 0}
    ctx = {"b": 3, "c": 4}
    for g in (ChainMap(inner, outer), ChainMap(), {"x": 1}, ChainMap(inner, ChainMap(outer))):
        got = _with_globals(g, ctx)
        want = dict(g, **ctx)
        assert list(got.items()) == list(want.items())
    with pytest.raises(TypeError):
        _with_globals(ChainMap(inner), {1: "not a name"})  # as dict(globals, **context) refuses it


def render_with_new_context(renderer: DraftRenderer, name: str, lang: str, context: dict[str, Any]) -> Rendered:
    """``render`` as it was written before: Jinja's ``new_context(dict(context))``."""
    use = renderer.pick_lang(name, lang)
    template = renderer.env.get_template(f"{use}/{name}.j2")
    ctx = template.new_context(dict(context))
    subject = "".join(template.blocks["subject"](ctx))
    body = "".join(template.blocks["body"](ctx))
    return Rendered(reply_subject_once(clean_header(subject)), body.strip() + "\n", use, name)


def test_rendered_drafts_are_what_new_context_renders() -> None:
    renderer = DraftRenderer(Policy.load().templates)
    assert renderer.check() == []
    contexts = [
        {"org_name": "Org", "policy_name": "P", "policy_url": "", "customer_name": "Tom's \"x\"",
         "original_subject": "RE: Re: refund\r\nBcc: x", "reference": "HG-1", "categories": ["insult"]},
        {"org_name": "社", "policy_name": "方針", "policy_url": "https://x/p", "customer_name": "",
         "original_subject": "", "reference": "HG-2", "categories": []},
    ]
    for name in ("warning", "boundary", "answered", "held_received"):
        for lang in ("en", "ja", "ja-JP", "fr", ""):
            for context in contexts:
                assert renderer.render(name, lang, context) == render_with_new_context(renderer, name, lang, context)
