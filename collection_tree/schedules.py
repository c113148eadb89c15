"""``weekly_rebuild``: a periodic full build. Cron from COLLECTION_TREE_REBUILD_CRON (default Monday
03:00), time zone from COLLECTION_TREE_TIMEZONE (default UTC). Off by default, like every Dagster
schedule: turn it on in the UI or with ``dagster schedule start weekly_rebuild``. Unchanged inputs
make the rebuild cheap: every LLM answer comes from the response cache."""

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dagster import DagsterInvalidDefinitionError, DefaultScheduleStatus, ScheduleDefinition

from collection_tree.jobs import collection_tree_job
from collection_tree.resources.llm import UNATTENDED_TAG
from collection_tree.settings import Settings, current

CRON_ENV = Settings.env_name("rebuild_cron")
TIMEZONE_ENV = Settings.env_name("timezone")


def build_weekly_rebuild(cfg: Settings | None = None) -> ScheduleDefinition:
    """The schedule on ``cfg``'s (default: the environment's) cron and time zone."""
    cfg = cfg or current()
    cron, timezone = cfg.rebuild_cron.strip(), cfg.timezone.strip()
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"{TIMEZONE_ENV}: expected an IANA time zone like 'Europe/Berlin', got {timezone!r}") from exc
    try:
        return _schedule(cron, timezone)
    except DagsterInvalidDefinitionError as exc:
        raise ValueError(f"{CRON_ENV}: expected a cron expression like '{Settings.rebuild_cron}', "
                         f"got {cron!r}") from exc


def _schedule(cron: str, timezone: str) -> ScheduleDefinition:
    return ScheduleDefinition(
        name="weekly_rebuild",
        job=collection_tree_job,
        cron_schedule=cron,
        execution_timezone=timezone,
        default_status=DefaultScheduleStatus.STOPPED,
        tags={"collection_tree/trigger": "weekly_rebuild", UNATTENDED_TAG: "true"},
        description=f"Full rebuild on cron '{cron}' ({timezone}); set {CRON_ENV} / {TIMEZONE_ENV} to change.",
    )
