"""Shelf titles that name what most of a group's tracks share (``core.facet_titles``), and the lineage
groups phase 5 builds its categories in."""

from collections import Counter

from collection_tree.core.clusters import Cluster
from collection_tree.core.curation import fit_share, title_word_count, words
from collection_tree.core.facet_titles import render, shelf_title
from collection_tree.core.neighbourhoods import ClusterSpace, lineage_groups
from collection_tree.core.track_facets import TrackFacets


def rows(*spec: tuple[int, list[str]]) -> list[list[str]]:
    return [list(values) for n, values in spec for _ in range(n)]


def test_title_covers_most_tracks_with_what_sets_them_apart():
    tracks = rows((60, ["Rock", "Metal"]), (30, ["Rock", "Hard Rock"]), (10, ["Rock", "Grunge"]))
    collection = {"Rock": 1000, "Metal": 70, "Hard Rock": 40, "Grunge": 300}
    found = shelf_title(tracks, collection, roots=["Rock"])
    assert found.title == "Metal & Hard Rock"  # 90% of the tracks, and little of them elsewhere
    assert found.share >= 0.9 and found.coverage == 1.0  # the title's "Rock" fits the grunge tracks too
    assert fit_share(found.title, [words(" ".join(t)) for t in tracks]) >= 0.9
    # taken by a larger category: the next best, never the same title, still fitting
    other = shelf_title(tracks, collection, roots=["Rock"], taken=["metal & hard rock"])
    assert other.title != found.title and other.coverage >= 0.9


def test_root_completes_a_title_its_values_cannot_carry():
    tracks = rows((35, ["Rock", "Metal"]), (25, ["Rock", "Hard Rock"]),
                  *[(4, ["Rock", f"Style {c}"]) for c in "ABCDEFGHIJ"])
    collection = Counter({"Rock": 2000, "Metal": 40, "Hard Rock": 30, **{f"Style {c}": 4 for c in "ABCDEFGHIJ"}})
    found = shelf_title(tracks, collection, roots=["Rock"])
    assert found.root == "Rock" and found.coverage == 1.0
    assert found.title in ("Metal & Hard Rock", "Rock: Metal") or found.title.startswith("Rock: ")
    assert title_word_count(found.title) <= 5


def test_titles_stay_within_five_words():
    tracks = rows(*[(10, [f"Very Long Style Name {c}"]) for c in "ABCDE"])
    found = shelf_title(tracks, Counter({f"Very Long Style Name {c}": 10 for c in "ABCDE"}))
    assert title_word_count(found.title) <= 5 and found.coverage < 0.9  # the best a 5-word sign can do


def test_rendering():
    assert render(["Metal", "Hardcore"], "Rock") == "Rock: Metal & Hardcore"
    assert render(["Metal", "Hard Rock"], "Rock") == "Metal & Hard Rock"  # the root is already said
    assert render(["Latin Pop", "Teen Pop"]) == "Latin & Teen Pop"
    assert render(["Synth & Wave", "Deep House"]) == "Synth & Wave and Deep House"
    assert render(["Modern Classical", "EBM"], "Synth & Wave", under_root=False) == \
        "Synth & Wave, Modern Classical and EBM"  # values outside the root: a list, not a hierarchy


def _cluster(cid: str, lineage: str, first: int, n: int) -> Cluster:
    return Cluster(id=cid, track_ids=list(range(first, first + n)), genre_lineage=f"{lineage} > {cid}",
                   genre_title=cid)


def test_a_small_lineage_joins_the_one_it_shares_scenes_with():
    clusters = [_cluster(f"house{i}", "House", i * 100, 50) for i in range(4)]
    clusters += [_cluster(f"reggae{i}", "Reggae", 1000 + i * 100, 50) for i in range(4)]
    clusters.append(_cluster("dub", "Dub", 5000, 12))
    values = {}
    for c in clusters:
        place = "Jamaica" if c.genre_lineage.split(" > ")[0] in ("Reggae", "Dub") else "Chicago"
        descriptor = "echo" if place == "Jamaica" else "four to the floor"
        for t in c.track_ids:
            values[t] = {"genre": [c.genre_lineage.split(" > ")[0], c.id], "scene_tags": [place],
                         "descriptors": [descriptor]}
    space = ClusterSpace.build(clusters, TrackFacets.from_values(values))
    groups = lineage_groups(space, target=8, min_lineage_share=0.3)
    assert groups.members == {"Reggae + Dub": ["Reggae", "Dub"], "House": ["House"]}
    assert groups.home[-1] == "Reggae + Dub" and groups.merges[0]["lineages"] == ["Dub"]
