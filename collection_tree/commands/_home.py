"""The Dagster instance folder every command uses (``DAGSTER_HOME``), set up once per process."""

from __future__ import annotations

from pathlib import Path

from collection_tree import settings


def ensure_dagster_home(cfg: settings.Settings) -> Path:
    """The Dagster instance folder (project-local by default, so run history persists between commands).
    A home without a dagster.yaml gets the project's (run queue, LLM pool limit, no telemetry): Dagster
    would otherwise warn on every command and run without those limits."""
    home = settings.use_dagster_home(cfg)
    config = home / "dagster.yaml"
    template = settings.project_dir() / ".dagster_home" / "dagster.yaml"
    if not config.exists():
        from collection_tree.core.atomic import atomic_write_bytes

        text = template.read_bytes() if template.exists() else b"telemetry:\n  enabled: false\n"
        atomic_write_bytes(config, text)
    return home
