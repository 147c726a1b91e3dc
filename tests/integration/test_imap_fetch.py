"""Against a real Dovecot: the source's FETCH reader returns what imapclient's ``fetch`` returns."""

from __future__ import annotations

import pytest

from bench.mailcorpus import corpus
from gateway.mail.fetch import uid_fetch
from tests.integration.dovecot import Dovecot

pytestmark = pytest.mark.integration


def test_flags_sizes_and_bodies_read_as_imapclient_reads_them(dovecot: Dovecot) -> None:
    raws = corpus(60, seed=2) + [b"Subject: empty body\r\n\r\n", b"Subject: 8bit\r\n\r\n\xe3\x81\x82 caf\xc3\xa9\r\n"]
    dovecot.append(raws)
    client = dovecot.client()
    try:
        client.select_folder("INBOX")
        uids = sorted(client.search("ALL"))
        client.add_flags(uids[:10], ["$HGChecked", "\\Seen"])
        client.add_flags(uids[5:7], ["$HG_threat", "$Harassment"])
        asked = uids[3:] + [max(uids) + 50]  # one UID that does not exist
        for items, names in (("(FLAGS RFC822.SIZE)", ["FLAGS", "RFC822.SIZE"]), ("(BODY.PEEK[])", ["BODY.PEEK[]"])):
            assert uid_fetch(client, asked, items) == client.fetch(asked, names)
        bodies = uid_fetch(client, uids, "(BODY.PEEK[])")
        assert sorted(bodies[u][b"BODY[]"].replace(b"\r\n", b"\n") for u in uids) == sorted(
            r.replace(b"\r\n", b"\n") for r in raws)
        assert uid_fetch(client, [], "(BODY.PEEK[])") == {}
    finally:
        client.logout()
