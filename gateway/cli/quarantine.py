"""``harassment-gateway quarantine list|show|export``: the messages the gateway could not analyse.

The daemon keeps every message it could not parse or analyse in the store's quarantine table,
with the reason and (until retention purges them) the raw bytes, and flags it ``$HGQuarantined``
on the server. These commands let ops see what is there, read an item's headers and reason, and
get the raw message back as an ``.eml`` file to inspect or to hand to a developer. They only read:
nothing is deleted or changed.
"""

from __future__ import annotations

import argparse
import sys
from email.header import decode_header, make_header
from email.parser import BytesHeaderParser
from email.policy import compat32
from pathlib import Path

from gateway.cli.storeopts import add_db, open_db, print_json, short
from gateway.errors import GatewayError
from gateway.quarantine import Quarantine, QuarantinedItem

#: The headers ``show`` prints, when the raw message is still kept.
HEADERS = ("From", "To", "Subject", "Date", "Message-ID")


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser("quarantine", help="list, show or export the messages that could not be analysed")
    sub = parser.add_subparsers(dest="quarantine_command", metavar="ACTION", required=True)

    p = sub.add_parser("list", help="every quarantined message, oldest first, with its reason")
    add_db(p)
    p.add_argument("--source", default=None, help="only this source (the config's source name)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_list)

    p = sub.add_parser("show", help="one item: where it came from, why, and its headers")
    p.add_argument("id", type=int)
    add_db(p)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_show)

    p = sub.add_parser("export", help="write an item's raw message (an .eml file) for inspection")
    p.add_argument("id", type=int)
    add_db(p)
    p.add_argument("-o", "--output", metavar="FILE", default=None,
                   help="the file to write (it must not exist yet); standard output by default")
    p.set_defaults(func=_export)


def _item_json(item: QuarantinedItem) -> dict[str, object]:
    return {"id": item.id, "source": item.source, "location": item.location, "reason": item.reason,
            "size": item.size, "recorded_at": item.recorded_at}


def _list(args: argparse.Namespace) -> int:
    with open_db(args) as db:
        items = Quarantine(db).list(args.source)
        if args.json:
            print_json([_item_json(i) for i in items])
            return 0
        if not items:
            print("nothing quarantined" + (f" from {args.source}" if args.source else ""))
            return 0
        print(f"{'ID':>5}  {'RECORDED':<16}  {'SOURCE':<12} {'SIZE':>9}  {'LOCATION':<32} REASON")
        for i in items:
            print(f"{i.id:>5}  {i.recorded_at[:16].replace('T', ' '):<16}  {short(i.source, 12):<12} {i.size:>9}  "
                  f"{short(i.location, 32):<32} {short(i.reason, 80)}")
        return 0


def headers_of(raw: bytes) -> tuple[dict[str, str], str | None]:
    """The headers ``show`` prints, decoded for reading; and an error when they can't be read
    (the message is malformed: that is usually why it is here)."""
    try:
        parsed = BytesHeaderParser(policy=compat32).parsebytes(raw)
    except Exception as exc:  # a malformed header block must not stop the command
        return {}, f"the headers could not be read: {exc}"
    out: dict[str, str] = {}
    for name in HEADERS:
        value = parsed.get(name)
        if value is None:
            continue
        try:
            out[name] = " ".join(str(make_header(decode_header(str(value)))).split())
        except Exception:  # an undecodable encoded word: show it as it is
            out[name] = " ".join(str(value).split())
    return out, None


def _get(db: object, item_id: int) -> tuple[QuarantinedItem, str, bytes | None]:
    found = Quarantine(db).get(item_id)  # type: ignore[arg-type]
    if found is None:
        raise GatewayError(f"no quarantined item {item_id} (see `harassment-gateway quarantine list`)")
    return found


def _show(args: argparse.Namespace) -> int:
    with open_db(args) as db:
        item, sha256, raw = _get(db, args.id)
        headers, error = headers_of(raw) if raw is not None else ({}, None)
        if args.json:
            print_json({**_item_json(item), "sha256": sha256, "raw_kept": raw is not None, "headers": headers,
                        "header_error": error})
            return 0
        print(f"item        {item.id}")
        print(f"source      {item.source}")
        print(f"location    {item.location}")
        print(f"recorded    {item.recorded_at}")
        print(f"size        {item.size} bytes")
        print(f"sha256      {sha256}")
        print(f"reason      {item.reason}")
        if raw is None:
            print("raw         not kept (purged by retention, or too large to fetch)")
        else:
            print(f"raw         kept: `harassment-gateway quarantine export {item.id} -o item-{item.id}.eml`")
            for name, value in headers.items():
                print(f"{name + ':':<11} {value}")
            if error:
                print(error)
        return 0


def _export(args: argparse.Namespace) -> int:
    with open_db(args) as db:
        item, _, raw = _get(db, args.id)
        if raw is None:
            raise GatewayError(f"item {item.id}'s raw message is not kept (purged by retention, or too large to fetch)")
        if args.output is None:
            sys.stdout.buffer.write(raw)
            sys.stdout.buffer.flush()
            return 0
        path = Path(args.output)
        try:
            with path.open("xb") as fh:  # never overwrite
                fh.write(raw)
        except FileExistsError:
            raise GatewayError(f"{path} exists already; choose another file") from None
        except OSError as exc:
            raise GatewayError(f"cannot write {path}: {exc.strerror or exc}") from None
        print(f"wrote {path} ({len(raw)} bytes) from item {item.id}", file=sys.stderr)
        return 0
