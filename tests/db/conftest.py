"""The storage suite runs on SQLite and PostgreSQL through the ``database_url`` fixture (tests/conftest.py)."""
