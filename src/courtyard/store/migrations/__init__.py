"""Alembic migrations of the store, shipped in the package (run by ``courtyard.store.schema``)."""
