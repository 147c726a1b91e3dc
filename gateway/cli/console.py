"""``harassment-gateway console``: run the team-lead console alone, or hash a console password.

``console hash-password`` prints the ``password_hash`` value for a ``console.users`` entry (the
password is read from the terminal without echo, or from stdin with ``--stdin``; never from the
command line, where it would land in shell history). ``console serve`` starts the console with
uvicorn on ``console.listen`` (127.0.0.1:8080 unless the config says otherwise).
"""

from __future__ import annotations

import argparse
import dataclasses
import getpass
import ipaddress
import logging
import sys

from gateway.errors import ConfigError

log = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser("console", help="the team-lead console (web)")
    sub = parser.add_subparsers(dest="console_command", metavar="ACTION")

    hp = sub.add_parser("hash-password", help="print a scrypt password_hash for console.users")
    hp.add_argument("--stdin", action="store_true", help="read the password from the first line of stdin")
    hp.add_argument("--n", type=int, default=None, metavar="N",
                    help="scrypt cost, a power of two of at least 16384 (default 32768)")
    hp.set_defaults(func=_hash_password)

    serve = sub.add_parser("serve", help="serve the console alone with uvicorn")
    serve.add_argument("--config", help="config file (YAML); embedded defaults without it")
    serve.add_argument("--listen", help="HOST:PORT, overriding console.listen")
    serve.set_defaults(func=_serve)

    parser.set_defaults(func=lambda args: (parser.print_help(), 2)[1])


def _hash_password(args: argparse.Namespace) -> int:
    from gateway.web.auth import DEFAULT_N, hash_password

    if args.stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = getpass.getpass("Password: ")
        if getpass.getpass("Again: ") != password:
            print("harassment-gateway: error: the passwords differ", file=sys.stderr)
            return 2
    if len(password) < 10:
        print("harassment-gateway: error: use a password of at least 10 characters", file=sys.stderr)
        return 2
    n = args.n or DEFAULT_N
    if n < 2**14 or n & (n - 1):
        print("harassment-gateway: error: --n must be a power of two of at least 16384", file=sys.stderr)
        return 2
    print(hash_password(password, n=n))
    return 0


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from gateway.config import load_config
    from gateway.store.db import Database
    from gateway.web.app import create_app

    config = load_config(args.config)
    listen = args.listen or config.console.listen
    host, sep, port = listen.rpartition(":")
    if not sep or not port.isdigit():
        raise ConfigError(f"--listen: expected HOST:PORT, got {listen!r}")
    host = host.strip("[]") or "127.0.0.1"
    if not _is_loopback(host):
        log.warning("console: listening on %s, reachable beyond this machine; put it behind TLS", host)
    # the app checks the address actually served (no users: loopback only, by a one-time token)
    config = dataclasses.replace(config, console=dataclasses.replace(config.console, listen=listen))
    db = Database.open(config.resolve(config.store.path))
    try:
        app = create_app(config, db)
        if app.state.console.login_token:  # the terminal only, never the log
            print(f"Console: http://{listen}/login — token: {app.state.console.login_token}", flush=True)
        uvicorn.run(app, host=host, port=int(port), log_level="info")
    finally:
        db.close()
    return 0


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
