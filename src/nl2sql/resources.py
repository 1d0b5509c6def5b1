"""Folders shipped with the package: templates, static files, migrations."""

from __future__ import annotations

from pathlib import Path


def resource_path(name: str) -> Path:
    """A folder shipped with the package (templates, alembic, static), or the repo's copy in a checkout."""
    packaged = Path(__file__).parent / "_resources" / name
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[2] / name
