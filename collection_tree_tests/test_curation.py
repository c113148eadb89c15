"""The project's own curation figures (``core.curation``) agree with the outside judge
(``../shared/tools/curation.py``) on the same tree, and catch what they are meant to catch."""

import json
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from collection_tree.core.curation import (
    broken_title,
    content_words,
    curation_figures,
    genre_lineages,
    summary_line,
)
from collection_tree.core.inputs import load_tracks

SHARED = Path(__file__).resolve().parents[2] / "shared"
GENIUS = SHARED / "data" / "genius-2000s"
JUDGE = SHARED / "tools" / "curation.py"


def _leaves_of(genre_tree: dict) -> dict[str, tuple[str, dict]]:
    """Genre leaf id -> (root id, node)."""
    out = {}
    for lineage in genre_tree["lineages"]:
        stack = [lineage]
        while stack:
            node = stack.pop()
            if not node.get("children"):
                out[node["id"]] = (lineage["id"], node)
            stack.extend(node.get("children") or [])
    return out


@pytest.fixture(scope="module")
def genius():
    tracks = load_tracks(GENIUS / "tracks.csv")
    genre_tree = json.loads((GENIUS / "genre_tree.json").read_text())
    return tracks, genre_tree


def judge_tree(genre_tree: dict) -> dict:
    """A small tree over real Genius leaves: a pure metal category, a category mixing a rap leaf
    and a rock leaf (cross-lineage tracks placed on purpose), template descriptions, a broken title."""
    leaves = _leaves_of(genre_tree)
    by_root: dict[str, list[tuple[str, dict]]] = {}
    for leaf_id, (root, node) in sorted(leaves.items()):
        if len(node["track_ids"]) >= 10:
            by_root.setdefault(root, []).append((leaf_id, node))
    rock, rap = by_root["rock"][:3], by_root["rap"][:1]
    used: set[int] = set()

    def leaf(leaf_id, node, title, description, extra=()):
        ids = [t for t in [*node["track_ids"][:12], *extra] if t not in used]
        used.update(ids)
        return {"id": f"{leaf_id}__scene", "title": title, "description": description, "track_ids": ids,
                "track_count": len(ids), "examples": [], "genre_context": node["title"], "scene_context": "x",
                "metadata_suggestions": []}

    _, _, track_roots = genre_lineages(genre_tree)
    only_rap = sorted({t for _, node in by_root["rap"][1:] for t in node["track_ids"] if track_roots[t] == {"rap"}})
    cross = only_rap[:6]  # rap tracks placed in a rock leaf
    categories = [
        {"id": "a", "title": "Metal & Hard Rock", "description": "",
         "leaves": [leaf(rock[0][0], rock[0][1], f"{rock[0][1]['title']}, late 2000s", "A leaf of twelve tracks"),
                    leaf(rock[1][0], rock[1][1], "Hard Rock, late 200", "A leaf of many tracks")]},
        {"id": "b", "title": "Rap, Rock and Everything Else Here", "description": "",
         "leaves": [leaf(rap[0][0], rap[0][1], rap[0][1]["title"], "Plain words open this one"),
                    leaf(rock[2][0], rock[2][1], "Grindcore, late 2000s: 2000-2004", "Another opening", cross)]},
    ]
    for c in categories:
        c["track_ids"] = [t for leaf in c["leaves"] for t in leaf["track_ids"]]
        c["track_count"] = len(c["track_ids"])
    return {"total_tracks": 6303, "assigned_tracks": len(used), "ungrouped_track_ids": [], "categories": categories}


def _numbers(line: str) -> list[float]:
    return [float(x) for x in re.findall(r"\d+(?:\.\d+)?", line)]


def test_figures_match_the_outside_judge(genius, tmp_path):
    tracks, genre_tree = genius
    tree = judge_tree(genre_tree)
    path = tmp_path / "tree.json"
    path.write_text(json.dumps(tree))
    done = subprocess.run([sys.executable, str(JUDGE), str(path), str(GENIUS / "tracks.csv"),
                           str(GENIUS / "genre_tree.json")], capture_output=True, text=True, timeout=300)
    judged = done.stdout.strip().splitlines()[-1]
    mine = summary_line(curation_figures(tree, tracks, genre_tree))
    # same figures in the same order (the judge's line also counts a title cut and contradicting twice)
    assert _numbers(judged.split(": ", 1)[1]) == _numbers(mine)
    figures = curation_figures(tree, tracks, genre_tree)
    assert figures["cross_lineage_tracks"] == 6 and figures["broken_titles"] == 2
    assert figures["category_titles_over_5_words"] == 1  # "Rap, Rock and Everything Else Here"
    assert figures["same_description_opening_share"] == pytest.approx(0.5)  # "a leaf of" twice of four
    assert 0 < figures["category_lineage_purity"] < 1
    assert figures["leaves_out_of_bounds"] == 0


def test_broken_titles_and_content_words():
    assert broken_title("Hard Rock, USA Metal late 200") and broken_title("Indie Rock, early 2")
    assert broken_title("Grindcore, late 2000s: 2000-2004") and broken_title("Skate Punk, early 2000s: 2005-2009")
    assert not broken_title("Skate Punk, early 2000s") and not broken_title("Deep House, Berlin 2007-2014")
    assert not broken_title("Grindcore, late 2000s: 2005-2009")
    assert content_words("Hip-Hop & R&B of the early 2000s") == {"hip-hop", "hip", "hop", "r&b", "2000s"}


def test_track_facet_words_are_the_words_of_the_joined_facets():
    """Per distinct value, then united: the same words as reading each track's facets joined in one text."""
    from collection_tree.core import curation

    tracks = load_tracks(Path(__file__).resolve().parents[2] / "shared" / "data" / "genius-2000s" / "tracks.csv")
    tracks.loc[0, "era"] = "late-night & R&B; hip-hop's"
    columns = [c for c in curation.FACET_COLUMNS if c in tracks.columns]
    joined = {int(t): curation.words(" ".join(curation._text(tracks[c].iloc[i]) for c in columns))
              for i, t in enumerate(tracks["track_id"].tolist())}
    got = curation.track_facet_words(tracks)
    assert got == joined
    assert {"late-night", "late", "night", "r&b", "hip-hop's", "hip", "hop"} <= got[int(tracks["track_id"].iloc[0])]


def test_title_fit_counts_each_placed_track_by_its_own_words(genius):
    """The fit figures (judged per distinct leaf and cell) count what a per-track reading counts: each
    placed track whose own facet words hold a content word of its leaf's (category's) title, a track
    missing from the table fitting nothing, on a table with a missing era, a list cell holding a number
    and a repeated track id."""
    from collection_tree.core import curation

    tracks, genre_tree = genius
    tracks = tracks.copy()
    tracks.loc[1, "era"] = None
    tracks.at[2, "descriptors"] = ["dark", 7]
    tracks = pd.concat([tracks, tracks.iloc[[3]].assign(genre=[["Polka"]])], ignore_index=True)  # id repeated
    leaves = sorted(_leaves_of(genre_tree).items())[:40]
    ids = [int(t) for t in tracks["track_id"].tolist()]
    missing = max(ids) + 1
    categories = []
    for n, (leaf_id, (_, node)) in enumerate(leaves):
        member_ids = [int(t) for t in node["track_ids"][:30]] + ([missing] if n == 0 else [])
        title = ["Polka", node["title"], f"{node['title']} dark late 2000s", "Nothing Fits Here"][n % 4]
        categories.append({"id": f"c{n % 3}", "title": ["Rock and Dark", "Rap", "Polka Nights"][n % 3],
                           "leaves": [{"id": f"{leaf_id}__x", "title": title, "description": "",
                                       "track_ids": member_ids,
                                       "genre_context": node["title"]}]})
    for t in (int(tracks["track_id"].iloc[i]) for i in (1, 2, 3)):  # the odd rows are placed
        categories[1]["leaves"][0]["track_ids"].append(t)
    merged: dict[str, dict] = {}
    for c in categories:
        merged.setdefault(c["id"], {**c, "leaves": []})["leaves"] += c["leaves"]
    tree = {"total_tracks": len(set(ids)), "categories": list(merged.values())}

    own = curation.track_facet_words(tracks)  # per track, a repeated id's last row
    expected_leaf = expected_category = placed = 0
    for category in tree["categories"]:
        for leaf in category["leaves"]:
            for t in leaf["track_ids"]:
                words = own.get(int(t), frozenset())
                placed += 1
                expected_leaf += bool(curation.content_words(leaf["title"]) & words)
                expected_category += bool(curation.content_words(category["title"]) & words)
    figures = curation_figures(tree, tracks, genre_tree)
    assert figures["placed_tracks"] == placed
    assert round(figures["leaf_title_fit"] * placed) == expected_leaf
    assert round(figures["category_title_fit"] * placed) == expected_category
    assert 0 < expected_leaf < placed and 0 < expected_category < placed  # both kinds of track are there
