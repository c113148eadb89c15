"""Track-level feature summaries (phase 4): two-mode detection, histograms, summaries and landscapes."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from collection_tree.core.features import TrackFeatures, histogram, two_modes
from collection_tree.core.inputs import load_tracks

GENIUS = Path(__file__).resolve().parents[2] / "shared" / "data" / "genius-2000s"


def frame(rows: list[dict], **extra: list) -> pd.DataFrame:
    base = {"track_id": [], "title": [], "artist": [], "year": [], "comment": [], "genre": [], "scene_tags": [],
            "descriptors": [], "era": []}
    for i, row in enumerate(rows):
        base["track_id"].append(row.get("track_id", i + 1))
        base["title"].append(f"t{i}")
        base["artist"].append(row.get("artist", "a"))
        base["year"].append(row.get("year"))
        base["comment"].append("")
        base["genre"].append(row.get("genre", []))
        base["scene_tags"].append(row.get("scene_tags", []))
        base["descriptors"].append(row.get("descriptors", []))
        base["era"].append(row.get("era", ""))
    out = pd.DataFrame(base)
    out["year"] = out["year"].astype("Int64")
    for column, values in extra.items():
        out[column] = values
    return out


# ----------------------------------------------------------------------------------- two modes
def test_two_modes_finds_separate_groups():
    bins = [(2000, 2000, 10), (2001, 2001, 12), (2002, 2002, 8), (2008, 2008, 9), (2009, 2009, 11)]
    modes = two_modes(bins, min_gap=4)
    assert modes is not None
    assert modes.low == (2000, 2002) and modes.high == (2008, 2009)
    assert modes.low_share == pytest.approx(30 / 50) and modes.high_share == pytest.approx(20 / 50)
    assert modes.gap >= 4 and modes.separation > 0.9


def test_two_modes_rejects_one_group_and_lopsided_splits():
    tight = [(2005, 2005, 10), (2006, 2006, 14), (2007, 2007, 11)]
    assert two_modes(tight, min_gap=4) is None  # medians 1-2 years apart: one group
    lopsided = [(2000, 2000, 95), (2009, 2009, 5)]
    assert two_modes(lopsided, min_share=0.25, min_gap=4) is None  # 5% is not a mode
    assert two_modes([(2000, 2000, 10)]) is None
    assert two_modes(lopsided, min_share=0.05, min_gap=4) is not None


def test_histogram_per_year_or_equal_width():
    years = np.array([2001, 2001, 2003, np.nan, 2009], dtype=float)
    assert histogram(years) == [(2001.0, 2001.0, 2), (2003.0, 2003.0, 1), (2009.0, 2009.0, 1)]
    rng = np.random.default_rng(0)
    bpm = rng.uniform(80, 160, 500)
    bins = histogram(bpm, max_bins=10)
    assert len(bins) <= 10 and sum(n for _, _, n in bins) == 500
    assert bins[0][0] == pytest.approx(bpm.min()) and bins[-1][1] == pytest.approx(bpm.max())


# ----------------------------------------------------------------------------------- summaries
def test_summary_measures_agreement_spread_and_other_tags():
    rows = ([{"year": 2001, "genre": ["Rock", "Nu-Metal"], "scene_tags": ["USA"], "era": "early 2000s"}] * 6
            + [{"year": 2008, "genre": ["Rock", "Nu-Metal"], "scene_tags": ["Sverige"], "era": "late 2000s"}] * 4
            + [{"year": 2009, "genre": ["Rock"], "scene_tags": ["Sverige"], "era": "late 2000s"}] * 2)
    tracks = frame([{**r, "track_id": i + 1} for i, r in enumerate(rows)])
    features = TrackFeatures(tracks)
    summary = features.summary(list(range(1, 13)), {"genre": ["Nu-Metal"], "year_range": [2000, 2004]})
    assert summary["tracks"] == 12
    assert summary["filter_agreement"] == {"genre": pytest.approx(10 / 12, abs=0.01),
                                           "year_range": pytest.approx(0.5)}
    assert summary["year"]["min"] == 2001 and summary["year"]["max"] == 2009
    assert [m["range"] for m in summary["year"]["modes"]] == [[2001, 2001], [2008, 2009]]
    assert summary["era"][0] == ["early 2000s", 0.5]
    scene = summary["other_scene_tags"]
    assert scene["top"] == [["Sverige", 0.5], ["USA", 0.5]] and scene["top2_overlap"] == 0
    # The cluster's own genre value is not an "other" tag.
    assert [v for v, _ in summary["other_genre"]["top"]] == ["Rock"]
    assert not {"bpm", "energy", "key"} & set(summary)  # columns the collection lacks never show


def test_summary_includes_bpm_key_energy_when_present():
    n = 40
    rows = [{"year": 2005, "genre": ["House"]} for _ in range(n)]
    bpm = [120.0 + (i % 4) for i in range(n)]
    energy = [0.2 + 0.6 * (i % 2) for i in range(n)]  # two energy groups
    keys = ["8A" if i % 3 else "9A" for i in range(n)]
    tracks = frame(rows, bpm=bpm, energy=energy, key=keys)
    others = frame([{"track_id": 100 + i, "year": 2005} for i in range(40)],
                   bpm=[70.0 + i for i in range(20)] + [160.0 + i for i in range(20)], energy=[0.5] * 40,
                   key=["1A"] * 40)
    wider = pd.concat([tracks, others])
    features = TrackFeatures(wider.reset_index(drop=True))
    summary = features.summary(list(range(1, n + 1)))
    assert summary["bpm"]["median"] == pytest.approx(121.5) and summary["bpm"]["iqr_ratio"] < 0.2
    assert summary["key"]["distinct"] == 2 and summary["key"]["top"][0][0] == "8A"
    low, high = (m["range"] for m in summary["energy"]["modes"])
    assert low[0] == 0.2 and low[1] < 0.5 < high[0] and high[1] == 0.8


def test_unknown_ids_are_ignored_and_empty_sets_summarised():
    tracks = frame([{"year": 2001, "genre": ["Rock"]}, {"year": 2002, "genre": ["Rock"]}])
    features = TrackFeatures(tracks)
    assert features.summary([1, 2, 999])["tracks"] == 2
    assert features.summary([999]) == {"tracks": 0}


def test_landscape_counts_values_and_histograms():
    rows = ([{"year": 2001, "genre": ["Rock", "Punk"], "scene_tags": ["UK"], "era": "early 2000s"}] * 3
            + [{"year": 2007, "genre": ["Rock"], "scene_tags": ["USA"], "descriptors": ["Live"],
                "era": "late 2000s"}] * 2)
    tracks = frame([{**r, "track_id": i + 1} for i, r in enumerate(rows)])
    landscape = TrackFeatures(tracks).landscape([1, 2, 3, 4, 5])
    assert landscape["track_count"] == 5
    assert landscape["values"]["genre"] == [["Rock", 5], ["Punk", 3]]
    assert landscape["values"]["scene_tags"] == [["UK", 3], ["USA", 2]]
    assert landscape["values"]["descriptors"] == [["Live", 2]]
    assert landscape["values"]["era"] == [["early 2000s", 3], ["late 2000s", 2]]
    assert landscape["numeric"]["year"] == {"min": 2001, "max": 2007, "histogram": [[2001, 2001, 3], [2007, 2007, 2]]}


def test_genius_tracks_have_years_but_no_audio_features():
    tracks = load_tracks(GENIUS / "tracks.csv")
    features = TrackFeatures(tracks)
    assert set(features.numeric) == {"year"}
    assert "key" not in features.text and "country" in features.text
    ids = tracks.loc[tracks["genre"].map(lambda g: "Pop-Punk" in g), "track_id"].tolist()
    summary = features.summary(ids, {"genre": ["Pop-Punk"]})
    assert summary["filter_agreement"]["genre"] == 1
    assert 2000 <= summary["year"]["min"] <= summary["year"]["median"] <= summary["year"]["max"] <= 2010
    landscape = features.landscape(ids)
    assert sum(c for _, _, c in landscape["numeric"]["year"]["histogram"]) == len(ids)


@pytest.mark.parametrize("order", ["sorted", "shuffled"])
def test_rows_are_the_positions_of_known_ids_in_their_order(order):
    """Binary search over the sorted ids (the loader's order) or the index's lookup: the same positions."""
    tracks = load_tracks(GENIUS / "tracks.csv").head(400)
    if order == "shuffled":
        tracks = tracks.sample(frac=1.0, random_state=3).reset_index(drop=True)
    features = TrackFeatures(tracks)
    rng = np.random.default_rng(5)
    ids = rng.choice(np.concatenate([tracks["track_id"].to_numpy(), [-1, 0, 10**9]]), size=300)
    expected = pd.Index(tracks["track_id"]).get_indexer(ids)
    assert features.rows(ids).tolist() == expected[expected >= 0].tolist()


def test_a_repeated_summary_is_the_one_computed_before():
    tracks = load_tracks(GENIUS / "tracks.csv")
    ids = tracks["track_id"].tolist()[100:160]
    first = TrackFeatures(tracks)
    summary = first.summary(ids, {"genre": ["Pop-Punk"]})
    assert first.summary(list(ids), {"genre": ["Pop-Punk"]}) is summary
    fresh = TrackFeatures(tracks)
    assert fresh.summary(ids, {"genre": ["Pop-Punk"]}) == summary
    assert first.summary(ids, {"genre": ["Rock"]}) == fresh.summary(ids, {"genre": ["Rock"]}) != summary
    assert first.summary(ids[:-1], {"genre": ["Pop-Punk"]})["tracks"] == len(ids) - 1


@pytest.mark.parametrize("seed", range(30))
def test_sorted_quantiles_and_median_are_numpys_bit_for_bit(seed):
    """A cluster's min / median / IQR from one sort equal np.median and np.percentile exactly."""
    from collection_tree.core.features import _sorted_median, _sorted_quantile

    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 80))
    values = [rng.normal(120, 15, n), rng.integers(1960, 2020, n).astype(float), np.round(rng.random(n), 3)][seed % 3]
    ordered = sorted(values.tolist())
    q1, q3 = np.percentile(values, [25, 75])
    assert _sorted_quantile(ordered, 0.25) == q1
    assert _sorted_quantile(ordered, 0.75) == q3
    assert _sorted_quantile(ordered, 0.75) - _sorted_quantile(ordered, 0.25) == float(q3 - q1)
    assert _sorted_median(ordered) == np.median(values)
