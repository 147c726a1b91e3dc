"""The console's pages: log in, decide holds, approve drafts, read a customer's history and the audit.

Every page needs a logged-in user (a session cookie, or ``Authorization: Bearer <token>`` for
scripts). Agents handle drafts; leads also decide holds and read the audit trail — anything else
is a 403, checked on the server whatever the page showed. Every POST from a session carries the
session's CSRF token or is refused with 403 before anything is read or changed. Decisions go
through the stores (:class:`~gateway.holds.HoldStore`, :class:`~gateway.drafts.DraftStore`), which
write the audit entry with the logged-in user as the actor.

Pages follow post/redirect/get: a decision answers with a 303 to the page to look at next and a
one-time notice in the session.
"""

from __future__ import annotations

import functools
import logging
import secrets
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any
from urllib.parse import quote, urlsplit

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from gateway.web.auth import Principal
from gateway.web.evidence import Segment, segments, spans_from
from gateway.web.sessions import csrf_ok, csrf_token

log = logging.getLogger(__name__)

#: A page handler runs in a worker thread (store calls block), with the parsed form on POST.
Handler = Callable[[Request, Principal, FormData | None], Response]

MAX_REASON = 2000
MAX_DRAFT = 20000
#: The newest contacts a contact timeline lists; a customer who wrote thousands of messages (a
#: flood) would otherwise make every page that shows the timeline as long as the flood.
TIMELINE_ENTRIES = 200
#: The messages a hold's page shows in full: the one that opened it and the newest after it.
HOLD_MESSAGES = 50

# -- plumbing ---------------------------------------------------------------------------------------

def _state(request: Request) -> Any:
    return request.app.state.console


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def current_user(request: Request) -> Principal | None:
    """The user behind this request: a bearer token, else the session (re-checked against the
    config, so a removed user or a changed role takes effect at once)."""
    state = _state(request)
    token = _bearer(request)
    if token is not None:
        return state.auth.check_token(token)
    name = request.session.get("user")
    return state.auth.lookup(name) if isinstance(name, str) else None


def render(request: Request, template: str, user: Principal | None, status: int = 200, **context: Any) -> HTMLResponse:
    state = _state(request)
    flash = request.session.pop("flash", None) if "session" in request.scope else None
    html = state.templates.get_template(template).render(
        user=user,
        csrf=csrf_token(request),
        flash=flash,
        section=context.pop("section", ""),
        **context,
    )
    return HTMLResponse(html, status_code=status)


def _flash(request: Request, text: str, kind: str = "") -> None:
    request.session["flash"] = {"text": text, "kind": kind}


def _redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def page(permission: str | None = None) -> Callable[[Handler], Callable[[Request], Awaitable[Response]]]:
    """Wrap a handler: require a user, a valid CSRF token on POST (session users) and a permission."""

    def wrap(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        @functools.wraps(handler)
        async def endpoint(request: Request) -> Response:
            user = current_user(request)
            if request.method == "POST" and _bearer(request) is None and not await csrf_ok(request):
                raise HTTPException(403, "This form was sent without a valid security token. Reload the page and try again.")
            if user is None:
                if request.method == "GET" and _bearer(request) is None:
                    return _redirect("/login?next=" + quote(request.url.path))
                if _bearer(request) is not None:
                    raise HTTPException(401, "That token is not valid.", headers={"WWW-Authenticate": "Bearer"})
                raise HTTPException(403, "Please log in.")
            if permission and not user.can(permission):
                raise HTTPException(403, f"Your role ({user.role}) cannot do this; it needs a team lead.")
            form = await request.form() if request.method == "POST" else None
            return await run_in_threadpool(handler, request, user, form)

        return endpoint

    return wrap


def _form_text(form: FormData | None, name: str, *, limit: int) -> str:
    value = form.get(name) if form is not None else None
    text = value if isinstance(value, str) else ""
    if len(text) > limit:
        raise HTTPException(400, f"{name} is longer than {limit} characters")
    return text


def exception_handlers() -> dict[Any, Callable[[Request, Exception], Awaitable[Response]]]:
    return {HTTPException: _http_error}


_HEADINGS = {
    400: "That request could not be used",
    401: "Please log in",
    403: "Not allowed",
    404: "Not found",
    405: "Not allowed here",
    429: "Too many attempts",
}


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    detail = exc.detail if isinstance(exc.detail, str) else ""
    if "text/html" not in request.headers.get("accept", "") or "session" not in request.scope:
        return PlainTextResponse(detail or _HEADINGS.get(exc.status_code, "error"), status_code=exc.status_code,
                                 headers=exc.headers)
    user = current_user(request) if "session" in request.scope else None
    return render(request, "error.html", user, status=exc.status_code, status_code=exc.status_code,
                  heading=_HEADINGS.get(exc.status_code, "Something went wrong"),
                  detail=detail or "The page you asked for is not here.")


def _safe_next(value: str | None) -> str:
    """Only same-site paths: ``/holds/3`` yes, ``//evil.example`` or ``https://...`` no."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    parts = urlsplit(value)
    return value if not parts.scheme and not parts.netloc else "/"


# -- login ------------------------------------------------------------------------------------------

async def home(request: Request) -> Response:
    user = current_user(request)
    if user is None:
        return _redirect("/login")
    return _redirect("/holds" if user.can("holds") else "/drafts")


async def login_page(request: Request) -> Response:
    if current_user(request) is not None:
        return _redirect("/")
    next_url = _safe_next(request.query_params.get("next"))
    return render(request, "login.html", None, username="", error="", next=next_url if next_url != "/" else "")


async def login_submit(request: Request) -> Response:
    if not await csrf_ok(request):
        raise HTTPException(403, "The login form had expired. Reload the page and try again.")
    form = await request.form()
    username = str(form.get("username") or "").strip()
    password = str(form.get("password") or "")
    token = str(form.get("token") or "").strip()
    client = request.client.host if request.client else "?"
    key = f"token@{client}" if token else f"user:{username}"
    next_url = _safe_next(request.query_params.get("next"))
    state = _state(request)
    if state.throttle.blocked(key):
        log.warning("console: login refused for %s: too many failures", key)
        return render(request, "login.html", None, status=429, username=username, next=next_url,
                      error="Too many failed attempts. Wait a few minutes and try again.")
    if token:
        user = state.auth.check_token(token)
    elif username and password:
        user = await run_in_threadpool(state.auth.check_password, username, password)  # scrypt: CPU-bound
    else:
        user = None
    if user is None:
        state.throttle.failed(key)
        log.info("console: failed login (%s)", "token" if token else "password")
        return render(request, "login.html", None, status=401, username=username, next=next_url,
                      error="That user name and password (or token) did not match.")
    state.throttle.succeeded(key)
    request.session.clear()  # a fresh session: no fixation, a new CSRF token
    request.session["user"] = user.name
    request.session["csrf"] = secrets.token_urlsafe(32)
    log.info("console: %s logged in as %s", user.name, user.role)
    return _redirect(next_url)


async def logout(request: Request) -> Response:
    if not await csrf_ok(request):
        raise HTTPException(403, "This form was sent without a valid security token. Reload the page and try again.")
    request.session.clear()
    return _redirect("/login")


# -- holds ------------------------------------------------------------------------------------------

def _holds(request: Request) -> Any:
    from gateway.holds import HoldStore

    return _state(request).store("holds", HoldStore)


def _audit(request: Request) -> Any:
    from gateway.audit import AuditLog

    return _state(request).store("audit", AuditLog)


def _drafts(request: Request) -> Any:
    from gateway.drafts import DraftStore

    return _state(request).store("drafts", DraftStore)


def _messages(request: Request) -> Any:
    from gateway.store.messages import SqliteMessageStore

    return _state(request).store("messages", SqliteMessageStore)


def _acks(request: Request) -> Any:
    from gateway.mail.acknowledge import AckRecords

    return _state(request).store("acknowledgments", AckRecords)


def _disputes(request: Request) -> Any:
    from gateway.disputes import Disputes

    return _state(request).store("disputes", Disputes)


def _message_view(request: Request, message_id: str, evidence: list[Any] = ()) -> dict[str, Any]:  # type: ignore[assignment]
    """A message as the templates show it: its text with the evidence masked, or — once the text
    has passed its retention period — the evidence spans masked on their own."""
    stored = _messages(request).get(message_id) if message_id else None
    text = stored.text if stored is not None else None
    spans = spans_from(stored.findings if stored is not None else []) + spans_from(evidence, message_id=message_id)
    if text:
        segs = segments(text, spans)
    else:
        segs = []
        for span in spans:
            segs += segments(span.text, [span]) + [Segment("\n")]
    categories = stored.categories if stored is not None else []
    disputed = {d.category: d for d in _disputes(request).for_message(message_id)} if categories else {}
    return {
        "id": message_id,
        "subject": (stored.subject or "") if stored is not None else "",
        "received_at": stored.received_at if stored is not None else None,
        "source": stored.source if stored is not None else "",
        "categories": categories,
        "disputed": disputed,  # category -> Dispute: withdrawn by an agent or lead
        "standing": [c for c in categories if c not in disputed],
        "customer": stored.customer if stored is not None else "",
        "segments": segs,
        "has_text": bool(text),
    }


def _timeline(request: Request, customer: str, highlight: set[str] | None = None) -> dict[str, Any]:
    """The customer's contact history (every linked address) for the side panel: the newest
    ``TIMELINE_ENTRIES`` contacts, oldest first (``items``), and how many earlier ones are not
    listed (``earlier``)."""
    disputed = {(d.message_id, d.category) for d in _disputes(request).list(customer)}
    shown, total = _messages(request).latest_customer_messages(customer, TIMELINE_ENTRIES)
    items = [
        {
            "id": m.id,
            "received_at": m.received_at,
            "subject": m.subject or "",
            "source": m.source,
            "categories": m.categories,
            "disputed": [c for c in m.categories if (m.id, c) in disputed],
            "this": m.id in (highlight or set()),
        }
        for m in shown
    ]
    return {"items": items, "earlier": total - len(shown)}


def _age(since: datetime, now: datetime) -> str:
    """How long something has waited, in the largest whole unit: ``3 days``, ``5 hours``."""
    seconds = max(0, int((now - since).total_seconds()))
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            n = seconds // size
            return f"{n} {unit}{'' if n == 1 else 's'}"
    return "moments"


@page("holds")
def holds_queue(request: Request, user: Principal, form: FormData | None) -> Response:
    store = _holds(request)
    now = _state(request).clock()
    pending = []
    for hold in store.pending():
        messages = [_message_view(request, mid, hold.evidence) for mid in hold.message_ids[-3:]]
        if not messages and hold.evidence:
            messages = [_message_view(request, "", hold.evidence)]
        pending.append({"hold": hold, "messages": messages, "waiting": _age(hold.created_at, now),
                        "timeline": _timeline(request, hold.customer, highlight=set(hold.message_ids))})
    active = store.list(state="active")
    return render(request, "holds.html", user, section="holds", pending=pending, active=active)


@page(None)
def hold_detail(request: Request, user: Principal, form: FormData | None) -> Response:
    from gateway.holds import HoldError

    hold_id = request.path_params["hold_id"]
    try:
        hold = _holds(request).get(hold_id)
    except HoldError:
        raise HTTPException(404, f"There is no hold {hold_id}.") from None
    ids = hold.message_ids
    if len(ids) > HOLD_MESSAGES:  # the message that opened the hold, and the newest after it
        ids = [ids[0], *ids[len(ids) - HOLD_MESSAGES + 1 :]]
    messages = [_message_view(request, mid, hold.evidence) for mid in ids]
    if not messages and hold.evidence:
        messages = [_message_view(request, "", hold.evidence)]
    return render(request, "hold.html", user, section="holds", hold=hold, messages=messages,
                  skipped=len(hold.message_ids) - len(ids),
                  history=_timeline(request, hold.customer, highlight=set(hold.message_ids)),
                  can_decide=user.can("holds"))


_HOLD_ACTIONS = {"approve": "approved", "reject": "rejected", "lift": "lifted"}


@page("holds")
def hold_action(request: Request, user: Principal, form: FormData | None) -> Response:
    from gateway.holds import HoldError, HoldTransitionError

    hold_id = request.path_params["hold_id"]
    action = request.path_params["action"]
    if action not in _HOLD_ACTIONS:
        raise HTTPException(404, f"Unknown hold action {action!r}.")
    reason = (_form_text(form, "reason", limit=MAX_REASON)).strip()
    back = f"/holds/{hold_id}"
    if not reason:
        _flash(request, f"Give a reason to {action} the hold: it goes into the audit trail.", "error")
        return _redirect(back)
    store = _holds(request)
    now = _state(request).clock()
    try:
        if action == "approve":
            days = (_form_text(form, "expiry_days", limit=10)).strip()
            if days and not (days.isdigit() and 1 <= int(days) <= 3650):
                _flash(request, "The hold length must be a whole number of days between 1 and 3650.", "error")
                return _redirect(back)
            if days:
                store.approve(hold_id, user.name, reason, expiry_days=int(days), now=now)
            else:
                store.approve(hold_id, user.name, reason, now=now)
        else:
            getattr(store, action)(hold_id, user.name, reason, now=now)
    except HoldTransitionError as exc:
        _flash(request, str(exc), "error")
        return _redirect(back)
    except HoldError as exc:
        raise HTTPException(404, str(exc)) from None
    log.info("console: hold %s %s by %s", hold_id, _HOLD_ACTIONS[action], user.name)
    _flash(request, f"Hold {hold_id} {_HOLD_ACTIONS[action]}.")
    return _redirect(back if action == "lift" else "/holds")


# -- escalations ------------------------------------------------------------------------------------

def _escalations(request: Request) -> Any:
    from gateway.effects import EscalationStore

    return _state(request).store("escalations", EscalationStore)


#: the newest messages shown per customer on the escalations page (the customer's page has all)
ESCALATION_MESSAGES = 3
#: acknowledged escalations listed under the open ones
ESCALATIONS_RECENT = 20


@page("holds")
def escalations_page(request: Request, user: Principal, form: FormData | None) -> Response:
    """Escalations nobody has acknowledged yet, one card per customer (most urgent first), and
    the latest acknowledged ones."""
    from gateway.policy.engine import PRIORITY_RANK

    store = _escalations(request)
    now = _state(request).clock()
    by_customer: dict[str, list[Any]] = {}
    for esc in store.waiting():
        by_customer.setdefault(esc.customer, []).append(esc)
    groups = []
    for customer, items in by_customer.items():  # (each oldest first, as ``waiting`` reads them)
        priority = max((e.priority for e in items), key=lambda p: PRIORITY_RANK.get(p, -1))
        groups.append({
            "customer": customer, "escalations": items, "priority": priority,
            "categories": sorted({c for e in items for c in e.categories}),
            "rules": sorted({r for e in items for r in e.rules}),
            "recipients": list(dict.fromkeys(r for e in items for r in e.recipients)),
            "unmailed": [e for e in items if e.state == "open"],
            "waiting": _age(items[0].created_at, now),
            "messages": [_message_view(request, e.message_id) for e in items[-ESCALATION_MESSAGES:]],
            "ids": ",".join(str(e.id) for e in items),
        })
    groups.sort(key=lambda g: (-PRIORITY_RANK.get(g["priority"], -1), g["escalations"][0].id))  # most urgent first
    done = store.list(state="acknowledged")[-ESCALATIONS_RECENT:][::-1]
    return render(request, "escalations.html", user, section="escalations", groups=groups, done=done)


@page("holds")
def escalations_acknowledge(request: Request, user: Principal, form: FormData | None) -> Response:
    """Acknowledge escalations (a customer's card: all of its ids at once), with a reason for the
    audit trail."""
    from gateway.holds import HoldError

    reason = _form_text(form, "reason", limit=MAX_REASON).strip()
    raw = _form_text(form, "ids", limit=200_000)
    ids = [int(x) for x in raw.split(",") if x.strip().isdigit()]
    if not ids:
        raise HTTPException(400, "No escalation was named.")
    if not reason:
        _flash(request, "Give a reason to acknowledge: it goes into the audit trail "
                        "(what was done: called the customer, told legal, nothing needed).", "error")
        return _redirect("/escalations")
    try:
        done = len(_escalations(request).acknowledge_many(ids, user.name, reason, now=_state(request).clock()))
    except HoldError as exc:  # (what EscalationStore raises for an unknown id; nothing was changed)
        raise HTTPException(404, str(exc)) from None
    log.info("console: %d escalation(s) acknowledged by %s", done, user.name)
    _flash(request, f"{done} escalation{'s' if done != 1 else ''} acknowledged.")
    return _redirect("/escalations")


# -- drafts -----------------------------------------------------------------------------------------

def _draft_view(request: Request, draft: Any) -> dict[str, Any]:
    return {"draft": draft, "message": _message_view(request, draft.message_id) if draft.message_id else None}


@page("drafts")
def drafts_queue(request: Request, user: Principal, form: FormData | None) -> Response:
    store = _drafts(request)
    pending = [_draft_view(request, d) for d in store.pending()]
    recent = [d for d in store.list(limit=30) if d.state != "pending"][:15]
    return render(request, "drafts.html", user, section="drafts", pending=pending, recent=recent)


@page("drafts")
def draft_detail(request: Request, user: Principal, form: FormData | None) -> Response:
    from gateway.drafts import DraftError

    draft_id = request.path_params["draft_id"]
    try:
        draft = _drafts(request).get(draft_id)
    except DraftError:
        raise HTTPException(404, f"There is no draft {draft_id}.") from None
    return render(request, "draft.html", user, section="drafts", item=_draft_view(request, draft))


_DRAFT_ACTIONS = {"edit": "saved", "approve": "approved", "discard": "discarded"}


@page("drafts")
def draft_action(request: Request, user: Principal, form: FormData | None) -> Response:
    from gateway.drafts import DraftError, DraftTransitionError

    draft_id = request.path_params["draft_id"]
    action = request.path_params["action"]
    if action not in _DRAFT_ACTIONS:
        raise HTTPException(404, f"Unknown draft action {action!r}.")
    store = _drafts(request)
    now = _state(request).clock()
    try:
        if action == "discard":
            reason = (_form_text(form, "reason", limit=MAX_REASON)).strip()
            store.discard(draft_id, user.name, reason, now=now)
        else:
            body = _form_text(form, "body", limit=MAX_DRAFT) if form and "body" in form else None
            subject = _form_text(form, "subject", limit=500) if form and "subject" in form else None
            if body is not None:
                body = body.replace("\r\n", "\n")  # browsers post CRLF; drafts are stored with LF
            if action == "edit":
                store.edit(draft_id, user.name, body=body, subject=subject, now=now)
            else:
                store.approve(draft_id, user.name, body=body, subject=subject, now=now)
    except DraftTransitionError as exc:
        _flash(request, str(exc), "error")
        return _redirect(f"/drafts/{draft_id}")
    except DraftError as exc:
        if "no draft" in str(exc):
            raise HTTPException(404, str(exc)) from None
        _flash(request, str(exc), "error")
        return _redirect(f"/drafts/{draft_id}")
    log.info("console: draft %s %s by %s", draft_id, _DRAFT_ACTIONS[action], user.name)
    _flash(request, f"Draft {draft_id} {_DRAFT_ACTIONS[action]}."
           + (" It will be sent by the gateway." if action == "approve" else ""))
    return _redirect(f"/drafts/{draft_id}" if action == "edit" else "/drafts")


# -- customers --------------------------------------------------------------------------------------

@page("drafts")
def customer_page(request: Request, user: Principal, form: FormData | None) -> Response:
    key = request.path_params["key"]
    messages_store = _messages(request)
    canonical = messages_store.resolve_customer(key)
    stored, total = messages_store.latest_customer_messages(canonical, 50)
    holds = _holds(request).for_customer(canonical)
    drafts = _drafts(request).for_customer(canonical)
    keys = messages_store.customer_keys(canonical)
    acks = _acks(request).for_customer(keys)
    if not stored and not holds and not drafts and not acks:
        raise HTTPException(404, "No messages, holds or drafts are stored for this customer.")
    messages = [_message_view(request, m.id) for m in reversed(stored)]
    return render(request, "customer.html", user, section="", customer=canonical,
                  keys=keys, messages=messages, total=total,
                  counts=messages_store.finding_counts(canonical), holds=holds, drafts=drafts, acks=acks,
                  history=_timeline(request, canonical))


@page("disputes")
def dispute_action(request: Request, user: Principal, form: FormData | None) -> Response:
    from gateway.disputes import DisputeError

    message_id = _form_text(form, "message_id", limit=1000)
    category = _form_text(form, "category", limit=100).strip()
    reason = _form_text(form, "reason", limit=MAX_REASON).strip()
    stored = _messages(request).get(message_id) if message_id else None
    if stored is None:
        raise HTTPException(404, "No such message is stored.")
    back = "/customers/" + quote(_messages(request).resolve_customer(stored.customer), safe="@")
    try:
        done = _disputes(request).dispute(message_id, user.name, reason, [category] if category else None,
                                          now=_state(request).clock(), origin="console")
    except DisputeError as exc:
        _flash(request, str(exc), "error")
        return _redirect(back)
    log.info("console: %s disputed %s on a message", user.name, ", ".join(done))
    _flash(request, f"Disputed {', '.join(done)}: no longer counted against this customer. "
                    "A hold already in place stays until a lead lifts it.")
    return _redirect(back)


# -- audit ------------------------------------------------------------------------------------------

AUDIT_PAGE = 200  # entries per page of the audit view, newest first


@page("audit")
def audit_page(request: Request, user: Principal, form: FormData | None) -> Response:
    log_ = _audit(request)
    subject = request.query_params.get("subject") or None
    before = request.query_params.get("before", "")
    before_seq = int(before) if before.isdigit() else None
    entries = log_.entries(subject=subject, before_seq=before_seq, newest_first=True, limit=AUDIT_PAGE + 1)
    older = entries[AUDIT_PAGE - 1].seq if len(entries) > AUDIT_PAGE else None
    return render(request, "audit.html", user, section="audit", entries=entries[:AUDIT_PAGE],
                  verify=log_.verify(), subject=subject or "", total=log_.count(subject=subject),
                  older=older, paged=before_seq is not None, before=before_seq)


# -- routes -----------------------------------------------------------------------------------------

def routes() -> list[BaseRoute]:
    return [
        Route("/", home, methods=["GET"]),
        Route("/login", login_page, methods=["GET"]),
        Route("/login", login_submit, methods=["POST"]),
        Route("/logout", logout, methods=["POST"]),
        Route("/holds", holds_queue, methods=["GET"]),
        Route("/holds/{hold_id:int}", hold_detail, methods=["GET"]),
        Route("/holds/{hold_id:int}/{action}", hold_action, methods=["POST"]),
        Route("/escalations", escalations_page, methods=["GET"]),
        Route("/escalations/acknowledge", escalations_acknowledge, methods=["POST"]),
        Route("/drafts", drafts_queue, methods=["GET"]),
        Route("/drafts/{draft_id:int}", draft_detail, methods=["GET"]),
        Route("/drafts/{draft_id:int}/{action}", draft_action, methods=["POST"]),
        Route("/customers/{key:path}", customer_page, methods=["GET"]),
        Route("/disputes", dispute_action, methods=["POST"]),
        Route("/audit", audit_page, methods=["GET"]),
    ]
