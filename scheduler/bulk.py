"""Moved to storage/bulk.py (statements live in storage/); kept for a moment so that a checkout
of this commit still imports. Removed with the modules that used it."""

from storage.bulk import among, insert_rows, update_rows  # noqa: F401
