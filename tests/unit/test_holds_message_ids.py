"""A hold's message ids are added without decoding the stored list (a held customer's flood puts
thousands of them on one hold): the text stored, and whether an id is already there, are what
decoding, appending and encoding again would give, for any ids."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

from hypothesis import given, settings, strategies as st

from gateway.holds import HoldStore, _json_append, _json_holds
from gateway.audit import json_ascii
from gateway.store.db import Database

T0 = datetime(2026, 6, 1, 9, 0, tzinfo=timezone.utc)
_IDS = st.text(alphabet=st.sampled_from(['a', 'b', '"', "\\", ",", " ", "]", "[", "<", ">", "@", "\u00e9", "返"]),
               max_size=6)


@settings(max_examples=400, deadline=None, derandomize=True)
@given(st.lists(_IDS, max_size=6), _IDS)
def test_membership_and_append_equal_decoding(ids: list[str], item: str) -> None:
    stored = json_ascii(ids)
    assert _json_holds(stored, item) == (item in ids)
    assert _json_append(stored, [item], json_ascii) == json_ascii([*ids, item])


def test_a_hold_gains_each_message_once(tmp_path: Path) -> None:
    holds = HoldStore(Database.open(tmp_path / "h.db"))
    hold = holds.apply("a@x", "customer", "violence", source="imap", message_id='<m"0@x>', now=T0)
    for mid in ['<m"0@x>', "<m1@x>", '<m"0@x>', "<m1@x>", "m1", '<m"0@x>x']:
        holds.add_evidence(hold.id, [], message_id=mid, now=T0)
    assert holds.get(hold.id).message_ids == ['<m"0@x>', "<m1@x>", "m1", '<m"0@x>x']
    stored = holds.db.query_one("SELECT message_ids FROM holds WHERE id = ?", (hold.id,))[0]
    assert stored == json_ascii(json.loads(stored))  # the spelling a full rewrite would store
