"""Reply drafts: firm, courteous replies from templates, each waiting for a person's approval.

Templates live in ``rules/templates/<lang>/<name>.j2`` and define two blocks, ``subject`` and
``body``. Rendering uses Jinja2 with autoescaping on (customer-supplied values such as a display
name or subject cannot inject markup into the console or an HTML mail), and every header value
(subject, recipients, In-Reply-To, References) has CR/LF and other line breaks replaced so it cannot
inject headers. The customer's language picks the template folder (``ja`` or ``en``; English when
a template is missing in that language).

State machine (anything else raises ``DraftTransitionError``)::

    pending --approve--> approved --mark_sent--> sent
       |  (edit keeps      \\--mark_failed-> failed
       |   it pending)
       \\--discard--> discarded

Nothing is sent unless approved: senders (SMTP, helpdesk connectors) take only ``approved()``
drafts and report back with ``mark_sent`` / ``mark_failed``. Every action is audited.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
from collections import ChainMap
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import jinja2

from gateway.audit import AuditLog, iso, json_text, parse_iso, transaction, utcnow
from gateway.errors import PolicyError
from gateway.store.db import Database, register_schema

STATES: tuple[str, ...] = ("pending", "approved", "sent", "failed", "discarded")
LANGS: tuple[str, ...] = ("en", "ja")
DEFAULT_LANG = "en"

#: state -> {verb: next state}
TRANSITIONS: dict[str, dict[str, str]] = {
    "pending": {"edit": "pending", "approve": "approved", "discard": "discarded"},
    "approved": {"mark_sent": "sent", "mark_failed": "failed"},
    "sent": {},
    "failed": {},
    "discarded": {},
}

register_schema(
    "drafts",
    [
        """
        CREATE TABLE drafts (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            customer TEXT NOT NULL,
            thread TEXT NOT NULL DEFAULT '',
            source TEXT NOT NULL DEFAULT '',
            message_id TEXT NOT NULL DEFAULT '',
            lang TEXT NOT NULL,
            template TEXT NOT NULL,
            rule TEXT NOT NULL DEFAULT '',
            to_address TEXT NOT NULL DEFAULT '',
            subject TEXT NOT NULL,
            body TEXT NOT NULL,
            in_reply_to TEXT NOT NULL DEFAULT '',
            refs TEXT NOT NULL DEFAULT '',
            external TEXT NOT NULL DEFAULT '{}',
            state TEXT NOT NULL,
            edited INTEGER NOT NULL DEFAULT 0,
            original_subject TEXT NOT NULL,
            original_body TEXT NOT NULL,
            created_at TEXT NOT NULL,
            created_by TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            edited_at TEXT,
            edited_by TEXT,
            decided_at TEXT,
            decided_by TEXT,
            decision_reason TEXT,
            sent_at TEXT,
            error TEXT
        );
        CREATE INDEX drafts_state ON drafts(state, id);
        CREATE INDEX drafts_customer ON drafts(customer, created_at);
        CREATE INDEX drafts_message ON drafts(message_id, template)
        """
    ],
)

_LINE_BREAKS = re.compile(r"[\r\n\v\f\x1c\x1d\x1e\x85\u2028\u2029]+")


class DraftError(PolicyError):
    """A draft request that cannot be carried out (unknown id, missing template, empty body)."""


class DraftTransitionError(DraftError):
    """The draft is not in a state that allows this action (e.g. approving a discarded draft)."""


_STACKED_REPLY = re.compile(r"^(?:(?:re|aw|sv|返信)\s*[:：]\s*){2,}", re.IGNORECASE)


def reply_subject_once(subject: str) -> str:
    """A template writes ``Re: {{ original_subject }}``; when the customer's subject already
    starts with a reply prefix (``RE: Re: Refund``) the stack collapses to one ``Re: ``."""
    return _STACKED_REPLY.sub("Re: ", subject)


def clean_header(value: str) -> str:
    """A header value on one line: CR, LF and other line breaks become a space, runs of
    whitespace collapse, the ends are trimmed. Stops header injection through a subject."""
    return " ".join(_LINE_BREAKS.sub(" ", value or "").split())


_BLOCKS_MISSING = "template {} must define blocks 'subject' and 'body'"


def _template_error(path: str, exc: jinja2.TemplateError) -> str:
    """What is wrong with template ``path`` (``en/warning.j2``), with the line when Jinja knows it."""
    line = getattr(exc, "lineno", None)
    return f"template {path}{f' line {line}' if line else ''}: {exc}"


def _with_globals(template_globals: Mapping[str, Any], context: dict[str, Any]) -> dict[str, Any]:
    """``dict(template_globals, **context)``: the parent dict ``Template.new_context(context)``
    builds (the template's globals, then the values; with ``shared=True`` Jinja takes the dict as
    it is). Jinja's template globals are a ChainMap of dicts, which ``dict()`` reads key by key
    through the ChainMap's Python lookups; here its maps are merged whole, last map first, which
    gives the same keys, values and order."""
    if type(template_globals) is ChainMap and all(type(m) is dict for m in template_globals.maps):
        merged: dict[str, Any] = {}
        for mapping in reversed(template_globals.maps):
            merged.update(mapping)
    else:
        merged = dict(template_globals or ())
    merged.update(**context)
    return merged


@dataclass(frozen=True)
class Rendered:
    subject: str
    body: str
    lang: str
    template: str


class DraftRenderer:
    """Renders ``rules/templates/<lang>/<name>.j2``. Missing variables are errors (StrictUndefined),
    so a typo in a template shows at the first render rather than as a blank in a customer's reply.

    The result is the body of a text/plain mail, so nothing is HTML-escaped here (``Tom's order``
    must not reach the customer as ``Tom&#39;s order``); the console escapes it when it shows it.
    Header values are cleaned of line breaks by ``render``."""

    def __init__(self, templates_dir: Path) -> None:
        self.templates_dir = Path(templates_dir)
        self._dir = str(self.templates_dir)
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(str(self.templates_dir)),
            autoescape=False,
            undefined=jinja2.StrictUndefined,
            keep_trailing_newline=False,
            trim_blocks=True,
            lstrip_blocks=True,
        )

    def check(self) -> list[str]:
        """Compile every reply template (``<lang>/<name>.j2`` for each language directory) and
        return what is wrong with each that cannot be used, in the words ``render`` would raise;
        the good ones stay compiled, so the first draft does not pay for it. The daemon calls this
        at start and logs each problem: a broken template is known before the first reply needs it
        (``render`` still reports it then, as a draft error)."""
        problems: list[str] = []
        for lang in LANGS:
            folder = self.templates_dir / lang
            if not folder.is_dir():
                continue
            for path in sorted(folder.glob("*.j2")):
                try:
                    template = self.env.get_template(f"{lang}/{path.name}")
                except jinja2.TemplateError as exc:
                    problems.append(_template_error(f"{lang}/{path.name}", exc))
                    continue
                if "subject" not in template.blocks or "body" not in template.blocks:
                    problems.append(_BLOCKS_MISSING.format(f"{lang}/{path.name}"))
        return problems

    def available(self, name: str, lang: str) -> bool:
        # os.path on a string: the same check without building Path objects (once per draft)
        return os.path.isfile(f"{self._dir}{os.sep}{lang}{os.sep}{name}.j2")

    def pick_lang(self, name: str, lang: str) -> str:
        """The customer's language when the template exists in it, else English."""
        lang = (lang or DEFAULT_LANG).lower().replace("_", "-").split("-")[0]  # ja-JP -> ja
        return lang if lang in LANGS and self.available(name, lang) else DEFAULT_LANG

    def render(self, name: str, lang: str, context: dict[str, Any]) -> Rendered:
        """Render template ``name`` in the customer's language. The subject is cleaned of line
        breaks; the body keeps its lines. Raises ``DraftError`` when the template is missing or broken."""
        use = self.pick_lang(name, lang)
        try:
            template = self.env.get_template(f"{use}/{name}.j2")
            if "subject" not in template.blocks or "body" not in template.blocks:
                raise DraftError(_BLOCKS_MISSING.format(f"{use}/{name}.j2"))
            # template.new_context(dict(context)), with its parent dict built here (see _with_globals)
            ctx = template.new_context(_with_globals(template.globals, context), shared=True)
            subject = "".join(template.blocks["subject"](ctx))
            body = "".join(template.blocks["body"](ctx))
        except jinja2.TemplateNotFound as exc:
            raise DraftError(f"no reply template {name!r} in {self.templates_dir / use}") from exc
        except jinja2.TemplateError as exc:
            raise DraftError(_template_error(f"{use}/{name}.j2", exc)) from exc
        return Rendered(reply_subject_once(clean_header(subject)), body.strip() + "\n", use, name)


@dataclass
class Draft:
    id: int
    customer: str
    thread: str
    source: str
    message_id: str
    lang: str
    template: str
    rule: str
    to_address: str
    subject: str
    body: str
    in_reply_to: str
    references: str
    external: dict[str, Any]
    state: str
    edited: bool
    original_subject: str
    original_body: str
    created_at: datetime
    created_by: str
    updated_at: datetime
    edited_at: datetime | None
    edited_by: str | None
    decided_at: datetime | None
    decided_by: str | None
    decision_reason: str | None
    sent_at: datetime | None
    error: str | None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for k, v in self.__dict__.items():
            out[k] = iso(v) if isinstance(v, datetime) else v
        return out


class DraftStore:
    """Drafts in the SQLite store; each write is audited in the same transaction.

    Write methods take ``now`` (default: wall clock) and ``conn`` (join an open transaction).
    """

    def __init__(self, db: Database, audit: AuditLog | None = None) -> None:
        self.db = db
        db.migrate()
        self.audit = audit or AuditLog(db)

    def create(self, customer: str, lang: str, template: str, subject: str, body: str, *,
               conn: sqlite3.Connection | None = None, **fields: Any) -> Draft:
        """Queue a pending draft (``queue``'s arguments) and return it. Creating the same template
        for the same message again returns the existing draft (re-deliveries do not queue
        duplicates)."""
        with transaction(self.db, conn) as c:
            return self._load(c, self.queue(customer, lang, template, subject, body, conn=c, **fields))

    def queue(
        self,
        customer: str,
        lang: str,
        template: str,
        subject: str,
        body: str,
        *,
        to_address: str = "",
        thread: str = "",
        source: str = "",
        message_id: str = "",
        in_reply_to: str = "",
        references: str = "",
        rule: str = "",
        external: dict[str, Any] | None = None,
        actor: str = "policy",
        now: datetime | None = None,
        conn: sqlite3.Connection | None = None,
    ) -> int:
        """``create`` returning the draft's id only, without reading the draft back (what the
        pipeline's effects need)."""
        if not customer:
            raise DraftError("a draft needs a customer")
        if not body.strip():
            raise DraftError("a draft needs a body")
        now = now or utcnow()
        subject = clean_header(subject)
        with transaction(self.db, conn) as c:
            if message_id:
                row = c.execute("SELECT id FROM drafts WHERE message_id = ? AND template = ? ORDER BY id LIMIT 1",
                                (message_id, template)).fetchone()
                if row is not None:
                    return int(row["id"])
            cur = c.execute(
                "INSERT INTO drafts(customer, thread, source, message_id, lang, template, rule, to_address, subject, "
                "body, in_reply_to, refs, external, state, original_subject, original_body, created_at, created_by, "
                "updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (customer, thread, source, message_id, lang, template, rule, clean_header(to_address), subject, body,
                 clean_header(in_reply_to), clean_header(references), json_text(external or {}),
                 "pending", subject, body, iso(now), actor, iso(now)),
            )
            draft_id = int(cur.lastrowid)  # type: ignore[arg-type]
            self.audit.add(actor, "draft.create", f"draft:{draft_id}", f"template {lang}/{template} ({rule})",
                           {"customer": customer, "message_id": message_id, "template": template, "lang": lang,
                            "subject": subject}, at=now, conn=c)
            return draft_id

    def edit(self, draft_id: int, actor: str, *, body: str | None = None, subject: str | None = None,
             reason: str = "", now: datetime | None = None, conn: sqlite3.Connection | None = None) -> Draft:
        """Change a pending draft's body and/or subject; it stays pending. The original text is kept."""
        return self._do(draft_id, "edit", actor, reason or "edited", now, conn, body=body, subject=subject)

    def approve(self, draft_id: int, actor: str, *, body: str | None = None, subject: str | None = None,
                reason: str = "", now: datetime | None = None, conn: sqlite3.Connection | None = None) -> Draft:
        """pending -> approved; with ``body``/``subject`` it is edit-then-approve in one step."""
        return self._do(draft_id, "approve", actor, reason or "approved", now, conn, body=body, subject=subject)

    def discard(self, draft_id: int, actor: str, reason: str = "", *, now: datetime | None = None,
                conn: sqlite3.Connection | None = None) -> Draft:
        """pending -> discarded; nothing will be sent."""
        return self._do(draft_id, "discard", actor, reason or "discarded", now, conn)

    def mark_sent(self, draft_id: int, *, actor: str = "system", detail: str = "", now: datetime | None = None,
                  conn: sqlite3.Connection | None = None) -> Draft:
        """approved -> sent (the sender delivered it; ``detail`` e.g. the SMTP queue id)."""
        return self._do(draft_id, "mark_sent", actor, detail or "sent", now, conn)

    def mark_failed(self, draft_id: int, error: str, *, actor: str = "system", now: datetime | None = None,
                    conn: sqlite3.Connection | None = None) -> Draft:
        """approved -> failed, keeping the sender's error."""
        return self._do(draft_id, "mark_failed", actor, error or "failed", now, conn, error=error or "failed")

    def _do(self, draft_id: int, verb: str, actor: str, reason: str, now: datetime | None,
            conn: sqlite3.Connection | None, *, body: str | None = None, subject: str | None = None,
            error: str | None = None) -> Draft:
        if not actor or not actor.strip():
            raise DraftError("who is acting? an actor name is required")
        actor = actor.strip()
        if body is not None and not body.strip():
            raise DraftError("a draft body cannot be empty")
        now = now or utcnow()
        with transaction(self.db, conn) as c:
            row = c.execute("SELECT * FROM drafts WHERE id = ?", (int(draft_id),)).fetchone()
            if row is None:
                raise DraftError(f"no draft with id {draft_id}")
            state = row["state"]
            target = TRANSITIONS[state].get(verb)
            if target is None:
                allowed = ", ".join(TRANSITIONS[state]) or "nothing (it is closed)"
                raise DraftTransitionError(f"draft {draft_id} is {state}: cannot {verb.replace('_', ' ')} it "
                                           f"(allowed: {allowed})")
            evidence: dict[str, Any] = {"from": state, "to": target, "customer": row["customer"]}
            new_body = row["body"] if body is None else body
            new_subject = row["subject"] if subject is None else clean_header(subject)
            changed = new_body != row["body"] or new_subject != row["subject"]
            if changed:
                c.execute("UPDATE drafts SET body = ?, subject = ?, edited = 1, edited_at = ?, edited_by = ? "
                          "WHERE id = ?", (new_body, new_subject, iso(now), actor, row["id"]))
                evidence["edited"] = True
                evidence["subject"] = new_subject
            c.execute("UPDATE drafts SET state = ?, updated_at = ? WHERE id = ?", (target, iso(now), row["id"]))
            if verb in ("approve", "discard"):
                c.execute("UPDATE drafts SET decided_at = ?, decided_by = ?, decision_reason = ? WHERE id = ?",
                          (iso(now), actor, reason, row["id"]))
            elif verb == "mark_sent":
                c.execute("UPDATE drafts SET sent_at = ? WHERE id = ?", (iso(now), row["id"]))
            elif verb == "mark_failed":
                c.execute("UPDATE drafts SET error = ? WHERE id = ?", (error, row["id"]))
            self.audit.add(actor, f"draft.{verb}", f"draft:{row['id']}", reason, evidence, at=now, conn=c)
            return self._load(c, int(draft_id))

    # -- reading --------------------------------------------------------------------------------

    def get(self, draft_id: int) -> Draft:
        row = self.db.query_one("SELECT * FROM drafts WHERE id = ?", (int(draft_id),))
        if row is None:
            raise DraftError(f"no draft with id {draft_id}")
        return _draft(row)

    def list(self, *, state: str | None = None, customer: str | None = None, limit: int | None = None) -> list[Draft]:
        """Drafts, newest first, optionally by ``state`` and ``customer``."""
        if state is not None and state not in STATES:
            raise DraftError(f"unknown draft state {state!r}; use one of {', '.join(STATES)}")
        rows = self.db.select("drafts", where={"state": state, "customer": customer}, order="id DESC", limit=limit)
        return [_draft(r) for r in rows]

    def pending(self) -> list[Draft]:
        """Drafts waiting for an agent, oldest first (the console's drafts queue)."""
        return [_draft(r) for r in self.db.query("SELECT * FROM drafts WHERE state = 'pending' ORDER BY id")]

    def approved(self) -> list[Draft]:
        """Approved drafts not yet sent, oldest first: the only drafts a sender may deliver."""
        return [_draft(r) for r in self.db.query("SELECT * FROM drafts WHERE state = 'approved' ORDER BY id")]

    def for_customer(self, customer: str) -> list[Draft]:
        return [_draft(r) for r in self.db.query("SELECT * FROM drafts WHERE customer = ? ORDER BY id", (customer,))]

    def count_notices(self, customer: str, since: datetime, templates: list[str] | tuple[str, ...] | None = None,
                      *, conn: sqlite3.Connection | None = None) -> int:
        """How many drafts (pending, approved or sent; not discarded or failed) of ``templates`` the
        customer got since ``since``: the per-customer notice cap reads this."""
        if templates:
            sql = _COUNT_NOTICES_IN.get(len(templates))
            if sql is None:  # one statement text per number of templates
                # ``template IN (?, ...)`` spelled as ``=`` terms joined by OR: the same rows (the
                # column's affinity applies to each bound value alike), without the temporary
                # table SQLite builds for an IN list at every execution
                sql = _COUNT_NOTICES + f" AND ({' OR '.join(['template = ?'] * len(templates))})"
                if len(_COUNT_NOTICES_IN) < 32:
                    _COUNT_NOTICES_IN[len(templates)] = sql
            params: tuple[Any, ...] = (customer, iso(since), *templates)
        else:
            sql, params = _COUNT_NOTICES, (customer, iso(since))
        if conn is not None:
            row = conn.execute(sql, params).fetchone()
        else:
            row = self.db.query_one(sql, params)
        return int(row["n"]) if row else 0

    def _load(self, c: sqlite3.Connection, draft_id: int) -> Draft:
        row = c.execute("SELECT * FROM drafts WHERE id = ?", (draft_id,)).fetchone()
        if row is None:
            raise DraftError(f"no draft with id {draft_id}")
        return _draft(row)


#: (``state IN ('pending', 'approved', 'sent')``, as ``=`` terms: see ``count_notices``)
_COUNT_NOTICES = ("SELECT COUNT(*) AS n FROM drafts WHERE customer = ? AND created_at >= ? "
                  "AND (state = 'pending' OR state = 'approved' OR state = 'sent')")
#: ``_COUNT_NOTICES`` with ``AND (template = ? OR ...)``, by the number of templates.
_COUNT_NOTICES_IN: dict[int, str] = {}


def _draft(row: sqlite3.Row) -> Draft:
    return Draft(
        id=row["id"], customer=row["customer"], thread=row["thread"], source=row["source"],
        message_id=row["message_id"], lang=row["lang"], template=row["template"], rule=row["rule"],
        to_address=row["to_address"], subject=row["subject"], body=row["body"], in_reply_to=row["in_reply_to"],
        references=row["refs"], external=json.loads(row["external"]), state=row["state"], edited=bool(row["edited"]),
        original_subject=row["original_subject"], original_body=row["original_body"],
        created_at=parse_iso(row["created_at"]), created_by=row["created_by"],  # type: ignore[arg-type]
        updated_at=parse_iso(row["updated_at"]), edited_at=parse_iso(row["edited_at"]),  # type: ignore[arg-type]
        edited_by=row["edited_by"], decided_at=parse_iso(row["decided_at"]), decided_by=row["decided_by"],
        decision_reason=row["decision_reason"], sent_at=parse_iso(row["sent_at"]), error=row["error"],
    )
