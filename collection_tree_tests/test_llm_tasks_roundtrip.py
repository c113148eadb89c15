"""Every task with an example answers the same offline and through the real SDK against the fake API,
and survives the model quirks the fake server injects (hallucinated ids, wrapped ints, fenced JSON)."""

from __future__ import annotations

import copy
import json
from typing import Any

import jsonschema
import pytest
from fake_api import PROBE_TASK

from collection_tree.llm.client import LLMClient
from collection_tree.llm.fake_server import HALLUCINATED_INT_BASE, HALLUCINATED_PREFIX
from collection_tree.llm.models import approx_tokens, cache_min_tokens
from collection_tree.llm.offline import OfflineProvider
from collection_tree.tasks import TASKS

# The project's tasks (whatever exists now) plus the test-only one, so this is never vacuous.
TASK_NAMES = [*sorted(name for name, spec in TASKS.items() if spec.example is not None), PROBE_TASK]


@pytest.fixture(params=TASK_NAMES)
def task(request: pytest.FixtureRequest, probe_task: Any) -> Any:
    return TASKS[request.param]


def offline_answer(spec: Any, payload: dict[str, Any]) -> dict[str, Any]:
    return LLMClient(OfflineProvider()).call(spec.request(payload), "roundtrip")


def _invented(value: Any) -> list[Any]:
    """Values in an answer that the fake server invented."""
    found: list[Any] = []
    if isinstance(value, dict):
        for k, v in value.items():
            if str(k).startswith(HALLUCINATED_PREFIX) or (str(k).isdigit() and int(k) >= HALLUCINATED_INT_BASE):
                found.append(k)
            found += _invented(v)
    elif isinstance(value, list):
        for v in value:
            found += _invented(v)
    elif (isinstance(value, int) and not isinstance(value, bool) and value >= HALLUCINATED_INT_BASE) or (
            isinstance(value, str) and value.startswith(HALLUCINATED_PREFIX)):
        found.append(value)
    return found


def test_every_task_has_an_example() -> None:
    missing = sorted(name for name, spec in TASKS.items() if spec.example is None)
    assert not missing, f"tasks without an example payload: {missing}"


def test_offline_solver_is_deterministic_and_leaves_the_payload_alone(task: Any) -> None:
    payload = task.example()
    before = copy.deepcopy(payload)
    first = task.solve_offline(payload)
    assert payload == before
    assert task.solve_offline(copy.deepcopy(payload)) == first
    # and through the client (normalised, schema-checked), twice with fresh clients
    assert offline_answer(task, payload) == offline_answer(task, copy.deepcopy(payload))
    jsonschema.validate(offline_answer(task, payload), task.schema)


def test_fake_server_answer_equals_offline_answer(task: Any, make_client: Any, anthropic_env: Any) -> None:
    payload = task.example()
    client = make_client()
    answer = client.for_phase("roundtrip").call(task.request(payload))
    assert answer == offline_answer(task, payload)
    [logged] = anthropic_env.message_requests(task.name)
    assert logged.status == 200 and logged.structured
    # a cache breakpoint only where the system prompt reaches the model's minimum cacheable length
    assert logged.cache_control == (approx_tokens(task.system) >= cache_min_tokens(logged.model))
    assert logged.max_tokens == task.max_tokens
    stats = client.stats("roundtrip")
    assert stats["llm_calls"] == 1 and stats["llm_failures"] == 0
    assert stats["output_tokens"] == logged.output_tokens > 0


@pytest.mark.parametrize("fault", ["hallucinated_ids", "wrapped_ints", "fenced"])
def test_quirks_are_repaired_by_the_task_normaliser(task: Any, fault: str, make_client: Any,
                                                    anthropic_env: Any) -> None:
    """The fake server only adds invented references (never removes real ones) and wraps ints the way
    models do, so a correct normaliser returns exactly the unmutated answer, in one request."""
    payload = task.example()
    anthropic_env.add_rule(fault, task=task.name)
    client = make_client()
    answer = client.for_phase("quirks").call(task.request(payload))
    assert [r.fault for r in anthropic_env.message_requests(task.name)] == [fault]
    assert _invented(answer) == [], f"{task.name} kept invented ids: {json.dumps(answer)[:300]}"
    jsonschema.validate(answer, task.schema)
    assert answer == offline_answer(task, payload)


# Tasks whose example answers name nothing from the payload (free text, filters) and tasks whose answers
# hold no integers: for them a mutation has nothing to change. Every other task must be changed by both,
# so the quirk test above is never vacuous for it (a new task is held to that unless listed here).
ANSWERS_WITHOUT_PAYLOAD_IDS = frozenset({"define_subclusters", "describe_category", "rename_merged_cluster"})
ANSWERS_WITHOUT_INTS = frozenset({"assign_categories", "consolidate_categories", "define_subclusters",
                                  "describe_categories", "describe_category", "group_clusters", "propose_categories",
                                  "rename_merged_cluster"})


def test_the_mutations_really_change_each_answer(task: Any) -> None:
    """So the quirk test above is not vacuous: an answer that refers to the payload's ids or names gets
    invented references, and one with integers gets them wrapped; the listed exceptions really have none."""
    from collection_tree.llm.fake_server import ID_KEY_RE, hallucinate_ids, payload_refs, wrap_ints

    payload = task.example()
    solved = task.solve_offline(payload)
    ints, strings = payload_refs(payload)
    refers = [v for k, v in _items(solved) if (ID_KEY_RE.search(k) and isinstance(v, int) and v in ints)
              or (isinstance(v, str) and v in strings)]
    has_ints = any(isinstance(v, int) and not isinstance(v, bool) and not k.endswith("range")
                   for k, v in _items(solved))
    expects_ids = task.name not in ANSWERS_WITHOUT_PAYLOAD_IDS
    expects_ints = task.name not in ANSWERS_WITHOUT_INTS
    assert bool(refers) == expects_ids, (task.name, refers[:5])
    assert bool(_invented(hallucinate_ids(solved, payload))) == expects_ids, task.name
    assert has_ints == expects_ints, task.name
    assert (wrap_ints(solved) != solved) == expects_ints, task.name


def _items(value: Any, key: str = "") -> list[tuple[str, Any]]:
    """(key, scalar) pairs of a JSON value; list items carry their list's key."""
    if isinstance(value, dict):
        return [kv for k, v in value.items() for kv in _items(v, str(k))]
    if isinstance(value, list):
        return [kv for v in value for kv in _items(v, key)]
    return [(key, value)]
