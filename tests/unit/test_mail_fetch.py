"""The IMAP source's FETCH reader gives what imapclient's parser gives, for the answers it knows,
and hands everything else to imapclient's parser."""

from __future__ import annotations

from typing import Any

import pytest
from imapclient.response_parser import parse_fetch_response

from gateway.mail import fetch
from gateway.mail.fetch import parse_fetch


def imapclient_answer(data: list[Any], uids: list[int]) -> dict[int, dict[bytes, Any]]:
    """What ``IMAPClient.fetch`` returns for imaplib's ``data``."""
    parsed = parse_fetch_response(data, True, True)
    return {uid: parsed[uid] for uid in uids if uid in parsed}


def known(data: list[Any]) -> bool:
    return fetch._parse_known(data) is not None


META = [b"1 (UID 11 FLAGS (\\Seen \\Recent $HGChecked) RFC822.SIZE 385)", b"2 (UID 12 FLAGS () RFC822.SIZE 507)",
        b"3 (RFC822.SIZE 9 FLAGS (\\Flagged) UID 13)"]
BODIES = [(b"1 (UID 11 BODY[] {5}", b"hello"), b")", (b"2 (UID 12 BODY[] {0}", b""), b")",
          (b"3 (BODY[] {3}", b"a)b"), b" UID 13)", (b"4 (UID 14 FLAGS (\\Seen) BODY[] {2}", b"\r\n"), b")"]


@pytest.mark.parametrize("data, uids", [
    (META, [11, 12, 13]),
    (META, [12]),  # only the UIDs asked for
    (BODIES, [11, 12, 13, 14]),
    ([None], [1]),  # nothing matched
    ([], [1]),
])
def test_the_answers_the_source_gets_are_read_directly_and_the_same(data: list[Any], uids: list[int]) -> None:
    assert known(data)
    assert parse_fetch(data, uids) == imapclient_answer([d for d in data if d is not None], uids)


@pytest.mark.parametrize("data", [
    [b"1 (UID 11 FLAGS (\\Seen) RFC822.SIZE 385)", b"2 (FLAGS (\\Deleted))"],  # unsolicited, no UID
    [b"1 (UID 11 FLAGS (\\Seen 123 NIL) RFC822.SIZE 385)"],  # numbers and NIL become other types
    [b'1 (UID 11 FLAGS ("quoted") RFC822.SIZE 385)'],
    [b"1 (UID 11 INTERNALDATE \"17-Jul-1996 02:44:25 -0700\")"],  # an item this reader does not know
    [b"1 (UID 11 RFC822.SIZE 0385)"],
    [b"1 (uid 11 FLAGS () RFC822.SIZE 3)"],
    [b"1 (UID 11 FLAGS () RFC822.SIZE 3)", b"2 (UID 11 FLAGS (\\Seen))"],  # two answers for one UID
    [(b"1 (UID 11 BODY[] {5}", b"hello"), b" FLAGS (\\Seen NIL))"],
    [(b"1 (UID 11 BODY[HEADER] {5}", b"hello"), b")"],
])
def test_other_answers_go_to_imapclient_s_parser(data: list[Any]) -> None:
    assert not known(data)
    assert parse_fetch(data, [11]) == imapclient_answer(data, [11])


def test_a_literal_of_the_wrong_length_is_not_read_directly() -> None:
    data = [(b"1 (UID 11 BODY[] {6}", b"hello"), b")"]
    assert not known(data)
