"""LLM answers are validated by jsonschema-rs first and jsonschema when it refuses: on every task's
schema, for its offline answer and for answers broken in each way a model could break them, both
validators agree, so the fast path accepts exactly what jsonschema accepts."""

import copy
import random

import jsonschema
import jsonschema_rs
import pytest

from collection_tree.llm.client import schema_error
from collection_tree.tasks import TASKS


def _instance(schema: dict, rng: random.Random, depth: int = 0):
    """A value conforming to one of our schemas (their keywords: type, properties, required,
    additionalProperties, items, enum, minLength, maxLength, anyOf)."""
    if "enum" in schema:
        return rng.choice(schema["enum"])
    if "anyOf" in schema:
        return _instance(rng.choice(schema["anyOf"]), rng, depth)
    kind = schema.get("type", "string")
    kind = rng.choice(kind) if isinstance(kind, list) else kind
    if kind == "object":
        props = schema.get("properties", {})
        required = set(schema.get("required", []))
        return {k: _instance(v, rng, depth + 1) for k, v in props.items() if k in required or rng.random() < 0.5}
    if kind == "array":
        return [_instance(schema.get("items", {}), rng, depth + 1) for _ in range(rng.randrange(3))]
    if kind == "string":
        low, high = schema.get("minLength", 0), schema.get("maxLength", 12)
        return "é" * rng.randint(low, max(low, min(high, low + 12)))
    if kind == "integer":
        return rng.randint(0, 10)
    if kind == "number":
        return rng.choice([0.5, 3, 7.25])
    if kind == "boolean":
        return rng.choice([True, False])
    return None


def _paths(value, prefix=()):
    yield prefix, value
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _paths(v, (*prefix, i))


def _broken(answer, rng: random.Random):
    """Copies of ``answer`` with one thing wrong (or, by chance, still right)."""
    for path, value in list(_paths(answer)):
        for replacement in (None, True, 3.0, 2.5, -1, "", "x" * 400, "not-an-offered-id", [], {}, [value], ("t",)):
            broken = copy.deepcopy(answer)
            if not path:
                yield replacement
                continue
            target = broken
            for key in path[:-1]:
                target = target[key]
            target[path[-1]] = replacement
            yield broken
        if isinstance(value, dict) and value:
            broken = copy.deepcopy(answer)
            target = broken
            for key in path:
                target = target[key]
            target.pop(rng.choice(sorted(value)))
            yield broken
            target["unexpected_field"] = 1
            yield broken


def _has_tuple(value) -> bool:
    return any(isinstance(v, tuple) for _, v in _paths(value))


def _schemas():
    for name, task in sorted(TASKS.items()):
        payload = task.example()
        request = task.request(payload)
        yield name, request.schema, task.solve_offline(payload)


@pytest.mark.parametrize(("name", "schema", "offline"), list(_schemas()), ids=[n for n, _, _ in _schemas()])
def test_fast_and_reference_validators_agree(name, schema, offline):
    fast, reference = jsonschema_rs.validator_for(schema), jsonschema.validators.validator_for(schema)(schema)
    rng = random.Random(name)
    answers = [offline, *(_instance(schema, rng) for _ in range(30))]
    checked = 0
    for answer in [*answers, *(b for a in answers[:6] for b in _broken(a, rng))]:
        expected = reference.is_valid(answer)
        assert (schema_error(schema, answer) is None) == expected, (name, answer)
        if not _has_tuple(answer):  # the fast path is never asked about a tuple (jsonschema refuses one)
            assert fast.is_valid(answer) == expected, (name, answer)
        checked += 1
    assert checked > 50
    assert reference.is_valid(offline)  # the offline answer itself conforms
