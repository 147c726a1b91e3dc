"""The common Date shape, read directly, gives what the general parser gives."""

from __future__ import annotations

import random
from datetime import UTC, timezone
from email.utils import format_datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.ingest.reader import _common_date, _received_at


def _slow(value: str):
    from email.utils import parsedate_to_datetime

    try:
        when = parsedate_to_datetime(value)
    except Exception:  # noqa: BLE001 - as the reader: any failure is "unreadable"
        return "unreadable"
    if when is None:
        return None
    if when.tzinfo is None:
        return when.replace(tzinfo=UTC)
    try:
        return when.astimezone(UTC)
    except (OverflowError, ValueError):
        return "out of range"


def _check(value: str) -> None:
    fast = _common_date(value)
    if fast is not None:
        slow = _slow(value)
        assert repr(fast) == repr(slow), value
        assert fast.utcoffset() == slow.utcoffset()


@settings(max_examples=500, deadline=None, derandomize=True)
@given(st.sampled_from(["", "Mon, ", "Sun, ", "Xyz, "]), st.integers(0, 40),
       st.sampled_from(["Jan", "Feb", "Jun", "Dec", "jan", "Foo"]), st.integers(900, 10000),
       st.integers(0, 25), st.integers(0, 61), st.integers(0, 61), st.sampled_from("+-"),
       st.integers(0, 30), st.integers(0, 99))
def test_common_dates_agree_with_the_general_parser(dow, day, month, year, hh, mm, ss, sign, zh, zm) -> None:
    _check(f"{dow}{day:02d} {month} {year} {hh:02d}:{mm:02d}:{ss:02d} {sign}{zh:02d}{zm:02d}")
    _check(f"{dow}{day} {month} {year} {hh:02d}:{mm:02d}:{ss:02d} {sign}{zh:02d}{zm:02d}")


def test_what_clients_write_is_read_directly_and_the_same() -> None:
    rng = random.Random(3)
    from datetime import datetime, timedelta

    for _ in range(1000):
        zone = timezone(timedelta(minutes=rng.randrange(-14 * 60, 14 * 60 + 1)))
        when = datetime(2026, 1, 1, tzinfo=zone) + timedelta(seconds=rng.randrange(0, 3 * 365 * 86400))
        value = format_datetime(when)
        assert _common_date(value) is not None
        _check(value)
    assert _common_date("Mon, 05 Jan 2026 08:00:00 -0000") == _slow("Mon, 05 Jan 2026 08:00:00 -0000")


def test_other_shapes_and_bad_values_take_the_general_path() -> None:
    warnings: list[str] = []
    for value in ("Mon, 5 Jan 26 08:00:00 +0000", "Mon, 05 Jan 2026 08:00 +0000", "05 Jan 2026 08:00:00 GMT",
                  "Tue, 31 Feb 2026 08:00:00 +0000", "Mon, 05 Jan 2026 25:00:00 +0000 "):
        assert _common_date(value) is None
    assert _received_at("Tue, 31 Feb 2026 08:00:00 +0000", warnings) is None
    assert warnings and "unreadable Date header" in warnings[0]
