"""A real Dovecot IMAP server on 127.0.0.1 for the integration tests.

Follows ../shared/reference/TESTING.md: the config lives in a temporary directory, ``imap-login``
runs as ``dovenull``, mail is stored under uid 65534 with ``first_valid_uid = 0``, no chroot, no
SSL, plaintext auth, and a free port of our own (Debian may run a system Dovecot on port 143).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import find_binary, require

MAIL_UID = 65534
USER = "support"
PASSWORD = "secret"

_CONF = """\
protocols = imap
listen = 127.0.0.1
base_dir = {d}/run
state_dir = {d}/state
log_path = {d}/dovecot.log
info_log_path = {d}/dovecot.log
{ssl}
disable_plaintext_auth = no
auth_mechanisms = plain login
default_login_user = dovenull
default_internal_user = dovenull
first_valid_uid = 0
mail_location = maildir:{d}/mail/%u
mail_plugins =
imap_idle_notify_interval = 1 secs
{protocol_imap}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {d}/passwd
}}
userdb {{
  driver = static
  args = uid={uid} gid={uid} home={d}/home/%u
}}
service imap-login {{
  chroot =
  user = dovenull
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {imaps_port}
  }}
}}
service anvil {{
  chroot =
}}
service stats {{
  unix_listener stats-reader {{
    mode = 0666
  }}
  unix_listener stats-writer {{
    mode = 0666
  }}
}}
namespace inbox {{
  inbox = yes
  separator = /
  mailbox Held {{
    auto = create
  }}
}}
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Dovecot:
    """A running Dovecot; ``stop()`` ends it. ``capabilities_off`` removes IMAP capabilities
    (for example ``("IDLE", "MOVE")``) to exercise the daemon's fallbacks."""

    root: Path
    port: int
    process: subprocess.Popen[bytes] | None = None
    host: str = "127.0.0.1"
    user: str = USER
    password: str = PASSWORD

    owns_root: bool = False
    imaps_port: int = 0  # implicit-TLS port when started with tls=True (cert: root/cert.pem)

    @classmethod
    def start(cls, root: Path | None = None, *, capabilities_off: tuple[str, ...] = (),
              tls: bool = False) -> "Dovecot":
        """Start a server in ``root`` (default: a new directory under /tmp, removed by ``stop``).
        Dovecot's unprivileged processes must reach ``root``, so pytest's 0700 ``tmp_path`` will not do."""
        binary = find_binary("dovecot")
        require(binary is not None, "Dovecot (Debian package dovecot-imapd)")
        assert binary is not None
        owns = root is None
        root = Path(tempfile.mkdtemp(prefix="hg-dovecot-")) if root is None else root
        root.mkdir(parents=True, exist_ok=True)
        for sub in ("run", "state", "mail", "home"):
            (root / sub).mkdir(exist_ok=True)
        (root / "passwd").write_text(f"{USER}:{{PLAIN}}{PASSWORD}\n")
        protocol_imap = ""
        if capabilities_off:
            caps = _default_capabilities(capabilities_off)
            protocol_imap = f"protocol imap {{\n  imap_capability = {caps}\n}}\n"
        port = free_port()
        imaps_port = free_port() if tls else 0
        ssl = "ssl = no"
        if tls:
            _self_signed(root)
            ssl = f"ssl = yes\nssl_cert = <{root}/cert.pem\nssl_key = <{root}/key.pem"
        conf = _CONF.format(d=root, uid=MAIL_UID, port=port, protocol_imap=protocol_imap, ssl=ssl,
                            imaps_port=imaps_port)
        (root / "dovecot.conf").write_text(conf)
        for sub in ("mail", "home"):
            os.chown(root / sub, MAIL_UID, MAIL_UID)
        os.chmod(root, 0o755)
        proc = subprocess.Popen(
            [binary, "-F", "-c", str(root / "dovecot.conf")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        server = cls(root=root, port=port, process=proc, owns_root=owns, imaps_port=imaps_port)
        server._wait_ready()
        return server

    def _wait_ready(self, timeout: float = 15.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                err = self.process.stderr.read().decode() if self.process.stderr else ""
                log = (self.root / "dovecot.log").read_text() if (self.root / "dovecot.log").exists() else ""
                raise RuntimeError(f"dovecot exited at start: {err}\n{log}")
            try:
                with socket.create_connection((self.host, self.port), timeout=1) as s:
                    if s.recv(100).startswith(b"* OK"):
                        return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("dovecot did not start listening in time")

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None
        if self.owns_root:
            shutil.rmtree(self.root, ignore_errors=True)

    # -- helpers the tests use to look at the mailbox directly --------------------------------

    def client(self):  # -> IMAPClient
        from imapclient import IMAPClient

        c = IMAPClient(self.host, port=self.port, ssl=False, timeout=10)
        c.login(self.user, self.password)
        return c

    def append(self, raws: list[bytes], folder: str = "INBOX") -> None:
        c = self.client()
        try:
            if hasattr(c, "multiappend") and len(raws) > 1:
                for i in range(0, len(raws), 500):
                    c.multiappend(folder, raws[i : i + 500])
            else:
                for raw in raws:
                    c.append(folder, raw)
        finally:
            c.logout()

    def flags(self, folder: str = "INBOX") -> dict[str, set[str]]:
        """Message-ID -> flags/keywords, for every message in ``folder``."""
        c = self.client()
        try:
            c.select_folder(folder, readonly=True)
            uids = c.search("ALL")
            out: dict[str, set[str]] = {}
            if not uids:
                return out
            data: dict = {}
            for i in range(0, len(uids), 2000):  # a list of tens of thousands is longer than Dovecot takes
                data.update(c.fetch(uids[i:i + 2000], ["FLAGS", "BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)]"]))
            for item in data.values():
                header = item[b"BODY[HEADER.FIELDS (MESSAGE-ID)]"].decode().strip()
                mid = header.split(":", 1)[1].strip() if ":" in header else ""
                assert mid not in out, f"{mid} appears twice in {folder}"
                out[mid] = {f.decode() if isinstance(f, bytes) else f for f in item[b"FLAGS"]}
            return out
        finally:
            c.logout()

    def count(self, folder: str = "INBOX") -> int:
        c = self.client()
        try:
            return int(c.folder_status(folder, ["MESSAGES"])[b"MESSAGES"])
        finally:
            c.logout()


def _self_signed(root: Path) -> None:
    """A certificate for 127.0.0.1 that clients can trust through SSL_CERT_FILE=root/cert.pem."""
    binary = find_binary("openssl")
    require(binary is not None, "openssl (to make the test server's certificate)")
    subprocess.run(
        [binary or "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-keyout", str(root / "key.pem"), "-out", str(root / "cert.pem"), "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True,
    )
    os.chmod(root / "key.pem", 0o644)


def _default_capabilities(off: tuple[str, ...]) -> str:
    caps = (
        "IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE SORT SORT=DISPLAY THREAD=REFERENCES "
        "THREAD=REFS THREAD=ORDEREDSUBJECT MULTIAPPEND URL-PARTIAL CATENATE UNSELECT CHILDREN "
        "NAMESPACE UIDPLUS LIST-EXTENDED I18NLEVEL=1 CONDSTORE QRESYNC ESEARCH ESORT SEARCHRES "
        "WITHIN CONTEXT=SEARCH LIST-STATUS BINARY MOVE SNIPPET=FUZZY PREVIEW=FUZZY "
        "LITERAL+ NOTIFY SPECIAL-USE"
    )
    return " ".join(c for c in caps.split() if c not in off)
