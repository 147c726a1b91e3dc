"""Core effects: what a Decision changes in the gateway's own store.

For each message, in one transaction: the decision is recorded (``decisions``), a hold is proposed
or applied, leads are escalated to (``escalations``, which the daemon's notifier reads), a reply
draft is rendered and queued, and the audit log gets an entry. Idempotent per message id: applying
the same message again returns what was done the first time and changes nothing, so at-least-once
ingestion never doubles a hold, a draft or an audit entry.

Shadow decisions are recorded and audited, but create no hold, escalation or draft.
The per-customer notice cap (policy ``notices:``) is enforced here, where the drafts are: a draft
beyond the cap is not queued and the suppression is audited.

Mailbox and helpdesk effects (IMAP keywords, tags, private notes) belong to the daemon and the
connectors; they read the Decision.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from gateway.audit import (
    AuditLog,
    canonical_json,
    iso,
    json_ascii,
    json_text,
    parse_iso,
    transaction,
    utcnow,
)
from gateway.drafts import DraftError, DraftRenderer, DraftStore
from gateway.holds import SCOPES, HoldError, HoldStore, active_scopes_of
from gateway.model import Decision, Finding, Message
from gateway.policy import Policy
from gateway.store.db import Database, register_schema

register_schema(
    "effects",
    [
        """
        CREATE TABLE decisions (
            message_id TEXT PRIMARY KEY,
            customer TEXT NOT NULL,
            thread TEXT NOT NULL DEFAULT '',
            source TEXT NOT NULL DEFAULT '',
            subject TEXT NOT NULL DEFAULT '',
            sender_address TEXT NOT NULL DEFAULT '',
            lang TEXT NOT NULL DEFAULT '',
            received_at TEXT,
            decided_at TEXT NOT NULL,
            content_hash TEXT NOT NULL DEFAULT '',
            text_sha256 TEXT NOT NULL,
            findings TEXT NOT NULL,
            decision TEXT NOT NULL,
            report TEXT NOT NULL
        );
        CREATE INDEX decisions_customer ON decisions(customer, received_at);
        CREATE TABLE escalations (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            message_id TEXT NOT NULL,
            customer TEXT NOT NULL,
            recipients TEXT NOT NULL,
            priority TEXT NOT NULL,
            rules TEXT NOT NULL,
            categories TEXT NOT NULL,
            hold_id INTEGER,
            created_at TEXT NOT NULL,
            state TEXT NOT NULL DEFAULT 'open',
            notified_at TEXT,
            acknowledged_at TEXT,
            acknowledged_by TEXT
        );
        CREATE INDEX escalations_state ON escalations(state, id)
        """
    ],
)


@dataclass
class EffectsReport:
    """What the effects did for one message (stored with the decision)."""

    message_id: str
    hold_id: int | None = None
    hold_state: str | None = None
    escalation_id: int | None = None
    draft_id: int | None = None
    suppressed: list[str] = field(default_factory=list)  # actions not carried out, with why
    errors: list[str] = field(default_factory=list)
    replayed: bool = False  # true when the message had been applied before (nothing changed)

    def to_json(self) -> dict[str, Any]:
        return {"message_id": self.message_id, "hold_id": self.hold_id, "hold_state": self.hold_state,
                "escalation_id": self.escalation_id, "draft_id": self.draft_id,
                "suppressed": list(self.suppressed), "errors": list(self.errors)}

    @classmethod
    def from_json(cls, data: dict[str, Any], *, replayed: bool = False) -> "EffectsReport":
        return cls(data["message_id"], data.get("hold_id"), data.get("hold_state"), data.get("escalation_id"),
                   data.get("draft_id"), list(data.get("suppressed", [])), list(data.get("errors", [])), replayed)


@dataclass
class DecisionRecord:
    """A recorded decision: the message's identity and hashes, its findings, the decision, the report."""

    message_id: str
    customer: str
    thread: str
    source: str
    subject: str
    sender_address: str
    lang: str
    received_at: datetime | None
    decided_at: datetime
    content_hash: str
    text_sha256: str
    findings: list[Finding]
    decision: dict[str, Any]
    report: EffectsReport

    def to_json(self) -> dict[str, Any]:
        return {
            "message_id": self.message_id, "customer": self.customer, "thread": self.thread,
            "source": self.source, "subject": self.subject, "sender_address": self.sender_address,
            "lang": self.lang, "received_at": iso(self.received_at) if self.received_at else None,
            "decided_at": iso(self.decided_at), "content_hash": self.content_hash,
            "text_sha256": self.text_sha256, "findings": [f.to_json() for f in self.findings],
            "decision": self.decision, "effects": self.report.to_json(),
        }


@dataclass
class Escalation:
    id: int
    message_id: str
    customer: str
    recipients: list[str]
    priority: str
    rules: list[str]
    categories: list[str]
    hold_id: int | None
    created_at: datetime
    state: str  # open | notified | acknowledged
    notified_at: datetime | None
    acknowledged_at: datetime | None
    acknowledged_by: str | None

    def to_json(self) -> dict[str, Any]:
        return {k: (iso(v) if isinstance(v, datetime) else v) for k, v in self.__dict__.items()}


class DecisionLog:
    """Read side of the recorded decisions (console customer page, case export)."""

    def __init__(self, db: Database) -> None:
        self.db = db
        db.migrate()

    def get(self, message_id: str) -> DecisionRecord | None:
        row = self.db.query_one("SELECT * FROM decisions WHERE message_id = ?", (message_id,))
        return _record(row) if row else None

    def for_customer(self, customer: str) -> list[DecisionRecord]:
        """The customer's decisions in the order the messages arrived."""
        rows = self.db.query("SELECT * FROM decisions WHERE customer = ? ORDER BY received_at, decided_at",
                             (customer,))
        return [_record(r) for r in rows]

    def recent(self, limit: int = 50, *, flagged_only: bool = False) -> list[DecisionRecord]:
        """Newest decisions first; ``flagged_only`` keeps those that tagged or acted."""
        sql = "SELECT * FROM decisions"
        if flagged_only:
            sql += " WHERE findings != '[]'"
        sql += " ORDER BY decided_at DESC LIMIT ?"
        return [_record(r) for r in self.db.query(sql, (int(limit),))]


class EscalationStore:
    """Escalations to leads/legal. The daemon's notifier takes ``open()`` ones and marks them notified."""

    def __init__(self, db: Database, audit: AuditLog | None = None) -> None:
        self.db = db
        db.migrate()
        self.audit = audit or AuditLog(db)

    def create(self, message_id: str, customer: str, recipients: list[str], priority: str, rules: list[str],
               categories: list[str], *, hold_id: int | None = None, now: datetime | None = None,
               conn: sqlite3.Connection | None = None) -> int:
        now = now or utcnow()
        shape = _escalation_shape(message_id, customer, recipients, priority, rules, categories, hold_id)
        with transaction(self.db, conn) as c:
            if shape is None:
                cur = c.execute(
                    "INSERT INTO escalations(message_id, customer, recipients, priority, rules, categories, hold_id, "
                    "created_at) VALUES (?,?,?,?,?,?,?,?)",
                    (message_id, customer, json_ascii(recipients), priority, json_ascii(rules),
                     json_ascii(categories), hold_id, iso(now)))
                esc_id = int(cur.lastrowid)  # type: ignore[arg-type]
                self.audit.add("policy", "escalation.create", f"escalation:{esc_id}",
                               f"escalated to {', '.join(recipients)} ({priority})",
                               {"message_id": message_id, "customer": customer, "rules": rules,
                                "categories": categories, "hold_id": hold_id}, at=now, conn=c)
                return esc_id
            # the same row and entry, from the texts cached for the escalation's shape
            now_text = iso(now)
            cur = c.execute(
                "INSERT INTO escalations(message_id, customer, recipients, priority, rules, categories, hold_id, "
                "created_at) VALUES (?,?,?,?,?,?,?,?)",
                (message_id, customer, shape.recipients, priority, shape.rules, shape.categories, hold_id, now_text))
            esc_id = int(cur.lastrowid)  # type: ignore[arg-type]
            e = shape.evidence
            self.audit.append_json(
                "policy", "escalation.create", f"escalation:{esc_id}", shape.reason,
                "".join((e[0], _str_text(customer), e[1], "null" if hold_id is None else str(hold_id), e[2],
                         _str_text(message_id), e[3])),
                at_text=now_text, conn=c)
            return esc_id

    def get(self, esc_id: int) -> Escalation:
        row = self.db.query_one("SELECT * FROM escalations WHERE id = ?", (int(esc_id),))
        if row is None:
            raise HoldError(f"no escalation with id {esc_id}")
        return _escalation(row)

    def list(self, *, state: str | None = None, customer: str | None = None) -> list[Escalation]:
        sql, params = "SELECT * FROM escalations WHERE 1=1", []
        if state:
            sql += " AND state = ?"
            params.append(state)
        if customer:
            sql += " AND customer = ?"
            params.append(customer)
        return [_escalation(r) for r in self.db.query(sql + " ORDER BY id", tuple(params))]

    def open(self) -> list[Escalation]:
        """Escalations nobody has been notified of yet, oldest first."""
        return self.list(state="open")

    def waiting(self, *, customer: str | None = None) -> list[Escalation]:
        """Escalations no lead has acknowledged yet, mailed (``notified``) or not (``open``),
        oldest first: what the console's page and ``escalations list`` show."""
        sql, params = "SELECT * FROM escalations WHERE state IN ('open', 'notified')", []
        if customer:
            sql += " AND customer = ?"
            params.append(customer)
        return [_escalation(r) for r in self.db.query(sql + " ORDER BY id", tuple(params))]

    def mark_notified(self, esc_id: int, *, actor: str = "system", detail: str = "",
                      now: datetime | None = None) -> None:
        self._set(esc_id, "notified", "notified_at", actor, detail or "leads notified", now)

    def acknowledge(self, esc_id: int, actor: str, reason: str = "", *, now: datetime | None = None) -> None:
        self._set(esc_id, "acknowledged", "acknowledged_at", actor, reason or "acknowledged", now)

    def acknowledge_many(self, ids: Iterable[int], actor: str, reason: str, *,
                         now: datetime | None = None) -> list[int]:
        """Acknowledge each of ``ids`` a lead has not acknowledged yet, all or none: an unknown id
        raises ``HoldError`` and nothing is changed. Returns the ids acknowledged now (the others
        were already)."""
        done: list[int] = []
        with self.db.tx():
            for esc_id in ids:
                if self.get(esc_id).state != "acknowledged":
                    self.acknowledge(esc_id, actor, reason, now=now)
                    done.append(esc_id)
        return done

    def _set(self, esc_id: int, state: str, column: str, actor: str, reason: str, now: datetime | None) -> None:
        now = now or utcnow()
        with self.db.tx() as c:
            row = c.execute("SELECT state FROM escalations WHERE id = ?", (int(esc_id),)).fetchone()
            if row is None:
                raise HoldError(f"no escalation with id {esc_id}")
            extra = ", acknowledged_by = ?" if state == "acknowledged" else ""
            params: tuple[Any, ...] = (state, iso(now)) + ((actor,) if extra else ()) + (int(esc_id),)
            c.execute(f"UPDATE escalations SET state = ?, {column} = ?{extra} WHERE id = ?", params)
            self.audit.add(actor, f"escalation.{state}", f"escalation:{esc_id}", reason,
                           {"from": row["state"], "to": state}, at=now, conn=c)


class CoreEffects:
    """Carries out a Decision in the store: holds, escalations, drafts, the decision record, audit."""

    def __init__(self, db: Database, policy: Policy, *, renderer: DraftRenderer | None = None,
                 clock: Callable[[], datetime] | None = None) -> None:
        self.db = db
        db.migrate()
        self.policy = policy
        self.audit = AuditLog(db)
        self.holds = HoldStore(db, self.audit)
        self.drafts = DraftStore(db, self.audit)
        self.escalations = EscalationStore(db, self.audit)
        self.decisions = DecisionLog(db)
        if renderer is None:
            renderer = DraftRenderer(policy.templates)
        self.renderer = renderer
        self.clock = clock or utcnow

    def recorded(self, message_id: str) -> tuple[dict[str, Any], EffectsReport] | None:
        """The stored decision (JSON) and effects report of a message applied before, else None."""
        row = self.db.query_one("SELECT decision, report FROM decisions WHERE message_id = ?", (message_id,))
        if row is None:
            return None
        return json.loads(row["decision"]), EffectsReport.from_json(json.loads(row["report"]), replayed=True)

    def recorded_ids(self, message_ids: list[str]) -> set[str]:
        """Which of ``message_ids`` have a recorded decision (one query per 500 ids)."""
        return {r[0] for r in self.db.query_in("SELECT message_id FROM decisions WHERE message_id IN ({marks})",
                                               message_ids)}

    def apply(self, message: Message, findings: list[Finding], decision: Decision, *,
              customer: str | None = None, checked: bool = False) -> EffectsReport:
        """Carry out ``decision`` for ``message`` once. ``customer`` is the canonical customer key
        (default: ``message.sender``). Returns what was done, or what had been done before.

        ``checked=True`` is the pipeline's call from inside its own transaction, after it found no
        decision for the message there (``recorded``): the effects join that transaction and skip
        the look-ups that make a direct call safe."""
        customer = customer or message.sender or message.sender_address or f"unknown:{message.id}"
        if checked and self.db.in_tx:
            return self._apply(self.db.conn, message, findings, decision, customer)
        done = self.db.query_one("SELECT report FROM decisions WHERE message_id = ?", (message.id,))
        if done is not None:
            return EffectsReport.from_json(json.loads(done["report"]), replayed=True)
        with self.db.tx() as c:
            row = c.execute("SELECT report FROM decisions WHERE message_id = ?", (message.id,)).fetchone()
            if row is not None:  # applied by another writer since the check above
                return EffectsReport.from_json(json.loads(row["report"]), replayed=True)
            return self._apply(c, message, findings, decision, customer)

    def _apply(self, c: sqlite3.Connection, message: Message, findings: list[Finding], decision: Decision,
               customer: str) -> EffectsReport:
        """The effects, the decision row and its audit entry, inside the open transaction ``c``.

        Each finding and the decision are turned into JSON data once: the decision row stores them
        as written (``findings``, ``decision``), the audit entry's canonical JSON (sorted keys)
        reuses the same values, so the stored texts and the chain's hashes are what they were."""
        now = self.clock()
        now_text = iso(now)
        text_hash = text_sha256(message.text)
        if not decision.actions:
            shape = _plain_shape(decision)
            if shape is not None:
                return self._record_plain(c, message, findings, decision.message_id, shape, customer, now_text,
                                          text_hash)
        report = EffectsReport(message.id)
        found = [f.to_json() for f in findings]  # the effects below only read the findings
        if decision.shadow:
            if decision.actions:
                report.suppressed.append("shadow mode: actions recorded, not carried out")
        elif decision.actions:
            self._hold(c, message, findings, found, decision, customer, report, now)
            self._escalate(c, message, decision, customer, report, now)
            self._draft(c, message, decision, customer, report, now)
        spelled = _report_texts(report)
        effects_ascii, effects_canonical = spelled if spelled is not None else (None, None)
        received = message.received_at
        shape = _action_shape(decision)
        # the report's JSON data, for what is not spelled from it above
        effects = report.to_json() if spelled is None or shape is None else None
        if shape is None:
            decided = decision.to_json()
            decision_text = _json_text(decided)
        else:  # _json_text(decision.to_json()), from the texts cached for the decision's shape
            decision_text = shape.decision[0] + _str_text(decision.message_id) + shape.decision[1]
        self.db.kept_execute(c)(
            "INSERT INTO decisions(message_id, customer, thread, source, subject, sender_address, lang, "
            "received_at, decided_at, content_hash, text_sha256, findings, decision, report) "
            "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (message.id, customer, message.thread, message.source, message.subject, message.sender_address,
             message.lang, iso(received) if received else None, now_text,
             message.content_hash, text_hash, _json_text(found), decision_text,
             _json_ascii(effects) if effects_ascii is None else effects_ascii))
        if shape is None:
            self.audit.append(
                "policy", "decision", f"message:{message.id}", _summary(decision),
                {"customer": customer, "tags": decided["tags"], "actions": decided["actions"],
                 "hits": decided["hits"], "misses": decided["misses"], "shadow": decision.shadow,
                 "held": decision.held, "text_sha256": text_hash,
                 "findings": [_evidence_of(f) for f in found], "effects": effects},
                at=now, conn=c, at_text=now_text)
        else:  # the same entry: the canonical evidence from the shape's texts around the message's values
            e = shape.evidence
            text_mid = _str_text(message.id)
            # the entry's other fields as ``entry_hash`` spells them (as in ``_record_plain``)
            self.audit.append_spelled(
                "policy", "decision", f"message:{message.id}", shape.summary,
                "".join((e[0], _str_text(customer), e[1],
                         _canonical(effects) if effects_canonical is None else effects_canonical, e[2],
                         _canonical([_evidence_of(f) for f in found]), e[3], _str_text(text_hash), e[4])),
                (_DECISION_AT + now_text + _DECISION_EVIDENCE, shape.reason_spelled,
                 _SUBJECT_MESSAGE + text_mid[1:] + "}"),
                at_text=now_text, conn=c)
        return report

    def _record_plain(self, c: sqlite3.Connection, message: Message, findings: list[Finding], decided_id: str,
                      shape: _Shape, customer: str, now_text: str, text_hash: str) -> EffectsReport:
        """The decision row and its audit entry for a decision without actions (most messages),
        written from the texts cached for its shape: the same texts the general path writes."""
        mid = message.id
        if findings:
            found = [f.to_json() for f in findings]
            findings_text = _json_text(found)
            findings_canonical = _canonical([_evidence_of(f) for f in found])
        else:
            findings_text = findings_canonical = "[]"
        received = message.received_at
        text_mid = _str_text(mid)
        self.db.kept_execute(c)(
            "INSERT INTO decisions(message_id, customer, thread, source, subject, sender_address, lang, "
            "received_at, decided_at, content_hash, text_sha256, findings, decision, report) "
            "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (mid, customer, message.thread, message.source, message.subject, message.sender_address,
             message.lang, iso(received) if received else None, now_text, message.content_hash, text_hash,
             findings_text, shape.decision[0] + (text_mid if decided_id == mid else _str_text(decided_id))
             + shape.decision[1],
             _REPORT[0] + _str_ascii(mid) + _REPORT[1]))
        e = shape.evidence
        # The entry's fields as ``entry_hash`` spells them: ``now_text`` is ``iso`` text (digits and
        # ``-:T.+``, nothing JSON escapes), and the subject is "message:" + the id spelled above.
        self.audit.append_spelled(
            "policy", "decision", "message:" + mid, shape.summary,
            "".join((e[0], _str_text(customer), e[1], text_mid, e[2], findings_canonical, e[3], _str_text(text_hash),
                     e[4])),
            (_DECISION_AT + now_text + _DECISION_EVIDENCE, shape.reason_spelled, _SUBJECT_MESSAGE + text_mid[1:] + "}"),
            at_text=now_text, conn=c)
        return EffectsReport(mid)

    def _hold(self, c: sqlite3.Connection, message: Message, findings: list[Finding], found: list[dict[str, Any]],
              decision: Decision, customer: str, report: EffectsReport, now: datetime) -> None:
        """``found`` is ``[f.to_json() for f in findings]``, converted once for the decision row too."""
        action = next((a for a in decision.actions if a.type == "hold"), None)
        if action is None:
            return
        p = action.params
        cats = set(p.get("categories", []))
        # dict(_finding_evidence(f), message_id=...) for the findings of these categories
        evidence = [dict(_evidence_of(data), message_id=message.id)
                    for f, data in zip(findings, found) if f.category in cats]
        kwargs = dict(
            thread=message.thread or message.id, source=message.source, message_id=message.id,
            rule=", ".join(p.get("rules", [])), categories=sorted(cats), expiry_days=p.get("expiry_days"),
            now=now, conn=c,
        )
        reason = p.get("reason") or "policy"
        scope = p.get("scope", "customer")
        # The customer's open holds, read once: the active ones that cover the message
        # (``self.holds.active_scopes(...)``), and the open one ``open`` would add to.
        open_rows = self.holds.open_rows(customer, conn=c)
        covering = [hold_id for hold_id, held in active_scopes_of(open_rows, customer, message.thread or message.id,
                                                                  message.source)
                    if SCOPES.index(held) >= SCOPES.index(scope)]
        if covering:
            # Already held at least this widely: the new conduct is evidence on that hold, not a new proposal.
            hold_id = covering[0]
            state = self.holds.extend(hold_id, evidence, message_id=message.id, categories=sorted(cats),
                                      reason=reason, now=now, conn=c)
            report.suppressed.append(f"hold ({p.get('mode')}, {scope}): already covered by active hold {hold_id}")
        else:
            hold_id, state = self.holds.open("active" if p.get("mode") == "apply" else "proposed", customer, scope,
                                             reason, evidence, open_rows=open_rows, **kwargs)  # type: ignore[arg-type]
        report.hold_id = hold_id
        report.hold_state = state

    def _escalate(self, c: sqlite3.Connection, message: Message, decision: Decision, customer: str,
                  report: EffectsReport, now: datetime) -> None:
        action = next((a for a in decision.actions if a.type == "escalate"), None)
        if action is None:
            return
        p = action.params
        report.escalation_id = self.escalations.create(
            message.id, customer, list(p.get("to", ["leads"])), p.get("priority", "normal"),
            list(p.get("rules", [])), list(p.get("categories", [])), hold_id=report.hold_id, now=now, conn=c)

    def _draft(self, c: sqlite3.Connection, message: Message, decision: Decision, customer: str,
               report: EffectsReport, now: datetime) -> None:
        action = next((a for a in decision.actions if a.type == "draft"), None)
        if action is None:
            return
        p = action.params
        template = p["template"]
        cap = self.policy.settings.notices
        if template in cap.templates:
            sent = self.drafts.count_notices(customer, now - cap.window, cap.templates, conn=c)
            if sent >= cap.max_per_customer:
                why = (f"draft {template}: notice cap reached ({sent} notice(s) to this customer within "
                       f"{_duration_text(cap.window)}; at most {cap.max_per_customer})")
                report.suppressed.append(why)
                self.audit.add("policy", "draft.suppressed", f"message:{message.id}", why,
                               {"customer": customer, "template": template, "rule": p.get("rule")},
                               at=now, conn=c)
                return
        org = self.policy.settings.organization
        context = {
            "org_name": org.name, "policy_name": org.policy_name, "policy_url": org.policy_url,
            "customer_name": message.display_name, "original_subject": message.subject,
            "reference": short_reference(message.id), "categories": list(p.get("categories", [])),
        }
        try:
            rendered = self.renderer.render(template, p.get("lang", message.lang), context)
        except DraftError as exc:
            report.errors.append(str(exc))
            self.audit.add("policy", "draft.error", f"message:{message.id}", str(exc),
                           {"template": template}, at=now, conn=c)
            return
        refs = " ".join(x for x in [*message.references, message.message_id] if x)
        report.draft_id = self.drafts.queue(
            customer, rendered.lang, template, rendered.subject, rendered.body,
            to_address=message.reply_to or message.sender_address or message.sender, thread=message.thread,
            source=message.source, message_id=message.id, in_reply_to=message.message_id, references=refs,
            rule=p.get("rule", ""), external=dict(message.external), now=now, conn=c)


#: ``json.dumps(value, ensure_ascii=False)`` without building a new encoder per call.
_json_text = json_text
#: ``json.dumps(value)`` (ASCII, the default separators), called directly.
_json_ascii = json_ascii


_str_text = json.encoder.encode_basestring  # type: ignore[attr-defined]  # a str as _json_text spells it
_str_ascii = json.encoder.encode_basestring_ascii  # type: ignore[attr-defined]  # ... as _json_ascii does
_canonical = canonical_json


def _holes(encode: Callable[[Any], str], value: Any, marks: list[str], spell: Callable[[str], str]) -> list[str]:
    """``encode(value)`` cut at each of ``marks`` (placeholder strings inside ``value``, spelled
    by ``spell``), in the order they appear: the fixed pieces of a JSON text with holes."""
    text = encode(value)
    pieces = []
    for mark in marks:
        head, sep, text = text.partition(spell(mark))
        if not sep:
            raise ValueError("a JSON template lost its placeholder")
        pieces.append(head)
    return pieces + [text]


#: The decision entry's ``entry_hash`` spelling up to its time, after it, and before its subject's id.
_DECISION_AT = '{"action":' + _str_text("decision") + ',"actor":' + _str_text("policy") + ',"at":"'
_DECISION_EVIDENCE = '","evidence":'
_SUBJECT_MESSAGE = ',"subject":"message:'

_HOLE = [f"\x00hg:{i}\x00" for i in range(4)]  # never in a tag, a rule name or a template name
#: The effects report of a message without actions, around its (ASCII-spelled) message id.
_REPORT = _holes(_json_ascii, EffectsReport(_HOLE[0]).to_json(), _HOLE[:1], _str_ascii)


@dataclass(frozen=True)
class _Shape:
    """What a decision without actions writes besides the message's own values: the decision
    JSON around the message id, the audit evidence's canonical JSON around the customer, the
    message id, the findings and the text hash, and the audit reason."""

    decision: list[str]
    evidence: list[str]
    summary: str
    reason_spelled: str  # the audit entry's spelling between its evidence and its seq (see ``entry_hash``)


_SHAPES: dict[tuple[Any, ...], _Shape] = {}
#: The last shape ``_plain_shape`` found in ``_SHAPES``: copies of its tags, categories, hits and
#: misses (lists), its shadow and held values, and the shape.
_LAST_PLAIN: tuple[Any, ...] | None = None


def _new_shape(decision: Decision, effects: Any) -> _Shape:
    """The texts of ``decision``'s shape: its decision JSON around its message id, and its audit
    evidence's canonical JSON around the customer, ``effects`` (the report, or where its texts
    go), the findings and the text hash."""
    decided = decision.to_json()
    decided["message_id"] = _HOLE[1]
    evidence = {"customer": _HOLE[0], "tags": decided["tags"], "actions": decided["actions"],
                "hits": decided["hits"], "misses": decided["misses"], "shadow": decision.shadow,
                "held": decision.held, "text_sha256": _HOLE[3], "findings": _HOLE[2], "effects": effects}
    summary = _summary(decision)
    return _Shape(_holes(_json_text, decided, _HOLE[1:2], _str_text),
                  _holes(_canonical, evidence, _HOLE, _str_text), summary,
                  ',"reason":' + _str_text(summary) + ',"seq":')


def _remember(cache: dict[tuple[Any, ...], _Shape], key: tuple[Any, ...], shape: _Shape) -> _Shape:
    """Keep ``shape`` under ``key`` (a cache of at most 4,096 shapes, emptied when full)."""
    if len(cache) >= 4096:
        cache.clear()
    cache[key] = shape
    return shape


def _plain_shape(decision: Decision) -> _Shape | None:
    """The cached texts for this decision's shape (tags, categories, hits, misses, shadow, held),
    or None when the shape cannot be a cache key (then the general path writes it)."""
    global _LAST_PLAIN
    last = _LAST_PLAIN
    # The previous message's shape, when this decision's lists equal its (kept) copies and its
    # flags are the same objects: the key below would be equal, without building and hashing it.
    if (last is not None and decision.misses == last[3] and decision.hits == last[2] and decision.tags == last[0]
            and decision.categories == last[1] and decision.shadow is last[4] and decision.held is last[5]):
        return last[6]
    try:
        key = (tuple(decision.tags), tuple(decision.categories), tuple(decision.hits), tuple(decision.misses),
               decision.shadow, decision.held, type(decision.shadow), type(decision.held))
        shape = _SHAPES.get(key)
    except TypeError:
        return None
    if shape is not None:
        _LAST_PLAIN = (list(key[0]), list(key[1]), list(key[2]), list(key[3]), key[4], key[5], shape)
    else:
        if any(type(x) is not str for part in key[:4] for x in part):
            return None
        # the effects report of a message without actions: only its message id varies
        shape = _remember(_SHAPES, key, _new_shape(decision, EffectsReport(_HOLE[1]).to_json()))
    return shape


def _report_texts(report: EffectsReport) -> tuple[str, str] | None:
    """``(_json_ascii(report.to_json()), _canonical(report.to_json()))``, spelled directly (about
    half the cost of the two encodings); None when a value is not of the types an effects report
    holds (ids int or None, the hold state str or None, lists of str), then the caller encodes."""
    mid, state, sup, err = report.message_id, report.hold_state, report.suppressed, report.errors
    if type(mid) is not str or type(sup) is not list or type(err) is not list:
        return None
    for v in sup:
        if type(v) is not str:
            return None
    for v in err:
        if type(v) is not str:
            return None
    ids = []
    for v in (report.hold_id, report.escalation_id, report.draft_id):
        if v is None:
            ids.append("null")
        elif type(v) is int:
            ids.append(str(v))
        else:
            return None
    if state is None:
        state_ascii = state_text = "null"
    elif type(state) is str:
        state_ascii, state_text = _str_ascii(state), _str_text(state)
    else:
        return None
    a, t = _str_ascii, _str_text
    # EffectsReport.to_json's key order, default separators, ASCII
    ascii_text = "".join(('{"message_id": ', a(mid), ', "hold_id": ', ids[0], ', "hold_state": ', state_ascii,
                          ', "escalation_id": ', ids[1], ', "draft_id": ', ids[2], ', "suppressed": [',
                          ", ".join(map(a, sup)), '], "errors": [', ", ".join(map(a, err)), "]}"))
    # canonical: sorted keys, no spaces, UTF-8 kept
    canonical = "".join(('{"draft_id":', ids[2], ',"errors":[', ",".join(map(t, err)), '],"escalation_id":', ids[1],
                         ',"hold_id":', ids[0], ',"hold_state":', state_text, ',"message_id":', t(mid),
                         ',"suppressed":[', ",".join(map(t, sup)), "]}"))
    return ascii_text, canonical


_ACTION_SHAPES: dict[tuple[Any, ...], _Shape] = {}
#: The values an action's parameter may hold for its decision to be cached by shape: each is
#: hashable, equal only to values JSON spells the same (no float: -0.0 == 0.0) and told apart by
#: its type in the key (True == 1).
_PARAM_TYPES = (str, int, bool, type(None))


def _action_shape(decision: Decision) -> _Shape | None:
    """The cached texts of a decision with actions (the general path): its decision JSON around
    the message id (``_json_text(decision.to_json())``), its audit evidence's canonical JSON around
    the customer, the effects, the findings and the text hash, and its audit reason; None when the
    shape cannot be a cache key (then both are encoded from the values)."""
    try:
        acts = tuple((a.type, tuple((k, type(v), tuple(v) if type(v) is list else v) for k, v in a.params.items()))
                     for a in decision.actions)
        key = (tuple(decision.tags), tuple(decision.categories), tuple(decision.hits), tuple(decision.misses),
               decision.shadow, decision.held, type(decision.shadow), type(decision.held), acts)
        shape = _ACTION_SHAPES.get(key)
    except (TypeError, AttributeError):
        return None
    if shape is None:
        if any(type(x) is not str or "\x00" in x for part in key[:4] for x in part):
            return None
        for kind, params in acts:
            if type(kind) is not str or "\x00" in kind:
                return None
            for k, t, v in params:
                if type(k) is not str or "\x00" in k:
                    return None
                values = v if t is list else (v,)
                if t is list and any(type(x) is not str for x in v):
                    return None
                if t is not list and t not in _PARAM_TYPES:
                    return None
                if any(type(x) is str and "\x00" in x for x in values):
                    return None
        shape = _remember(_ACTION_SHAPES, key, _new_shape(decision, _HOLE[1]))  # the whole report filled in
    return shape


@dataclass(frozen=True)
class _EscalationShape:
    """What an escalation to these recipients, with this priority, rules and categories, writes
    besides its message id, customer, hold id and time: its JSON columns, its audit reason, and its
    audit evidence's canonical JSON around the message id, the customer and the hold id."""

    recipients: str
    rules: str
    categories: str
    reason: str
    evidence: list[str]


_ESCALATION_SHAPES: dict[tuple[Any, ...], _EscalationShape] = {}


def _escalation_shape(message_id: Any, customer: Any, recipients: Any, priority: Any, rules: Any, categories: Any,
                      hold_id: Any) -> _EscalationShape | None:
    """The cached texts of ``EscalationStore.create``'s shape, or None when its values are not the
    plain ones it is cached for (strs, lists of strs, an int or no hold id; then the general path
    encodes them)."""
    if type(message_id) is not str or type(customer) is not str or type(priority) is not str:
        return None
    if hold_id is not None and type(hold_id) is not int:
        return None
    if type(recipients) is not list or type(rules) is not list or type(categories) is not list:
        return None
    for part in (recipients, rules, categories):
        for x in part:
            if type(x) is not str:
                return None
    key = (priority, tuple(recipients), tuple(rules), tuple(categories))
    shape = _ESCALATION_SHAPES.get(key)
    if shape is not None:
        return shape
    if any("\x00" in x for x in (priority, *recipients, *rules, *categories)):
        return None  # could be taken for a hole
    # (the holes in the order of the canonical text's sorted keys)
    evidence = {"message_id": _HOLE[2], "customer": _HOLE[0], "rules": list(rules), "categories": list(categories),
                "hold_id": _HOLE[1]}
    shape = _EscalationShape(_json_ascii(list(recipients)), _json_ascii(list(rules)), _json_ascii(list(categories)),
                             f"escalated to {', '.join(recipients)} ({priority})",
                             _holes(_canonical, evidence, _HOLE[:3], _str_text))
    if len(_ESCALATION_SHAPES) >= 4096:
        _ESCALATION_SHAPES.clear()
    _ESCALATION_SHAPES[key] = shape
    return shape


def text_sha256(text: str) -> str:
    """The hash of the analyzed text, for the case file (the text itself may be purged later)."""
    return hashlib.sha256((text or "").encode("utf-8")).hexdigest()


def short_reference(message_id: str) -> str:
    """A short, stable reference for replies (never the raw Message-ID, which can be long)."""
    return "HG-" + hashlib.sha256(message_id.encode("utf-8")).hexdigest()[:10].upper()


def _finding_evidence(f: Finding) -> dict[str, Any]:
    """What a hold and the audit keep of a finding: its category, severity, score, rule, reason,
    evidence spans and related messages."""
    return _evidence_of(f.to_json())


def _evidence_of(found: dict[str, Any]) -> dict[str, Any]:
    """``_finding_evidence`` from a finding already turned into JSON data (``f.to_json()``), so the
    decision row and the audit entry share one conversion."""
    return {"category": found["category"], "severity": found["severity"], "score": found["score"],
            "rule": found["rule"], "reason": found["reason"], "evidence": found["evidence"],
            "related": found.get("related", [])}


def _summary(decision: Decision) -> str:
    if not decision.hits:
        return "no policy rule fired"
    acts = ", ".join(a.type + (f" ({a.params.get('mode')})" if a.type == "hold" else "") for a in decision.actions)
    return f"rules {', '.join(decision.hits)} fired" + (f"; actions: {acts}" if acts else "") + \
        ("; shadow mode" if decision.shadow else "")


def human_duration(delta: Any) -> str:
    """``timedelta(days=7)`` as "7 days", for reasons a lead reads."""
    seconds = int(delta.total_seconds())
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds % size == 0 and seconds >= size:
            n = seconds // size
            return f"{n} {unit}{'s' if n != 1 else ''}"
    return f"{seconds} seconds"


_DURATIONS: dict[Any, str] = {}


def _duration_text(delta: Any) -> str:
    """``human_duration(delta)``, kept per duration (the notice cap's window is one value)."""
    try:
        text = _DURATIONS.get(delta)
    except TypeError:  # not hashable: spelled each time
        return human_duration(delta)
    if text is None:
        text = human_duration(delta)
        if len(_DURATIONS) < 64:
            _DURATIONS[delta] = text
    return text


def _record(row: sqlite3.Row) -> DecisionRecord:
    return DecisionRecord(
        message_id=row["message_id"], customer=row["customer"], thread=row["thread"], source=row["source"],
        subject=row["subject"], sender_address=row["sender_address"], lang=row["lang"],
        received_at=parse_iso(row["received_at"]), decided_at=parse_iso(row["decided_at"]),  # type: ignore[arg-type]
        content_hash=row["content_hash"], text_sha256=row["text_sha256"],
        findings=[Finding.from_json(f) for f in json.loads(row["findings"])],
        decision=json.loads(row["decision"]), report=EffectsReport.from_json(json.loads(row["report"])),
    )


def _escalation(row: sqlite3.Row) -> Escalation:
    return Escalation(
        id=row["id"], message_id=row["message_id"], customer=row["customer"],
        recipients=json.loads(row["recipients"]), priority=row["priority"], rules=json.loads(row["rules"]),
        categories=json.loads(row["categories"]), hold_id=row["hold_id"],
        created_at=parse_iso(row["created_at"]), state=row["state"],  # type: ignore[arg-type]
        notified_at=parse_iso(row["notified_at"]), acknowledged_at=parse_iso(row["acknowledged_at"]),
        acknowledged_by=row["acknowledged_by"],
    )
