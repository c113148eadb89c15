"""Leaf profiles and distinctive values counted from the columns (``phases.leaf_profiles``) equal a
per-record reading of them: the reading phases 6 and 7 made before, one Python record per track,
kept here as the reference (``cluster_profile``, ``distinctive_terms``)."""

from __future__ import annotations

import math
import random
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from collection_tree.core.inputs import load_tracks
from collection_tree.core.track_facets import distinct_codes
from collection_tree.phases.leaf_profiles import (
    DISTINCTIVE_FACETS,
    DISTINCTIVE_MIN_SHARE,
    DISTINCTIVE_TOP,
    MIN_LIFT,
    PROFILE_FACETS,
)
from collection_tree.phases.leaves import TrackTable

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


# ---------------------------------------------------------------------------- the per-record reading
def cluster_profile(records: list[dict[str, Any]], top: int = 8, min_share: float = 0.2,
                    with_artists: bool = True) -> dict[str, Any]:
    """Facet shares across a cluster's tracks, most common first: genre entries are
    [value, share, mean 1-based depth in the broad-to-specific list]; other facets [value, share]."""
    n = max(len(records), 1)
    out: dict[str, Any] = {}
    for facet in PROFILE_FACETS:
        counts: Counter[str] = Counter()
        depth: dict[str, float] = {}
        shown: dict[str, str] = {}
        for record in records:
            seen: set[str] = set()
            for pos, value in enumerate(record.get(facet) or []):
                key = str(value).strip().casefold()
                if not key or key in seen:
                    continue
                seen.add(key)
                shown.setdefault(key, str(value).strip())
                counts[key] += 1
                depth[key] = depth.get(key, 0.0) + pos + 1
        ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
        entries = []
        for key, count in ranked[:top]:
            share = round(count / n, 2)
            if share < min_share:
                break
            entries.append([shown[key], share, round(depth[key] / count, 2)] if facet == "genre"
                           else [shown[key], share])
        out[facet] = entries
    eras = Counter(r["era"].strip() for r in records if r.get("era", "").strip())
    out["era"] = [[e, round(c / n, 2)] for e, c in sorted(eras.items(), key=lambda kv: (-kv[1], kv[0]))[:3]
                  if c / n >= min_share]
    for column in ("bpm", "energy"):  # only where the collection has them: medians and the middle half
        values = sorted(r[column] for r in records if r.get(column) is not None)
        if values:
            out[column] = [round(values[len(values) // 4]), round(values[len(values) // 2]),
                           round(values[(3 * len(values)) // 4])]
    if with_artists:
        years = [r["year"] for r in records if r.get("year") is not None]
        out["years"] = [min(years), max(years)] if years else []
        artists = Counter(r["artist"] for r in records if r.get("artist"))
        out["artists"] = [[a, c] for a, c in sorted(artists.items(), key=lambda kv: (-kv[1], kv[0]))[:5]]
    return out


def facet_values(record: dict[str, Any], facet: str) -> list[str]:
    if facet == "country":
        return [record["country"]] if record.get("country") else []
    return [str(v).strip() for v in record.get(facet) or [] if str(v).strip()]


def distinctive_terms(leaves: list[list[dict[str, Any]]], top: int = DISTINCTIVE_TOP,
                      min_share: float = DISTINCTIVE_MIN_SHARE) -> list[dict[str, list[list[Any]]]]:
    """Per leaf (its tracks' records), per facet, the values that set it apart from the other leaves,
    best first, as ``[value, share of the leaf's tracks]``: c-TF-IDF weight ``share * log(1 + A / f)``
    (``f``: tracks carrying the value over all leaves, ``A``: average values per leaf). Values on fewer
    than ``min_share`` of the leaf's tracks, or less than ``MIN_LIFT`` times commoner in the leaf than in
    the whole collection, are left out. Ties by value (deterministic)."""
    counts: list[Counter[tuple[str, str]]] = []
    for records in leaves:
        counter: Counter[tuple[str, str]] = Counter()
        for record in records:
            counter.update({(facet, value) for facet in DISTINCTIVE_FACETS for value in facet_values(record, facet)})
        counts.append(counter)
    frequency: Counter[tuple[str, str]] = Counter()
    for counter in counts:
        frequency.update(counter)
    average = sum(sum(c.values()) for c in counts) / max(1, len(counts))
    tracks = max(1, sum(len(records) for records in leaves))
    out: list[dict[str, list[list[Any]]]] = []
    for records, counter in zip(leaves, counts, strict=True):
        n = max(1, len(records))
        ranked: dict[str, list[tuple[float, str, float]]] = {f: [] for f in DISTINCTIVE_FACETS}
        for (facet, value), count in counter.items():
            share = count / n
            # on twice its collection-wide share at least: "In English" everywhere tells nothing apart
            if share >= min_share and share >= MIN_LIFT * frequency[(facet, value)] / tracks:
                weight = share * math.log(1.0 + average / frequency[(facet, value)])
                ranked[facet].append((-weight, value, share))
        out.append({facet: [[value, round(share, 2)] for _, value, share in sorted(rows)[:top]]
                    for facet, rows in ranked.items() if rows})
    return out


def reference(table: TrackTable, leaves: list[list[int]], with_artists: bool = True) -> tuple[list, list]:
    records = [[table.records[t] for t in table.valid(ids)] for ids in leaves]
    return [cluster_profile(r, with_artists=with_artists) for r in records], distinctive_terms(records)


def counted(table: TrackTable, leaves: list[list[int]], with_artists: bool = True) -> tuple[list, list]:
    members = [table.rows(table.valid(ids)) for ids in leaves]
    return table.profiles(leaves, with_artists), table.facets.distinctive(members)


# ---------------------------------------------------------------------------- the tests
@pytest.fixture(scope="module")
def genius_full() -> pd.DataFrame:
    return load_tracks(DATA / "genius-2000s-full" / "tracks.csv")


def test_a_real_collection_reads_the_same_counted_as_per_record(genius_full):
    table = TrackTable(genius_full)
    ids = genius_full["track_id"].astype(int).tolist()
    rng = random.Random(7)
    rng.shuffle(ids)
    leaves, start = [], 0
    while start < len(ids):  # leaves of 1-80 tracks, as phase 3 leaves them (each track once)
        size = rng.randint(1, 80)
        leaves.append(ids[start:start + size])
        start += size
    # by genre too, so leaves share their values and the c-TF-IDF weights are not all alike
    by_genre: dict[str, list[int]] = {}
    for track_id, genres in zip(genius_full["track_id"].astype(int), genius_full["genre"], strict=True):
        by_genre.setdefault(str(list(genres)[-1:]), []).append(track_id)
    leaves += list(by_genre.values())
    leaves += [[], [10**12], [ids[0], ids[0], 10**12]]  # empty, unknown only, a repeat and an unknown id
    for with_artists in (True, False):
        assert counted(table, leaves, with_artists) == reference(table, leaves, with_artists)
    profiles, terms = counted(table, leaves)
    assert sum(bool(p["genre"]) for p in profiles) > 0.9 * len(leaves)  # the figures are not all empty
    assert sum(bool(t) for t in terms) > 0.5 * len(leaves)


def test_a_few_leaves_count_from_their_own_rows_as_from_the_whole_collection(genius_full):
    """An update refreshes a few leaves of a large collection: their tracks' cells are read, not the
    collection's, and every profile and distinctive value is the same as counted from all of them."""
    ids = genius_full["track_id"].astype(int).tolist()
    rng = random.Random(11)
    leaves = [rng.sample(ids, rng.randint(1, 60)) for _ in range(25)] + [[ids[3], ids[3], 10**12], []]
    few = TrackTable(genius_full)
    members = [few.rows(few.valid(leaf)) for leaf in leaves]
    facets, local = few.leaf_facets(members)
    subset = (few.profiles(leaves), facets.distinctive(local), few.profiles(leaves, with_artists=False))
    assert few._facets is None  # the whole collection's cells were never read
    assert facets is few.leaf_facets(members)[0]  # the same leaves' facets are read once
    whole = TrackTable(genius_full)
    whole_members = [whole.rows(whole.valid(leaf)) for leaf in leaves]
    assert subset == (whole.facets.profiles(whole_members), whole.facets.distinctive(whole_members),
                      whole.facets.profiles(whole_members, with_artists=False))
    assert subset[:2] == reference(whole, leaves)
    assert sum(bool(t) for t in subset[1]) > len(leaves) // 2  # the counts are not all empty


def test_odd_cells_read_as_the_records_read_them():
    nan = float("nan")
    tracks = pd.DataFrame({
        "track_id": [1, 2, 3, 4, 5, 6, 7, 8, 3],
        "title": ["A", None, "C", "D", "E", "F", "G", "H", "C again"],
        "artist": ["X", None, nan, "X", "", "Y", "Y", "Z", "W"],
        "year": [1999, None, nan, 2001.0, 1999, 2010, 2004, 2004, 1998],
        "era": ["late 1990s", None, nan, "  ", "late 1990s", "2010s", "late 1990s ", "2000s", "x"],
        "genre": [["House", " house ", "", "Deep House"], ("House", "Acid House"), np.array(["Techno", "House"]),
                  "House", None, [1], [1.0], ["House", "House", "Deep House"], ["Rock"]],
        "scene_tags": [["Berlin"], ["Berlin", " Berlin"], [], ["Detroit"], ["berlin"], [], ["Berlin"], None,
                       ["X"]],
        "descriptors": [[], [], [], [], [], [], [], [], []],
        "country": [" DE ", None, nan, "DE", "", "US", "DE", "DE", "FR"],
        "bpm": [120, "124", "abc", nan, None, 128.5, 122, 121, 90],
    })
    table = TrackTable(tracks)
    for track_id in {1, 2, 3, 4, 5, 6, 7, 8}:  # the gap fields are the record's, read alone
        record = table.records[track_id]
        assert table.records.gap_fields(track_id) == {k: record[k] for k in ("era", "genre", "scene_tags",
                                                                              "descriptors")}
    leaves = [[1, 2, 3, 4], [5, 6, 7, 8], [1, 5, 7, 99], [3, 3], [], [6, 7]]
    for with_artists in (True, False):
        assert counted(table, leaves, with_artists) == reference(table, leaves, with_artists)
    profiles, _ = counted(table, leaves)
    # " house " is House again; row 4's "House" is no list; id 3 reads its last row (Rock)
    assert profiles[0]["genre"] == [["House", 0.5, 1.0], ["Acid House", 0.25, 2.0], ["Deep House", 0.25, 4.0],
                                    ["Rock", 0.25, 1.0]]  # ties by the value
    assert profiles[5]["genre"] == [["1", 0.5, 1.0], ["1.0", 0.5, 1.0]]  # 1 and 1.0 read apart
    # "124" reads as a number; id 3 its last row; no energy column, no energy quartiles
    assert "energy" not in profiles[0] and profiles[0]["bpm"] == [90, 120, 124]


def test_cells_are_the_same_cell_only_when_they_read_the_same():
    codes, firsts = distinct_codes([["a", "b"], ["a", "b"], ["b"], ["a", "b"]])  # lists of strings
    assert codes.tolist() == [0, 0, 1, 0] and firsts == [["a", "b"], ["b"]]
    codes, firsts = distinct_codes([[1], [1.0], [True], [1]])  # equal, but they read "1", "1.0", "True"
    assert codes.tolist() == [0, 1, 2, 0] and firsts == [[1], [1.0], [True]]
    codes, _ = distinct_codes([("a",), ["a"], float("nan"), float("nan"), None, "a"])
    assert codes.tolist() == [0, 1, 2, 2, 3, 4]
    codes, firsts = distinct_codes(["a", None, float("nan"), "a", float("nan"), None])  # strings and missing
    assert codes.tolist() == [0, 1, 2, 0, 2, 1] and firsts[:2] == ["a", None] and math.isnan(firsts[2])
    codes, firsts = distinct_codes(["1", 1.0, "1"])  # a float that is a value, not a missing one
    assert codes.tolist() == [0, 1, 0] and firsts == ["1", 1.0]
