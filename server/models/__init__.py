"""All tables, imported together so SQLModel.metadata is complete for Alembic."""

from server.models import attendance, catalogue, media, people, reports, system

__all__ = ["attendance", "catalogue", "media", "people", "reports", "system"]
