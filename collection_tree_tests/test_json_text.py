"""dumps_indented writes exactly what json.dumps(ensure_ascii=False, indent=n) writes."""

import enum
import io
import json
import math
import random

import pytest

import collection_tree.core.json_text as json_text
from collection_tree.core.json_text import copy_document, dumps_indented, write_indented


class Level(enum.IntEnum):
    LOW = 1


def _random_value(rng: random.Random, depth: int):
    kind = rng.randrange(9 if depth < 4 else 6)
    if kind == 0:
        return rng.choice([None, True, False])
    if kind == 1:
        return rng.randrange(-10**12, 10**12)
    if kind == 2:
        return rng.choice([0.1, -2.5e-7, 1e16, 3.0, rng.random(), math.nan, math.inf, -math.inf])
    if kind == 3:
        return rng.choice(["", "plain", "quote \" back\\slash", "tab\tnew\nline", "\x00\x1f", "é ü 日本 \u2028 🎵"])
    if kind == 4:
        return [rng.randrange(100000) for _ in range(rng.randrange(4))]  # the flat-int fast path
    if kind == 5:
        return [rng.choice(["a", "é\n", "x\"y"]) for _ in range(rng.randrange(4))]  # the flat-str fast path
    if kind == 6:
        return [_random_value(rng, depth + 1) for _ in range(rng.randrange(4))]
    if kind == 7:
        return tuple(_random_value(rng, depth + 1) for _ in range(rng.randrange(3)))
    keys = [rng.choice(["k", "id", "é", 7, 2.5, True, None, False, "a\nb"]) for _ in range(rng.randrange(5))]
    return {key: _random_value(rng, depth + 1) for key in keys}


@pytest.mark.parametrize("seed", range(40))
@pytest.mark.parametrize("flush_parts", [1, 3, 1 << 16])
def test_written_in_chunks_the_same_bytes(seed, flush_parts, monkeypatch):
    """``write_indented`` hands its pieces over every ``FLUSH_PARTS`` (1: after every item) and the
    bytes are json's text, UTF-8 encoded, whatever the chunks."""
    monkeypatch.setattr(json_text, "FLUSH_PARTS", flush_parts)
    rng = random.Random(seed)
    value = {**{f"part {i}": _random_value(rng, 0) for i in range(6)}, "ids": list(range(50))}
    writes: list[bytes] = []

    class Handle(io.BytesIO):
        def write(self, data):  # type: ignore[override]
            writes.append(bytes(data))
            return super().write(data)

    handle = Handle()
    write_indented(value, handle, 1)
    assert handle.getvalue() == json.dumps(value, ensure_ascii=False, indent=1).encode("utf-8")
    if flush_parts == 1:
        assert len(writes) > 5  # streamed, not one write at the end


@pytest.mark.parametrize("seed", range(40))
@pytest.mark.parametrize("indent", [1, 2])
def test_same_text_as_json_dumps(seed, indent):
    value = _random_value(random.Random(seed), 0)
    assert dumps_indented(value, indent) == json.dumps(value, ensure_ascii=False, indent=indent)


def test_mixed_lists_bools_and_int_subclasses():
    value = {"ids": [1, 2, 3], "flags": [True, 1, False], "levels": [Level.LOW, 2], "empty": {}, "none": [],
             "nested": [[1], ["a"], [], {}]}
    assert dumps_indented(value) == json.dumps(value, ensure_ascii=False, indent=1)


def test_default_and_refused_values():
    class Report:
        def to_dict(self):
            return {"n": 1}

    def default(value):
        if isinstance(value, Report):
            return value.to_dict()
        raise TypeError(f"{type(value).__name__} is not JSON serialisable")

    value = {"report": Report(), "list": [Report()]}
    assert dumps_indented(value, default=default) == json.dumps(value, ensure_ascii=False, indent=1, default=default)
    with pytest.raises(TypeError, match="not JSON serializable"):
        dumps_indented({"x": object()})
    with pytest.raises(TypeError, match="keys must be"):
        dumps_indented({(1, 2): 3})


@pytest.mark.parametrize("seed", range(20))
def test_copy_document_is_a_deep_copy(seed):
    value = {"tree": _random_value(random.Random(seed), 0), "leaves": [{"track_ids": [1, 2], "tags": {"a"}}]}
    copied = copy_document(value)
    assert json.dumps(copied, default=sorted) == json.dumps(value, default=sorted)
    copied["leaves"][0]["track_ids"].append(3)
    copied["leaves"][0]["tags"].add("b")
    assert value["leaves"] == [{"track_ids": [1, 2], "tags": {"a"}}]  # nothing shared with the original


def test_a_cluster_dict_is_the_dataclass_as_a_dict_copied():
    import dataclasses

    from collection_tree.core.clusters import Cluster

    cluster = Cluster(id="c1", track_ids=[3, 1, 2], filters={"genre": ["House", "Deep"], "years": [2000, 2004]},
                      coherence=None, quality_score=7.5, poor_fit_track_ids=[2],
                      examples=[{"track_id": 3, "title": "T", "year": None}],
                      metadata_suggestions=[{"track_id": 1, "suggestions": {"descriptors": ["dark"]}}])
    out = cluster.to_dict()
    assert out == {**dataclasses.asdict(cluster), "track_count": 3}
    assert list(out) == [f.name for f in dataclasses.fields(Cluster)] + ["track_count"]
    out["track_ids"].append(9)
    out["filters"]["genre"].append("Acid")
    out["examples"][0]["title"] = "changed"
    assert cluster.track_ids == [3, 1, 2] and cluster.filters["genre"] == ["House", "Deep"]
    assert cluster.examples[0]["title"] == "T"  # the dict owns its containers, as asdict's did
