"""IMAP mailboxes as a mail source: read new mail, set the gateway's keywords, move held mail.

``ImapMailbox`` is a thin blocking wrapper over imapclient (one connection, one selected mailbox);
``ImapSource`` drives it from asyncio through ``asyncio.to_thread``. Per mailbox, the source:

1. connects (TLS, STARTTLS or plain), selects the mailbox and resumes from its checkpoint (a new
   UIDVALIDITY starts a rescan; the verdict ledger keeps it from repeating anything);
2. fetches new messages in batches, hands each to the ``MessageHandler``, sets the keywords for a
   batch, moves held customers' mail to the held folder, and only then advances the checkpoint;
3. waits for new mail with IDLE (renewed before the server's inactivity timeout) or by polling
   when the server lacks IDLE; reconnects with exponential backoff and jitter on network errors.

Customer mail is never deleted: without MOVE, a held message is COPYed, and only after the COPY
succeeded is that one UID flagged ``\\Deleted`` and removed with UID EXPUNGE (UIDPLUS); a server
without UIDPLUS keeps the original where it is rather than risk expunging anything else.
"""

from __future__ import annotations

import asyncio
import imaplib
import logging
import random
import socket
import ssl
import threading
import time
from dataclasses import dataclass, field

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError
from imapclient.util import to_unicode

from gateway.checkpoints import Checkpoints
from gateway.config import SourceConfig
from gateway.mail.fetch import uid_fetch
from gateway.mail.handler import MessageHandler, Outcome
from gateway.mail.keywords import HELD, is_done, keywords_for
from gateway.metrics import SourceStats

log = logging.getLogger(__name__)

#: Network trouble worth a reconnect: socket errors, timeouts, BYE, protocol aborts.
CONNECTION_ERRORS: tuple[type[BaseException], ...] = (OSError, IMAPClientError, imaplib.IMAP4.abort, EOFError)


class ServerClosed(ConnectionError):
    """The server said BYE or closed the connection."""


@dataclass(frozen=True)
class Fetched:
    uid: int
    flags: frozenset[str]
    size: int
    raw: bytes | None  # None when the message was already done or too large to fetch


@dataclass
class Backoff:
    """Exponential backoff with full jitter: the n-th wait is uniform in [0, min(cap, base*2**n)]."""

    base: float = 1.0
    cap: float = 300.0
    attempt: int = 0

    def next(self) -> float:
        ceiling = min(self.cap, self.base * (2 ** self.attempt))
        self.attempt += 1
        return random.uniform(ceiling / 2, ceiling)

    def reset(self) -> None:
        self.attempt = 0


def _flag_text(flag: bytes | str) -> str:
    return to_unicode(flag) if isinstance(flag, bytes) else flag


class ImapMailbox:
    """One blocking connection to one mailbox. Every method may raise ``CONNECTION_ERRORS``."""

    def __init__(self, client: IMAPClient, mailbox: str) -> None:
        self.client = client
        self.mailbox = mailbox
        self.capabilities = {_flag_text(c).upper() for c in client.capabilities()}
        self.uidvalidity = 0
        self.keywords_allowed = True

    @classmethod
    def connect(cls, cfg: SourceConfig, password: str, mailbox: str, *, timeout: float = 60.0) -> "ImapMailbox":
        context = ssl.create_default_context()
        if cfg.security == "ssl":
            client = IMAPClient(cfg.host, port=cfg.port, ssl=True, ssl_context=context, timeout=timeout)
        else:
            client = IMAPClient(cfg.host, port=cfg.port, ssl=False, timeout=timeout)
            if cfg.security == "starttls":
                client.starttls(context)
        _keepalive(client)
        try:
            client.login(cfg.username, password)
        except BaseException:
            _close_quietly(client)
            raise
        return cls(client, mailbox)

    @property
    def has_idle(self) -> bool:
        return "IDLE" in self.capabilities

    @property
    def has_move(self) -> bool:
        return "MOVE" in self.capabilities

    @property
    def has_uidplus(self) -> bool:
        return "UIDPLUS" in self.capabilities

    def select(self) -> int:
        """Select the mailbox read-write; returns its UIDVALIDITY."""
        info = self.client.select_folder(self.mailbox)
        self.uidvalidity = int(info[b"UIDVALIDITY"])
        permanent = {_flag_text(f) for f in info.get(b"PERMANENTFLAGS", ())}
        # "\*" in PERMANENTFLAGS: the server stores new keywords. Without it STORE of $HG* keywords
        # would fail on every pass, so the mailbox is read without them (moves still happen).
        self.keywords_allowed = "\\*" in permanent or not permanent
        if not self.keywords_allowed:
            log.warning("server does not store custom keywords; $HG* keywords will not be set",
                        extra={"mailbox": self.mailbox})
        return self.uidvalidity

    def ensure_folder(self, folder: str) -> None:
        if folder and not self.client.folder_exists(folder):
            try:
                self.client.create_folder(folder)
            except IMAPClientError:
                if not self.client.folder_exists(folder):
                    raise

    def uids_after(self, last_uid: int) -> list[int]:
        # "n:*" always matches the highest UID even when it is below n (RFC 3501), so filter.
        return sorted(u for u in self.client.search(["UID", f"{last_uid + 1}:*"]) if u > last_uid)

    def fetch(self, uids: list[int], *, max_bytes: int) -> list[Fetched]:
        """Flags and size for ``uids``; the full message (BODY.PEEK, leaving \\Seen alone) only
        for those not yet done and not larger than ``max_bytes``."""
        meta = uid_fetch(self.client, uids, "(FLAGS RFC822.SIZE)")
        wanted = [
            uid for uid, item in meta.items()
            if not is_done({_flag_text(f) for f in item.get(b"FLAGS", ())}) and int(item.get(b"RFC822.SIZE", 0)) <= max_bytes
        ]
        bodies = uid_fetch(self.client, wanted, "(BODY.PEEK[])") if wanted else {}
        out = []
        for uid in sorted(meta):
            if uid not in uids:
                continue  # an unsolicited FETCH response for another message
            item = meta[uid]
            raw = bodies.get(uid, {}).get(b"BODY[]")
            if uid in wanted and raw is None:
                # expunged by someone else between the two FETCHes: it is no longer ours to read
                log.warning("message vanished while being fetched", extra={"mailbox": self.mailbox, "uid": uid})
                continue
            out.append(Fetched(uid, frozenset(_flag_text(f) for f in item.get(b"FLAGS", ())),
                               int(item.get(b"RFC822.SIZE", 0)), raw))
        return out

    def add_keywords(self, groups: dict[frozenset[str], list[int]]) -> None:
        """STORE +FLAGS per group of UIDs that get the same keywords (idempotent)."""
        if not self.keywords_allowed:
            return
        for words, uids in groups.items():
            if words and uids:
                self.client.add_flags(uids, sorted(words), silent=True)

    def remove_keywords(self, message_id: str, words: list[str], *, also_in: str = "") -> bool:
        """STORE -FLAGS ``words`` on the message(s) with this Message-ID, here or, when not here,
        in the folder ``also_in`` (the held folder, where held customers' mail was moved).
        Returns whether the message was found. Only keywords are touched."""
        found = self.client.search(["HEADER", "Message-ID", message_id])
        if found:
            if self.keywords_allowed:
                self.client.remove_flags(found, words, silent=True)
            return True
        if not also_in or also_in == self.mailbox or not self.client.folder_exists(also_in):
            return False
        self.client.select_folder(also_in)
        try:
            found = self.client.search(["HEADER", "Message-ID", message_id])
            if found and self.keywords_allowed:
                self.client.remove_flags(found, words, silent=True)
        finally:
            self.client.select_folder(self.mailbox)
        return bool(found)

    def move(self, uids: list[int], folder: str) -> None:
        """Move ``uids`` to ``folder`` without ever losing or deleting a message otherwise."""
        if not uids:
            return
        if self.has_move:
            self.client.move(uids, folder)
            return
        for uid in uids:
            self._copy_then_expunge(uid, folder)

    def _copy_then_expunge(self, uid: int, folder: str) -> None:
        if not self.has_uidplus:
            # Without UID EXPUNGE, removing the original could expunge other \Deleted mail:
            # keep it here (it already carries $HGHeld) and keep a copy in the held folder.
            if not self._already_in(uid, folder):
                self.client.copy([uid], folder)
            log.warning("server lacks MOVE and UIDPLUS; held message copied, original kept",
                        extra={"mailbox": self.mailbox, "uid": uid, "folder": folder})
            return
        if not self._already_in(uid, folder):
            self.client.copy([uid], folder)  # raises if the copy failed: nothing is deleted then
        self.client.add_flags([uid], [b"\\Deleted"], silent=True)
        self.client.uid_expunge([uid])

    def _already_in(self, uid: int, folder: str) -> bool:
        """True when a copy with the same Message-ID is already in ``folder`` (a crash came
        between an earlier COPY and the EXPUNGE)."""
        data = self.client.fetch([uid], ["BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)]"])
        header = next(iter(data.values()), {}).get(b"BODY[HEADER.FIELDS (MESSAGE-ID)]", b"")
        text = header.decode("ascii", "replace").strip()
        message_id = text.split(":", 1)[1].strip() if ":" in text else ""
        if not message_id:
            return False
        self.client.select_folder(folder, readonly=True)
        try:
            found = self.client.search(["HEADER", "Message-ID", message_id])
        finally:
            self.client.select_folder(self.mailbox)
        return bool(found)

    def wait_for_mail(self, timeout: float, stop: threading.Event) -> bool:
        """IDLE until new mail arrives (True), ``timeout`` passes or ``stop`` is set (False).
        The caller renews IDLE by calling again: ``timeout`` stays below the server's limit."""
        self.client.idle()
        new_mail = False
        try:
            deadline = time.monotonic() + timeout
            early_empty = 0
            while not stop.is_set():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                wait = min(1.0, remaining)
                started = time.monotonic()
                responses = self.client.idle_check(timeout=wait)
                # imapclient swallows EOF in idle_check and returns nothing at once: a socket that
                # keeps waking up with no data is a closed connection, not a quiet one.
                if not responses and time.monotonic() - started < wait / 2:
                    early_empty += 1
                    if early_empty >= 3:
                        raise ServerClosed("the connection closed during IDLE")
                    continue
                early_empty = 0
                for response in responses:
                    if isinstance(response, tuple) and len(response) >= 2 and response[1] in (b"EXISTS", b"RECENT"):
                        new_mail = True
                    if isinstance(response, tuple) and response and response[0] == b"BYE":
                        raise ServerClosed("the server said BYE during IDLE")
                if new_mail:
                    break
        finally:
            self.client.idle_done()
        return new_mail

    def noop(self) -> None:
        self.client.noop()

    def message_count(self) -> int:
        return int(self.client.folder_status(self.mailbox, ["MESSAGES"])[b"MESSAGES"])

    def close(self) -> None:
        _close_quietly(self.client)


def _keepalive(client: IMAPClient) -> None:
    """TCP keepalive, so a connection silently dropped by a NAT or firewall during a long IDLE is
    noticed in minutes rather than at the next IDLE renewal."""
    try:
        sock = client.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        for name, value in (("TCP_KEEPIDLE", 120), ("TCP_KEEPINTVL", 30), ("TCP_KEEPCNT", 4)):
            if hasattr(socket, name):
                sock.setsockopt(socket.IPPROTO_TCP, getattr(socket, name), value)
    except OSError:
        pass


def _close_quietly(client: IMAPClient) -> None:
    try:
        client.logout()
    except Exception:
        try:
            client.shutdown()
        except Exception:
            pass


@dataclass
class ImapSource:
    """One IMAP mailbox of a configured source, read by one connection."""

    cfg: SourceConfig
    mailbox: str
    password: str
    handler: MessageHandler
    checkpoints: Checkpoints
    stats: SourceStats
    batch_size: int = 100
    max_bytes: int = 50 * 1024 * 1024
    backoff: Backoff = field(default_factory=Backoff)
    connect_timeout: float = 60.0
    #: in --once mode, give up after this many failed connection attempts in a row
    once_attempts: int = 5

    @property
    def name(self) -> str:
        return self.cfg.name

    async def run(self, stop: asyncio.Event, *, once: bool = False) -> None:
        """Read the mailbox until ``stop`` is set (or, with ``once``, until it is caught up)."""
        halt = threading.Event()
        watcher = asyncio.create_task(_mirror(stop, halt))
        try:
            while not stop.is_set():
                try:
                    await self._session(stop, halt, once=once)
                    self.stats.state = "stopped"
                    return
                except Exception as exc:  # network trouble, or the store was busy: retry later
                    self.stats.state = "reconnecting"
                    self.stats.reconnects += 1
                    self.stats.last_error = type(exc).__name__
                    delay = self.backoff.next()
                    what = "IMAP connection lost" if isinstance(exc, CONNECTION_ERRORS) else "mailbox pass failed"
                    log.warning(f"{what}; reconnecting", exc_info=not isinstance(exc, CONNECTION_ERRORS),
                                extra={"source": self.name, "mailbox": self.mailbox,
                                       "error": f"{type(exc).__name__}: {exc}"[:300],
                                       "delay": round(delay, 2), "attempt": self.backoff.attempt})
                    # failures in a row: any batch that commits resets the count (and the delay)
                    if once and self.backoff.attempt >= self.once_attempts:
                        self.stats.state = "failed"
                        raise
                    try:
                        await asyncio.wait_for(stop.wait(), timeout=delay)
                    except asyncio.TimeoutError:
                        pass
            self.stats.state = "stopped"
        finally:
            watcher.cancel()

    async def _session(self, stop: asyncio.Event, halt: threading.Event, *, once: bool) -> None:
        box = await asyncio.to_thread(ImapMailbox.connect, self.cfg, self.password, self.mailbox,
                                      timeout=self.connect_timeout)
        try:
            uidvalidity = await asyncio.to_thread(box.select)
            if self.cfg.held_folder:
                await asyncio.to_thread(box.ensure_folder, self.cfg.held_folder)
            checkpoint = self.checkpoints.get(self.name, self.mailbox)
            if checkpoint is not None and checkpoint.uidvalidity != uidvalidity:
                log.warning("UIDVALIDITY changed; rescanning the mailbox",
                            extra={"source": self.name, "mailbox": self.mailbox, "uidvalidity": uidvalidity})
            self.checkpoints.start(self.name, self.mailbox, uidvalidity)
            self.stats.state = "connected"
            log.info("mailbox opened", extra={"source": self.name, "mailbox": self.mailbox, "uidvalidity": uidvalidity})
            use_idle = self.cfg.idle and box.has_idle
            while not stop.is_set():
                await self._catch_up(box, stop)
                await asyncio.to_thread(self._correct, box)
                self.backoff.reset()
                self.stats.last_success = time.time()
                if once or stop.is_set():
                    return
                if use_idle:
                    self.stats.state = "idle"
                    await asyncio.to_thread(box.wait_for_mail, float(self.cfg.idle_timeout), halt)
                else:
                    self.stats.state = "polling"
                    try:
                        await asyncio.wait_for(stop.wait(), timeout=self.cfg.poll_interval)
                    except asyncio.TimeoutError:
                        await asyncio.to_thread(box.noop)
        finally:
            await asyncio.to_thread(box.close)

    async def _catch_up(self, box: ImapMailbox, stop: asyncio.Event) -> None:
        while not stop.is_set():
            checkpoint = self.checkpoints.get(self.name, self.mailbox)
            last = checkpoint.last_uid if checkpoint else 0
            uids = await asyncio.to_thread(box.uids_after, last)
            self.stats.lag = len(uids)
            if not uids:
                return
            ahead: list[Fetched] | None = None
            for start in range(0, len(uids), self.batch_size):
                chunk = uids[start : start + self.batch_size]
                following = uids[start + self.batch_size : start + 2 * self.batch_size]
                done, ahead = await self._process_batch(box, chunk, stop, ahead, following)
                self.stats.lag = max(0, len(uids) - start - done)
                if stop.is_set():
                    return

    async def _process_batch(self, box: ImapMailbox, uids: list[int], stop: asyncio.Event,
                             fetched: list[Fetched] | None = None,
                             following: list[int] | None = None) -> tuple[int, list[Fetched] | None]:
        """Fetch (unless ``fetched`` holds the batch already), analyse, set keywords and move one
        batch, then advance the checkpoint. The blocking work runs in one worker thread per batch.
        Returns how many messages were done, and the ``following`` UIDs fetched meanwhile (None
        when they were not)."""
        halt = threading.Event()
        if stop.is_set():
            halt.set()
        watcher = asyncio.create_task(_mirror(stop, halt))
        try:
            last_uid, count, ahead = await asyncio.to_thread(self._batch, box, uids, halt, fetched, following)
        finally:
            watcher.cancel()
        if count:
            self.checkpoints.advance(self.name, self.mailbox, box.uidvalidity, last_uid)
            self.backoff.reset()
        return count, ahead

    def _correct(self, box: ImapMailbox) -> None:
        """Take back the keywords of categories people disputed since (gateway/disputes.py)."""
        for correction_id, message_id, words in self.checkpoints.pending_corrections(self.name):
            searchable = message_id.startswith("<")  # an id that is a content hash names no header
            found = searchable and box.remove_keywords(message_id, words, also_in=self.cfg.held_folder)
            self.checkpoints.correction_done(correction_id, found=found, final=not searchable)
            if found:
                log.info("disputed keywords removed", extra={"source": self.name, "mailbox": self.mailbox,
                                                             "message_id": message_id})

    def _batch(self, box: ImapMailbox, uids: list[int], halt: threading.Event,
               fetched: list[Fetched] | None = None,
               following: list[int] | None = None) -> tuple[int, int, list[Fetched] | None]:
        if fetched is None:
            fetched = box.fetch(uids, max_bytes=self.max_bytes)
        # While this batch is analysed (no IMAP traffic), the next one is read on the same
        # connection in another thread: the server's work and the network overlap the analysis.
        # It only reads (BODY.PEEK), and it is joined before this batch's keywords are stored.
        ahead = _Prefetch(box, following, self.max_bytes) if following and not halt.is_set() else None
        try:
            results = self._analyse(box, fetched, halt)
        finally:
            following_fetched = ahead.result() if ahead is not None else None
        if not results:
            return 0, 0, following_fetched
        self._apply(box, results)
        return max(item.uid for item, _ in results), len(results), following_fetched

    def _analyse(self, box: ImapMailbox, fetched: list[Fetched],
                 halt: threading.Event) -> list[tuple[Fetched, Outcome | None]]:
        results: list[tuple[Fetched, Outcome | None]] = []
        # One commit for the batch, before any keyword is set; the batch's messages are ingested
        # and looked up together first (see MessageHandler.batch).
        with self.handler.batch([item.raw for item in fetched if item.raw is not None], source=self.name):
            for item in fetched:
                if halt.is_set() and results:
                    break  # shutdown: finish the messages in hand, commit them, stop here
                location = f"{self.mailbox} uidvalidity {box.uidvalidity} uid {item.uid}"
                if item.raw is None and is_done(item.flags):
                    results.append((item, None))
                elif item.raw is None:
                    results.append((item, self.handler.quarantine_oversized(
                        source=self.name, location=location, size=item.size, limit=self.max_bytes,
                        stats=self.stats)))
                else:
                    outcome = self.handler.handle(
                        item.raw, source=self.name, location=location, stats=self.stats,
                        external={"imap": {"source": self.name, "mailbox": self.mailbox, "uid": item.uid,
                                           "uidvalidity": box.uidvalidity}},
                    )
                    results.append((item, outcome))
        return results

    def _apply(self, box: ImapMailbox, results: list[tuple[Fetched, Outcome | None]]) -> None:
        """Keywords first, then moves: a message moved to the held folder carries its keywords."""
        groups: dict[frozenset[str], list[int]] = {}
        to_move: list[int] = []
        for item, outcome in results:
            if outcome is None:
                if HELD in item.flags and self.cfg.held_folder:
                    to_move.append(item.uid)  # a crash came between the keywords and the move
                continue
            words = keywords_for(outcome.verdict)
            missing = words - item.flags
            if missing:
                groups.setdefault(frozenset(missing), []).append(item.uid)
            if outcome.verdict.held and self.cfg.held_folder:
                to_move.append(item.uid)
        box.add_keywords(groups)
        if to_move:
            box.move(to_move, self.cfg.held_folder)
            log.info("held customers' mail moved", extra={"source": self.name, "mailbox": self.mailbox,
                                                           "count": len(to_move), "folder": self.cfg.held_folder})


class _Prefetch:
    """``box.fetch(uids)`` in a thread of its own. ``result()`` waits for it and gives the fetched
    messages, or None when the fetch failed (the batch is then fetched again in the ordinary way,
    where a broken connection shows as usual)."""

    def __init__(self, box: ImapMailbox, uids: list[int], max_bytes: int) -> None:
        self._box, self._uids, self._max_bytes = box, uids, max_bytes
        self._fetched: list[Fetched] | None = None
        self._thread = threading.Thread(target=self._run, name="imap-prefetch", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self._fetched = self._box.fetch(self._uids, max_bytes=self._max_bytes)
        except Exception as exc:  # noqa: BLE001 - reported, then read again by the next batch
            log.info("reading ahead failed; the batch is fetched again",
                     extra={"mailbox": self._box.mailbox, "error": f"{type(exc).__name__}: {exc}"[:300]})

    def result(self) -> list[Fetched] | None:
        self._thread.join()
        return self._fetched


async def _mirror(stop: asyncio.Event, halt: threading.Event) -> None:
    """Let worker threads (IDLE) see the asyncio stop event."""
    await stop.wait()
    halt.set()
