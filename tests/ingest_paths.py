"""Ingest with and without its direct paths, for tests that compare the two."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import gateway.ingest.reader as reader
from gateway.errors import IngestError
from gateway.ingest import ingest


def read(raw: bytes) -> object:
    """What ingest makes of ``raw``: a Message, or the error's text."""
    try:
        return ingest(raw, source="t")
    except IngestError as exc:
        return f"IngestError: {exc}"


@contextmanager
def standard_path() -> Iterator[None]:
    """Ingest through the standard parser and ``extract_body`` only (no ``split_head``: neither
    ``simple_body`` nor ``parse_simple``)."""
    saved = reader.split_head
    reader.split_head = lambda data: None
    try:
        yield
    finally:
        reader.split_head = saved


def ingest_both(raw: bytes) -> tuple[object, object]:
    """What ingest makes of ``raw`` with and without the direct paths."""
    fast = read(raw)
    with standard_path():
        std = read(raw)
    return fast, std
