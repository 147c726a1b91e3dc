"""Persistence. ``Database`` owns the SQLite file; each concept keeps its own tables through a
component schema registered with :func:`gateway.store.db.register_schema`, so a server database can
be added later behind the same repository classes.
"""

from gateway.store.db import Database, register_schema

__all__ = ["Database", "register_schema"]
