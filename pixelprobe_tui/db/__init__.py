"""Database layer: typed models, engine factory, migration runner and repository queries.

Callers open a database with :func:`open_database`, which resolves the URL, connects and upgrades to head.
"""

from pixelprobe_tui.db.engine import Database, resolve_database_url
from pixelprobe_tui.db.migrate import open_database
from pixelprobe_tui.errors import DatabaseError

__all__ = ["Database", "DatabaseError", "open_database", "resolve_database_url"]
