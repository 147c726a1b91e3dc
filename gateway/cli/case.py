"""``harassment-gateway case export CUSTOMER --out DIR``: a case file for counsel or the police."""

from __future__ import annotations

import argparse

from gateway.case import export_case
from gateway.cli.storeopts import add_db, open_db


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser("case", help="export a customer's case file (HTML and JSON)")
    sub = parser.add_subparsers(dest="case_command", metavar="ACTION", required=True)
    p = sub.add_parser("export", help="write case-<customer>.html and .json into DIR")
    add_db(p)
    p.add_argument("customer", help="the customer key (an address, or any linked key)")
    p.add_argument("--out", metavar="DIR", required=True)
    p.set_defaults(func=_export)


def _export(args: argparse.Namespace) -> int:
    with open_db(args) as db:
        files = export_case(db, args.customer, args.out)
    print(f"{files.messages} messages")
    print(f"{files.html_path}  sha256 {files.html_sha256}")
    print(f"{files.json_path}  sha256 {files.json_sha256}")
    return 0
