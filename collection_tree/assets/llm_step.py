"""What an LLM-calling asset needs around its phase: a client bound to the phase, stop on Terminate,
and a clear failure when the API refused the build."""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from dagster import Failure

from collection_tree.assets.metadata import llm_metadata
from collection_tree.core.workers import workers_for
from collection_tree.llm.client import PhaseLLM
from collection_tree.resources.llm import UNATTENDED_TAG, LLMResource
from collection_tree.resources.settings import CollectionInputs

# Every LLM-calling asset sits in this Dagster pool, so the API concurrency limit holds across runs.
LLM_POOL = "anthropic_api"


@contextmanager
def phase_llm(context: Any, llm: LLMResource, inputs: CollectionInputs, phase: str, *,
              max_fallback_share: float, tracks: int = 0) -> Iterator[PhaseLLM]:
    """A client for one phase. Dagster's Terminate raises a BaseException in this (the step's main)
    thread: we set the stop event so the phase's worker threads start no new call, and re-raise.
    ``tracks``: the collection's size; from ``POOL_MIN_TRACKS`` the offline provider answers in worker
    processes (``core.workers``), one per usable CPU.

    After the phase: a fatal API refusal, or more than ``max_fallback_share`` of the calls ending in a
    fallback, fails the step (a Dagster ``Failure``) so the degraded result is never stored."""
    client = llm.make_client(model_config=inputs.model_config_values(),
                             unattended=context.run.tags.get(UNATTENDED_TAG) == "true",
                             offline_workers=workers_for(tracks))
    bound = client.for_phase(phase)
    context.log.info(f"[{phase}] LLM provider: {client.provider.name}; cache: "
                     f"{'on' if client.cache is not None else 'off'}")
    try:
        yield bound
    except BaseException:
        client.stop_event.set()
        raise
    finally:
        client.close()
    if client.fatal_error is not None:
        # A bad key, a missing permission or a spend limit: the phase fell back everywhere it could,
        # but storing that degraded result would overwrite a good one (a scheduled rebuild with an
        # expired key). Fail instead; after the fix, re-execute from failure (answers are cached).
        error = client.fatal_error
        raise Failure(
            description=f"[{phase}] the LLM API refused the build ({error.kind}): {error.reason}. Fix the "
                        "API key, permissions or spend limit, then re-execute from failure.",
            metadata=llm_step_metadata(bound),
        )
    degraded = bound.degraded(max_fallback_share)
    if degraded is not None:
        # A total or partial outage (529s, timeouts, a closed port): the fallbacks would make a poorer
        # tree and replace the last good one. Fail; the answers received are cached, so a resume once
        # the API is back pays only for the rest.
        context.log.error(degraded)
        raise Failure(
            description=f"{degraded}. Nothing was stored: the previous outputs stay. When the API answers again, "
                        "`collection-tree build --resume` (or Re-execute > From failure) continues; the calls "
                        "that succeeded come from the cache.",
            metadata=llm_step_metadata(bound),
        )


def llm_step_metadata(bound: PhaseLLM) -> dict[str, Any]:
    return llm_metadata(bound.stats())
