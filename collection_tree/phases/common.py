"""Helpers every LLM phase shares: parameters per profile, batching, a stop-aware thread pool, progress,
track summaries."""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field, fields, replace
from typing import Any, ClassVar, Self, TypeVar, get_args

import pandas as pd

from collection_tree.llm.interface import StopRequested, Tier

log = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")

# progress(fraction_of_this_phase in [0, 1], message)
Progress = Callable[[float, str], None]

# The reference's percent bands per phase, for whole-build progress.
PHASE_BANDS: dict[str, tuple[int, int]] = {
    "seed_clusters": (0, 5),
    "named_clusters": (5, 25),
    "assigned_clusters": (25, 40),
    "refined_clusters": (40, 55),
    "categories": (55, 65),
    "collection_leaves": (65, 85),
    "metadata_suggestions": (85, 98),
    "collection_tree": (98, 100),
}


PROFILES = ("default", "seed")


def check_profile(profile: str) -> str:
    """``profile`` if it is a known profile name, else ``ValueError``."""
    if profile not in PROFILES:
        raise ValueError(f"profile: expected 'default' or 'seed', got {profile!r}")
    return profile


# A phase whose share of calls that ended in a fallback exceeds this fails instead of storing a degraded
# result (the API is failing: an outage must not replace the last good tree).
DEFAULT_MAX_FALLBACK_SHARE = 0.2


def param(default: Any, help: str, **options: Any) -> Any:
    """A phase parameter: ``default`` is the default profile's value, ``help`` what it does (the
    asset's run config description; the default and the seed profile's value are appended)."""
    return field(default=default, metadata={"help": help}, **options)


@dataclass(frozen=True)
class PhaseParams:
    """Base of every phase's frozen params dataclass: one way to pick a profile and apply overrides.

    A subclass (a ``@dataclass(frozen=True)`` of ``param(default, help)`` fields whose defaults are
    the default profile) sets ``PHASE`` (its name in error messages), ``SEED`` (the fields the seed
    profile, i.e. the reference, sets otherwise) and overrides ``validate()`` with its bounds. Each
    field is also the asset's run config (``assets/parameters.py`` derives it): declare it here only.
    """


    PHASE: ClassVar[str] = "phase"
    SEED: ClassVar[Mapping[str, Any]] = {}

    @classmethod
    def describe(cls, name: str) -> str:
        """A parameter's help with its default (and the seed profile's value when it differs)."""
        spec = next(f for f in fields(cls) if f.name == name)  # type: ignore[arg-type]
        text = spec.metadata.get("help", "").rstrip(".")
        values = f"default {spec.default!r}"
        if name in cls.SEED and cls.SEED[name] != spec.default:
            values += f"; seed {cls.SEED[name]!r}"
        return f"{text} ({values})." if text else f"({values})"

    @classmethod
    def for_profile(cls, profile: str = "default", **overrides: Any) -> Self:
        """The profile's values, with ``overrides`` applied as :meth:`with_overrides` does."""
        base = cls(**cls.SEED) if check_profile(profile) == "seed" else cls()
        return base.with_overrides(**overrides)

    def with_overrides(self, **overrides: Any) -> Self:
        """Replace the fields given a value (``None`` keeps the current value), then validate.
        An unknown name raises ``ValueError``."""
        unknown = set(overrides) - {f.name for f in fields(self)}  # type: ignore[arg-type]
        if unknown:
            raise ValueError(f"unknown {self.PHASE} parameters: {sorted(unknown)}")
        params = replace(self, **{k: v for k, v in overrides.items() if v is not None})
        params.validate()
        return params

    def validate(self) -> None:
        """Raise ``ValueError`` when a value is out of bounds (none are checked by default)."""
        return None

    def require_at_least(self, minimum: int, *names: str) -> None:
        """``ValueError`` ("<name> must be >= <minimum>") for the first of the fields ``names`` below ``minimum``."""
        for name in names:
            if getattr(self, name) < minimum:
                raise ValueError(f"{name} must be >= {minimum}")

    def require_batch_growth(self, size: str = "batch_size", most: str = "max_batch_size") -> None:
        """``ValueError`` unless the field ``most`` is 0 (fixed batches, :func:`call_batches`) or at
        least the field ``size``."""
        if getattr(self, most) and getattr(self, most) < getattr(self, size):
            raise ValueError(f"{most} must be 0 or at least {size}")

    def require_tier(self, *names: str) -> None:
        """``ValueError`` for the first of the fields ``names`` that is not a model tier."""
        for name in names:
            if getattr(self, name) not in get_args(Tier):
                raise ValueError(f"{name} must be one of {', '.join(get_args(Tier))}, not {getattr(self, name)!r}")


@dataclass(frozen=True)
class LLMPhaseParams(PhaseParams):
    """A phase that calls the LLM. ``max_fallback_share`` (keyword-only, so subclasses order their own
    fields freely): the largest share of the phase's LLM calls that may end in their fallback before
    the phase fails rather than store a degraded result (the offline provider never falls back)."""

    max_fallback_share: float = param(DEFAULT_MAX_FALLBACK_SHARE, "Fail the phase (nothing stored, the last "
                                      "good outputs kept) when a larger share of its LLM calls ended in their "
                                      "fallback (the API failing)", kw_only=True)

    def with_overrides(self, **overrides: Any) -> Self:
        params = super().with_overrides(**overrides)
        if not 0.0 <= params.max_fallback_share <= 1.0:
            raise ValueError(f"max_fallback_share must be between 0 and 1, got {params.max_fallback_share}")
        return params


def no_progress(_fraction: float, _message: str) -> None:
    return None


def build_percent(phase: str, fraction: float) -> int:
    lo, hi = PHASE_BANDS.get(phase, (0, 100))
    return round(lo + (hi - lo) * min(max(fraction, 0.0), 1.0))


def chunks(items: Sequence[T], size: int) -> list[list[T]]:
    if size < 1:
        raise ValueError("batch size must be >= 1")
    return [list(items[i : i + size]) for i in range(0, len(items), size)]


def wave_chunks(items: Sequence[T], size: int, workers: int, max_size: int | None = None) -> list[list[T]]:
    """Batches of about ``size`` items, evenly filled (no short last batch), in as few waves of
    ``workers`` parallel calls as ``max_size`` allows: when ``ceil(n / size)`` batches would take more
    waves than batches of up to ``max_size`` items need, the batches grow instead (``None``: they never
    grow). Each wave is a round-trip every later step waits for; a bigger batch is only a longer answer."""
    if size < 1 or workers < 1 or (max_size is not None and max_size < size):
        raise ValueError("wave_chunks: size >= 1, workers >= 1, max_size >= size")
    n = len(items)
    if not n:
        return []
    count = math.ceil(n / size)
    waves = min(math.ceil(count / workers), math.ceil(n / (workers * (max_size or size))))
    return even_split(items, min(count, waves * workers))


def even_split(items: Sequence[T], count: int) -> list[list[T]]:
    """``items`` in ``count`` consecutive runs whose sizes differ by one at most (order kept)."""
    bounds = [round(i * len(items) / count) for i in range(count + 1)]
    return [list(items[bounds[i] : bounds[i + 1]]) for i in range(count)]


def call_batches(items: Sequence[T], size: int, workers: int, max_size: int) -> list[list[T]]:
    """A phase's batches of calls: :func:`wave_chunks` growing up to ``max_size``, or with ``max_size``
    0 the reference's fixed batches of ``size`` (the last one short)."""
    return wave_chunks(items, size, workers, max_size) if max_size else chunks(items, size)


def run_batches(
    batches: Sequence[T],
    work: Callable[[T], R],
    *,
    workers: int,
    stop_event: threading.Event | None = None,
    progress: Progress = no_progress,
    label: str = "batch",
) -> list[R]:
    """Run ``work`` over batches on up to ``workers`` threads; results in batch order.

    Stop is cooperative: when ``stop_event`` is set (or the calling thread is interrupted, as
    Dagster's Terminate does with a BaseException in the main thread), queued batches are cancelled,
    running ones finish their current call in the background, and :class:`StopRequested` (or the
    interrupt) is raised at once. When a batch raises anything else, queued batches are cancelled and
    the running ones are waited for (their answers are cached) before the exception propagates.
    """
    stop_event = stop_event or threading.Event()
    results: list[R | None] = [None] * len(batches)
    if not batches:
        return []
    if workers <= 1:
        for i, batch in enumerate(batches):
            if stop_event.is_set():
                raise StopRequested(f"stopped before {label} {i + 1}/{len(batches)}")
            results[i] = work(batch)
            progress((i + 1) / len(batches), f"{label} {i + 1}/{len(batches)} done")
        return results  # type: ignore[return-value]
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=label)
    pending: dict[Future[R], int] = {}
    done_count = 0
    try:
        for i, batch in enumerate(batches):
            pending[pool.submit(_guarded, work, batch, stop_event)] = i
        while pending:
            finished, _ = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
            for future in finished:
                i = pending.pop(future)
                results[i] = future.result()  # re-raises a worker's exception here
                done_count += 1
                progress(done_count / len(batches), f"{label} {done_count}/{len(batches)} done")
            if stop_event.is_set() and pending:
                raise StopRequested(f"stopped with {len(pending)} {label}(es) not finished")
    except BaseException as exc:
        stop_event.set()
        # A crash: let the calls already in flight finish, so their answers reach the cache and a
        # re-execution from failure does not pay for them again. A stop or an interrupt (Dagster's
        # Terminate) does not wait: it must end within seconds.
        crashed = isinstance(exc, Exception) and not isinstance(exc, StopRequested)
        pool.shutdown(wait=crashed, cancel_futures=True)
        raise
    pool.shutdown(wait=True)
    return results  # type: ignore[return-value]


def _guarded(work: Callable[[T], R], batch: T, stop_event: threading.Event) -> R:
    if stop_event.is_set():
        raise StopRequested("stopped before the batch started")
    return work(batch)


def sample_ids(track_ids: Sequence[int], n: int) -> list[int]:
    """An evenly spread, deterministic sample of up to n ids (the ids keep their order)."""
    if len(track_ids) <= n:
        return list(track_ids)
    step = len(track_ids) / n
    return [track_ids[int(i * step)] for i in range(n)]


class TrackBriefs:
    """The tracks' columns the prompts use, prepared once as Python lists with a track id -> position
    map: a batch's briefs cost O(batch), where ``.loc`` on Arrow string columns costs O(tracks) per call."""

    BRIEF_COLUMNS = ("track_id", "title", "artist", "year", "comment")

    def __init__(self, tracks: pd.DataFrame):
        self.tracks = tracks
        ids = tracks["track_id"].tolist()
        self.position: dict[int, int] = {int(t): i for i, t in enumerate(ids)}
        self.columns: dict[str, list[Any]] = {c: tracks[c].tolist() for c in self.BRIEF_COLUMNS}

    def __contains__(self, track_id: object) -> bool:
        return track_id in self.position

    def row(self, track_id: int) -> pd.Series:
        """One track's full row (for the rare per-track explanation)."""
        return self.tracks.iloc[self.position[track_id]]

    def brief(self, track_id: int, comment_chars: int) -> dict[str, Any]:
        i = self.position[track_id]
        return track_brief({c: values[i] for c, values in self.columns.items()}, comment_chars)


def track_lookup(tracks: pd.DataFrame) -> TrackBriefs:
    """The tracks prepared for fast lookups by track id."""
    return TrackBriefs(tracks)


def track_brief(row: Any, comment_chars: int) -> dict[str, Any]:
    """title, artist, year and the first N characters of the comment, as the prompts want them."""
    year = row["year"]
    return {
        "track_id": int(row["track_id"]),
        "title": str(row["title"]),
        "artist": str(row["artist"]),
        "year": None if pd.isna(year) else int(year),
        "comment": str(row["comment"])[:comment_chars],
    }


def briefs(lookup: TrackBriefs, ids: Iterable[int], comment_chars: int) -> list[dict[str, Any]]:
    """The briefs of the known ids, in their order."""
    return [lookup.brief(i, comment_chars) for i in ids if i in lookup]
