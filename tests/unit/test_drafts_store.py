"""DraftStore and DraftRenderer: approval before sending, the state machine, plain text, header safety."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.audit import AuditLog
from gateway.drafts import DraftError, DraftRenderer, DraftStore, DraftTransitionError, clean_header
from gateway.resources import rules_dir
from gateway.store.db import Database

CTX = {"org_name": "Acme Support", "policy_name": "Customer Harassment Policy", "policy_url": "",
       "customer_name": "Pat", "original_subject": "Order 42", "reference": "HG-1",
       "categories": ["staff_punishment_demand"]}


@pytest.fixture
def db(tmp_path: Path) -> Database:
    return Database.open(tmp_path / "gateway.db")


@pytest.fixture
def drafts(db: Database) -> DraftStore:
    return DraftStore(db)


@pytest.fixture(scope="module")
def renderer() -> DraftRenderer:
    return DraftRenderer(rules_dir() / "templates")


def make(drafts: DraftStore, **kw: object):
    args = dict(customer="c@example.com", lang="en", template="warning", subject="Re: Order 42",
                body="Dear Pat,\n...", to_address="c@example.com", message_id="m1", rule="verbal_abuse.warning")
    args.update(kw)
    return drafts.create(**args)  # type: ignore[arg-type]


# -- rendering ----------------------------------------------------------------------------------

@pytest.mark.parametrize("lang", ["en", "ja"])
@pytest.mark.parametrize("name", ["warning", "boundary", "answered"])
def test_every_shipped_template_renders_and_names_the_policy(renderer: DraftRenderer, name: str, lang: str) -> None:
    r = renderer.render(name, lang, CTX)
    assert r.lang == lang and r.subject == "Re: Order 42"
    assert "Customer Harassment Policy" in r.body and "Acme Support" in r.body and "HG-1" in r.body
    # firm, but admits no fault
    for admission in ("we apologize for our mistake", "our fault", "申し訳ございませんでした"):
        assert admission not in r.body.lower()


def test_boundary_template_names_the_refused_demand(renderer: DraftRenderer) -> None:
    assert "dismissal or punishment" in renderer.render("boundary", "en", CTX).body
    assert "解雇" in renderer.render("boundary", "ja", CTX).body


def test_customer_values_stay_plain_text_for_a_text_mail(renderer: DraftRenderer) -> None:
    # Drafts go out as text/plain: HTML entities would reach the customer literally.
    ctx = dict(CTX, customer_name="O'Brien & Sons", original_subject="Tom's order <42>")
    r = renderer.render("warning", "en", ctx)
    assert "O'Brien & Sons" in r.body and "&#39;" not in r.body and "&amp;" not in r.body
    assert r.subject == "Re: Tom's order <42>"


def test_subject_is_stripped_of_cr_lf(renderer: DraftRenderer) -> None:
    ctx = dict(CTX, original_subject="Order 42\r\nBcc: victim@example.com\nX-Evil: 1")
    r = renderer.render("answered", "en", ctx)
    assert "\r" not in r.subject and "\n" not in r.subject
    assert r.subject == "Re: Order 42 Bcc: victim@example.com X-Evil: 1"


def test_unknown_language_falls_back_to_english(renderer: DraftRenderer) -> None:
    assert renderer.render("warning", "fr", CTX).lang == "en"
    assert renderer.render("warning", "ja-JP", CTX).lang == "ja"


def test_missing_template_and_missing_variable_are_clear_errors(renderer: DraftRenderer, tmp_path: Path) -> None:
    with pytest.raises(DraftError, match="no reply template 'nope'"):
        renderer.render("nope", "en", CTX)
    (tmp_path / "en").mkdir()
    (tmp_path / "en" / "t.j2").write_text("{% block subject %}x{% endblock %}{% block body %}{{ missing }}{% endblock %}")
    with pytest.raises(DraftError, match="missing"):
        DraftRenderer(tmp_path).render("t", "en", CTX)


def test_check_compiles_every_template_and_names_each_unusable_one(tmp_path: Path) -> None:
    """``check`` (the daemon's start): the shipped templates are all usable; a template that does
    not parse or lacks a block is named with what ``render`` would say, the good ones still render,
    and a problem found at start is still a draft error at render time."""
    assert DraftRenderer(rules_dir() / "templates").check() == []
    (tmp_path / "en").mkdir()
    (tmp_path / "ja").mkdir()
    (tmp_path / "en" / "good.j2").write_text("{% block subject %}Re: {{ original_subject }}{% endblock %}"
                                             "{% block body %}Dear {{ customer_name }}{% endblock %}")
    (tmp_path / "en" / "broken.j2").write_text("{% block subject %}x{% endblock %}\n{% block body %}{% if %}{% endblock %}")
    (tmp_path / "ja" / "bodyless.j2").write_text("{% block subject %}x{% endblock %}")
    renderer = DraftRenderer(tmp_path)
    problems = renderer.check()
    assert len(problems) == 2
    assert problems[0].startswith("template en/broken.j2 line 2: ")
    assert problems[1] == "template ja/bodyless.j2 must define blocks 'subject' and 'body'"
    assert renderer.render("good", "en", CTX).body == "Dear Pat\n"
    with pytest.raises(DraftError, match="template en/broken.j2 line 2"):
        renderer.render("broken", "en", CTX)


@pytest.mark.parametrize("raw,clean", [("a\r\nb", "a b"), ("a\nb\rc", "a b c"), ("a\u2028b", "a b"),
                                       ("  a \t b  ", "a b"), ("", "")])
def test_clean_header(raw: str, clean: str) -> None:
    assert clean_header(raw) == clean


# -- the store ---------------------------------------------------------------------------------------

def test_header_values_are_stored_without_line_breaks(drafts: DraftStore) -> None:
    d = make(drafts, subject="Hi\r\nBcc: x@example.com", to_address="c@example.com\r\nCc: y@example.com",
             in_reply_to="<a@b>\n", references="<a@b>\r\n<c@d>")
    assert d.subject == "Hi Bcc: x@example.com" and "\n" not in d.to_address
    assert d.in_reply_to == "<a@b>" and d.references == "<a@b> <c@d>"
    edited = drafts.edit(d.id, "agent", subject="New\r\nBcc: z@example.com")
    assert edited.subject == "New Bcc: z@example.com"


def test_nothing_is_sendable_until_approved(drafts: DraftStore) -> None:
    d = make(drafts)
    assert drafts.approved() == [] and [x.id for x in drafts.pending()] == [d.id]
    with pytest.raises(DraftTransitionError, match="pending: cannot mark sent"):
        drafts.mark_sent(d.id)
    drafts.approve(d.id, "agent.kim")
    assert [x.id for x in drafts.approved()] == [d.id]
    sent = drafts.mark_sent(d.id, detail="250 queued")
    assert sent.state == "sent" and sent.sent_at is not None and drafts.approved() == []


def test_edit_then_approve_keeps_the_original(drafts: DraftStore) -> None:
    d = make(drafts, body="original text")
    a = drafts.approve(d.id, "agent.kim", body="edited text", reason="softened wording")
    assert a.state == "approved" and a.body == "edited text" and a.edited
    assert a.original_body == "original text" and a.edited_by == "agent.kim" and a.decided_by == "agent.kim"


def test_discarded_draft_is_never_sent(drafts: DraftStore) -> None:
    d = make(drafts)
    drafts.discard(d.id, "agent.kim", "customer already answered by phone")
    assert drafts.approved() == []
    for step in (lambda: drafts.approve(d.id, "agent"), lambda: drafts.mark_sent(d.id),
                 lambda: drafts.edit(d.id, "agent", body="x")):
        with pytest.raises(DraftTransitionError):
            step()


@pytest.mark.parametrize("path,verb", [
    (["approve"], "approve"), (["approve"], "discard"), (["approve"], "edit"),
    (["approve", "mark_sent"], "mark_failed"), (["approve", "mark_failed"], "mark_sent"),
    ([], "mark_failed"),
])
def test_illegal_draft_transitions(drafts: DraftStore, path: list[str], verb: str) -> None:
    d = make(drafts)
    for step in path:
        {"approve": lambda: drafts.approve(d.id, "agent"), "mark_sent": lambda: drafts.mark_sent(d.id),
         "mark_failed": lambda: drafts.mark_failed(d.id, "550 no such user")}[step]()
    state = drafts.get(d.id).state
    with pytest.raises(DraftTransitionError):
        {"approve": lambda: drafts.approve(d.id, "agent"), "discard": lambda: drafts.discard(d.id, "agent"),
         "edit": lambda: drafts.edit(d.id, "agent", body="b"), "mark_sent": lambda: drafts.mark_sent(d.id),
         "mark_failed": lambda: drafts.mark_failed(d.id, "x")}[verb]()
    assert drafts.get(d.id).state == state


def test_failed_sending_keeps_the_error(drafts: DraftStore) -> None:
    d = make(drafts)
    drafts.approve(d.id, "agent")
    assert drafts.mark_failed(d.id, "550 mailbox unavailable").error == "550 mailbox unavailable"


def test_same_template_for_same_message_is_not_queued_twice(drafts: DraftStore) -> None:
    assert make(drafts).id == make(drafts).id
    assert make(drafts, template="boundary").id != make(drafts).id


def test_empty_body_and_unknown_draft_are_errors(drafts: DraftStore) -> None:
    with pytest.raises(DraftError, match="body"):
        make(drafts, body="  ")
    d = make(drafts)
    with pytest.raises(DraftError, match="empty"):
        drafts.approve(d.id, "agent", body="")
    with pytest.raises(DraftError, match="no draft with id 404"):
        drafts.get(404)


def test_notice_count_ignores_discarded_drafts(drafts: DraftStore) -> None:
    from datetime import datetime, timedelta, timezone

    a = make(drafts, message_id="m1")
    make(drafts, message_id="m2", template="boundary")
    since = datetime.now(timezone.utc) - timedelta(days=1)
    assert drafts.count_notices("c@example.com", since, ["warning", "boundary"]) == 2
    drafts.discard(a.id, "agent")
    assert drafts.count_notices("c@example.com", since, ["warning", "boundary"]) == 1
    assert drafts.count_notices("c@example.com", since, ["answered"]) == 0


def test_every_draft_action_is_audited(db: Database, drafts: DraftStore) -> None:
    d = make(drafts)
    drafts.edit(d.id, "agent.kim", body="v2")
    drafts.approve(d.id, "lead.ana")
    drafts.mark_sent(d.id)
    actions = [(e.actor, e.action) for e in AuditLog(db).entries(subject=f"draft:{d.id}")]
    assert actions == [("policy", "draft.create"), ("agent.kim", "draft.edit"), ("lead.ana", "draft.approve"),
                       ("system", "draft.mark_sent")]


def test_reply_prefixes_do_not_stack_in_a_draft_subject():
    from gateway.drafts import reply_subject_once

    assert reply_subject_once("Re: RE: your so-called support") == "Re: your so-called support"
    assert reply_subject_once("Re: Re: Re: Refund NOW") == "Re: Refund NOW"
    assert reply_subject_once("Re: 返信: 謝罪を要求します") == "Re: 謝罪を要求します"
    assert reply_subject_once("Re: Order 1234") == "Re: Order 1234"
    assert reply_subject_once("Re: Regarding my order") == "Re: Regarding my order"
