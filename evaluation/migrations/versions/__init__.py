"""Alembic revisions, one file each (loaded by path, not imported as a package)."""
