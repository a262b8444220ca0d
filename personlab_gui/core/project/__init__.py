"""Annotation projects: the SQLite file (``database``: schema, migrations, connections),
the records it holds (``records``), the ``Project`` API over it (``store``), COCO import
and export (``coco``) and train/validation splits (``split``)."""

from .database import ProjectExistsError, database_errors
from .records import ImageRecord, PersonRecord
from .store import Project

__all__ = ["ImageRecord", "PersonRecord", "Project", "ProjectExistsError", "database_errors"]
