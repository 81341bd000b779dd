from sqlalchemy.orm import DeclarativeBase


class Base(DeclarativeBase):
    """Declarative base of every ORM model; Alembic migrations are written against its metadata."""
