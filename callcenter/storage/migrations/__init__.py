"""Alembic migrations of the engine's schema (run by ``callcenter db upgrade``)."""
