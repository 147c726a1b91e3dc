"""The pipeline: detect -> contact -> policy -> core effects, for one message at a time.

``Pipeline.create(db)`` wires the stages from the shipped (or given) rules and policy;
``process(message)`` returns ``Result(message, findings, decision)``. With a database, contact
history and holds persist and the effects (decision record, holds, escalations, drafts, audit) are
carried out, idempotently per message id. Without one (``classify`` without ``--stateful``) history
lives in memory for the pipeline's lifetime, and nothing is carried out.

Every message is analyzed and kept, held customer or not: an active hold covering the message
only makes ``Decision.held`` true (and adds the hold tag), so the daemon routes it to the held
folder/status instead of the agents' queue.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from gateway.audit import utcnow
from gateway.model import Decision, Finding, Message
from gateway.policy import Policy
from gateway.store.db import Database

if TYPE_CHECKING:
    from gateway.effects import CoreEffects


@dataclass
class Result:
    """What the pipeline made of one message. ``findings`` holds detection and contact findings;
    ``effects`` is the EffectsReport when effects ran (stateful with a database), else None."""

    message: Message
    findings: list[Finding]
    decision: Decision
    effects: object | None = field(default=None, repr=False)


class Pipeline:
    """Detector, ContactTracker and Policy, plus CoreEffects when there is a database."""

    def __init__(self, detector: object, tracker: object, policy: Policy, *, db: Database | None = None,
                 effects: object | None = None, clock: Callable[[], datetime] | None = None) -> None:
        self.detector = detector
        self.tracker = tracker
        self.policy = policy
        self.db = db
        self.effects = effects
        self.clock = clock or utcnow
        self._unrecorded: set[str] = set()  # ids ``prepare`` found without a decision
        #: message id -> (the message, its detection findings), made by ``prepare`` for its batch
        self._detected: dict[str, tuple[Message, list[Finding]]] = {}

    @classmethod
    def create(cls, db: Database | None, *, rules_dir: Path | str | None = None,
               policy_path: Path | str | None = None, clock: Callable[[], datetime] | None = None,
               detector: object | None = None, cache_bytes: int | None = None) -> "Pipeline":
        """Build the stages. ``rules_dir`` holds lexicons (and, unless ``policy_path`` says otherwise,
        policy.yaml and templates/); ``clock`` times holds, drafts and audit entries (default: now).
        ``detector`` reuses an already loaded Detector (loading lexicons takes a moment).
        ``cache_bytes``: the message store's row cache budget (``store.cache_mb``; default 64 MiB)."""
        from gateway.contact import ContactSettings, ContactTracker
        from gateway.detect import Detector

        rules = Path(rules_dir) if rules_dir is not None else None
        if policy_path is None and rules is not None and (rules / "policy.yaml").is_file():
            policy_path = rules / "policy.yaml"
        policy = Policy.load(policy_path)
        if detector is None:
            detector = Detector.load(rules)
        if db is not None:
            from gateway.effects import CoreEffects
            from gateway.store.messages import SqliteMessageStore

            store: object = SqliteMessageStore(db, cache_bytes=cache_bytes)
            effects: object | None = CoreEffects(db, policy, clock=clock)
        else:
            from gateway.store.memory import MemoryMessageStore

            store = MemoryMessageStore()
            effects = None
        tracker = ContactTracker(store, ContactSettings.from_policy(policy.raw))  # type: ignore[arg-type]
        return cls(detector, tracker, policy, db=db, effects=effects, clock=clock)

    def process(self, message: Message, *, joined: bool = False) -> Result:
        """Run one message through every stage and return the findings and the decision.

        With a database, everything the message changes (its contact record, the decision, holds,
        drafts, audit) commits in one transaction: one commit per message, and never a recorded
        message without its decision. A caller's open transaction is joined instead, as a
        savepoint; with ``joined`` (the daemon, whose own savepoint per message also holds the
        verdict ledger's row) as part of the caller's, without a savepoint of its own. Detection
        findings that ``prepare`` made for this very message object are used, once."""
        early = self._detected.pop(message.id, None)
        if early is not None and early[0] is message:
            findings = early[1]
        else:
            findings = list(self.detector.detect(message))  # type: ignore[attr-defined]
        if self.effects is None:
            findings += self.tracker.observe(message, findings)  # type: ignore[attr-defined]
            history = self.tracker.history(message.sender, exclude_id=message.id)  # type: ignore[attr-defined]
            decision = self.policy.decide(message, findings, history)
            return Result(message, findings, decision)
        assert self.db is not None
        if joined and self.db.in_tx:
            applied = message.id not in self._unrecorded  # False: ``prepare`` found no decision for it
            self._unrecorded.discard(message.id)
            return self._stateful(message, findings, applied)
        with self.db.tx():
            return self._stateful(message, findings)

    def prepare(self, messages: Iterable[Message]) -> None:
        """The batch work of ``process_many``, for a caller that then processes the messages one
        by one with ``process(m, joined=True)`` in the same transaction (the daemon: a savepoint
        per message, so one that fails is quarantined alone): the contact stage's preparation,
        and one query for which of them have no decision yet; and detection, which needs no
        state, for all of them one after another (see ``process_many``). A message whose
        detection fails is left to ``process``, where the failure is its own. Only the last batch
        is kept."""
        batch = list(messages)
        detect = self.detector.detect  # type: ignore[attr-defined]
        detected: dict[str, tuple[Message, list[Finding]]] = {}
        for m in batch:
            try:
                detected[m.id] = (m, list(detect(m)))
            except Exception:  # noqa: BLE001 - run again by ``process``, which quarantines it
                detected.pop(m.id, None)
        self._detected = detected
        prepare = getattr(self.tracker, "prepare", None)  # (after detection, as in ``process_many``)
        if prepare is not None:
            prepare(batch)
        if self.effects is not None:
            ids = [m.id for m in batch]
            self._unrecorded = set(ids) - self.effects.recorded_ids(ids)  # type: ignore[attr-defined]

    def process_many(self, messages: Iterable[Message]) -> list[Result]:
        """``process`` for each message, all in one transaction: one commit for the batch.

        The results are the ones ``process`` gives one by one; but nothing is committed until the
        whole batch is done, and an exception rolls the whole batch back and propagates (the
        caller retries or splits it), so the messages need no savepoint each. Without a database
        this is just ``process`` in a loop."""
        if self.effects is None:
            return [self.process(m) for m in messages]
        assert self.db is not None
        batch = list(messages)
        # Detection first, for the whole batch: it needs no state, and one message after another
        # it keeps its automata in the processor's caches (run between the other stages' work,
        # each message's detection took about half as long again). Then the contact stage's
        # work for the whole batch at once, whose rows and keys the messages use right after.
        detect = self.detector.detect  # type: ignore[attr-defined]
        found = [list(detect(m)) for m in batch]
        prepare = getattr(self.tracker, "prepare", None)
        if prepare is not None:
            prepare(batch)
        stateful = self._stateful
        effects: CoreEffects = self.effects  # type: ignore[assignment]
        results: list[Result] = []
        with self.db.tx():
            # No savepoint per message: a failure rolls the whole batch back anyway, and a
            # savepoint makes SQLite copy every page the message touches into its sub-journal.
            # The re-delivery check is one query for the batch; a message met earlier in the
            # same batch is looked up again, as ``process`` would.
            seen = effects.recorded_ids([m.id for m in batch])
            for m, f in zip(batch, found):
                results.append(stateful(m, f, m.id in seen))
                seen.add(m.id)
        return results

    def _stateful(self, message: Message, findings: list[Finding], applied: bool = True) -> Result:
        """Contact, the re-delivery check (skipped when ``applied`` is false: the caller knows the
        message has no decision yet), the hold look-up, policy and effects, in the open transaction."""
        findings += self.tracker.observe(message, findings)  # type: ignore[attr-defined]
        history = self.tracker.history(message.sender, exclude_id=message.id)  # type: ignore[attr-defined]
        customer = history.customer or message.sender
        effects: CoreEffects = self.effects  # type: ignore[assignment]
        done = effects.recorded(message.id) if applied else None
        if done is not None:
            # A re-delivery: report what was decided and done the first time.
            return Result(message, findings, _decision_from_json(done[0]), done[1])
        active = effects.holds.active_ids_after_expiry(customer, message.thread or message.id, message.source,
                                                       self.clock())
        decision = self.policy.decide(message, findings, history, active_hold=bool(active))
        report = effects.apply(message, findings, decision, customer=customer, checked=True)
        return Result(message, findings, decision, report)


def _decision_from_json(data: dict) -> Decision:  # type: ignore[type-arg]
    from gateway.model import Action

    actions = []
    for a in data.get("actions", []):
        params = {k: v for k, v in a.items() if k != "type"}
        actions.append(Action(a["type"], params))
    return Decision(
        message_id=data["message_id"], tags=list(data.get("tags", [])), categories=list(data.get("categories", [])),
        actions=actions, hits=list(data.get("hits", [])), misses=list(data.get("misses", [])),
        shadow=bool(data.get("shadow")), held=bool(data.get("held")),
    )
