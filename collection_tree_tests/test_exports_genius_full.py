"""The exports of a real offline build of genius-2000s-full (29,999 tracks, 900-odd playlists; built once per
session by the ``genius_full_build`` fixture), used as a DJ would: every export read back by its own
reader holds exactly the leaves' tracks in play order; the browser opens small, finds an artist that
is no exemplar, sorts by size, lists a card's every track, and downloads review decisions that
`suggestions apply --accept-csv` reads. Screenshots land in test-artifacts/."""

import csv
import subprocess
import sys
from pathlib import Path
from urllib.parse import unquote

import pandas as pd
import pytest
from browser_support import ARTIFACTS, open_page, visible_ids
from conftest import GENIUS_FULL_DIR, GENIUS_FULL_MUSIC_ROOT
from pyrekordbox.rbxml import RekordboxXml
from serato_tools.crate import Crate
from traktor_nml_utils import TraktorCollection

from collection_tree.core.inputs import load_tracks
from collection_tree.exports import iter_leaves, play_order, provenance
from collection_tree.exports.m3u import playlist_layout
from collection_tree.exports.paths import track_path
from collection_tree.exports.rekordbox import top_folder_name
from collection_tree.exports.serato import crate_layout, drive_relative
from collection_tree.exports.traktor import traktor_location

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def expected(genius_full_build):
    """Leaf id -> the absolute paths of its tracks in play order (what every export must hold)."""
    tracks = load_tracks(GENIUS_FULL_DIR / "tracks.csv")
    location = dict(zip(tracks["track_id"].astype(int), tracks["location"], strict=True))
    return {leaf["id"]: [track_path(location[t], GENIUS_FULL_MUSIC_ROOT) for t in play_order(leaf)]
            for _, leaf in iter_leaves(genius_full_build.tree)}


def test_the_build_has_a_playlist_per_leaf_in_play_order(genius_full_build, expected):
    tree = genius_full_build.tree
    # Several hundred playlists (835 before leaves were bounded to 150 tracks): the scale the browser must take.
    assert len(expected) == sum(len(c["leaves"]) for c in tree["categories"]) > 800
    assert tree["assigned_tracks"] + len(tree["ungrouped_track_ids"]) == 29_999
    # No BPM or key in the Genius data: every leaf plays exemplars first, then by year (its "order").
    assert not any("transitions" in leaf for _, leaf in iter_leaves(tree))
    assert all(None not in paths and all(p.startswith(GENIUS_FULL_MUSIC_ROOT + "/") for p in paths)
               for paths in expected.values())


def test_m3u8_playlists_hold_exactly_the_leaves_tracks(genius_full_build, expected):
    out = genius_full_build.out
    mismatches = [leaf_id for leaf_id, relative in playlist_layout(genius_full_build.tree).items()
                  if [x for x in (out / relative).read_text(encoding="utf-8").split("\n")[2:] if x and x[0] != "#"]
                  != expected[leaf_id]]
    assert mismatches == [] and len(list((out / "playlists").rglob("*.m3u8"))) == len(expected)


def test_rekordbox_xml_holds_exactly_the_leaves_tracks(genius_full_build, expected):
    xml = RekordboxXml(genius_full_build.out / "rekordbox.xml")
    # pyrekordbox decodes Location (file://localhost/...) to a path without its leading "/".
    location = {int(t.TrackID): "/" + unquote(t.Location.removeprefix("file://localhost")).lstrip("/")
                for t in xml.get_tracks()}
    # "Collection Tree (offline heuristics)" once the tree records its build (h2's `build` object).
    top = xml.get_playlist(top_folder_name(genius_full_build.tree))
    found = {}
    by_title = {leaf["title"]: leaf["id"] for _, leaf in iter_leaves(genius_full_build.tree)}

    def walk(node):
        for child in node.get_playlists():
            if child.is_folder:
                walk(child)
            else:
                found.setdefault(by_title.get(child.name, child.name), [location[int(k)] for k in child.get_tracks()])

    walk(top)
    assert len(location) == 29_999
    assert {k: v for k, v in found.items() if expected.get(k) != v} == {} and len(found) == len(expected)


def test_traktor_nml_holds_exactly_the_leaves_tracks(genius_full_build, expected):
    nml = TraktorCollection(path=genius_full_build.out / "collection.nml").nml
    assert nml.collection.entries == 29_999
    playlists: list[list[str]] = []

    def walk(node):
        if node.type == "PLAYLIST":
            playlists.append([e.primarykey.key for e in node.playlist.entry])
        else:
            for child in node.subnodes.node:
                walk(child)

    top = nml.playlists.node.subnodes.node[0]
    assert top.name == top_folder_name(genius_full_build.tree)
    walk(top)
    wanted = [["".join(traktor_location(p)) for p in expected[leaf["id"]]]
              for _, leaf in iter_leaves(genius_full_build.tree)]
    assert sum(a != b for a, b in zip(playlists, wanted, strict=True)) == 0


def test_serato_crates_hold_exactly_the_leaves_tracks(genius_full_build, expected):
    folder = genius_full_build.out / "Subcrates"
    layout, parents = crate_layout(genius_full_build.tree)
    assert sorted(p.name for p in folder.iterdir()) == sorted([*layout.values(), *parents])
    mismatches = [leaf_id for leaf_id, name in layout.items()
                  if Crate(str(folder / name)).tracks() != [drive_relative(p)[1] for p in expected[leaf_id]]]
    assert mismatches == []


def test_export_command_rewrites_one_format(genius_full_build, tmp_path):
    env = {**genius_full_build.env, "COLLECTION_TREE_OUTPUT": str(genius_full_build.out)}
    nml = genius_full_build.out / "collection.nml"
    before = nml.read_bytes()
    done = subprocess.run([sys.executable, "-m", "collection_tree.cli", "export", "traktor", "--music-root",
                           "/Volumes/DJ USB"], env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert f"traktor_nml: {nml}" in done.stdout
    assert nml.read_bytes() != before and b'VOLUME="DJ USB"' in nml.read_bytes()
    done = subprocess.run([sys.executable, "-m", "collection_tree.cli", "export", "traktor"], env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0 and nml.read_bytes() == before  # back to the build's music root


# ----------------------------------------------------------------------------------------- browser
def non_exemplar_artist(tree: dict) -> tuple[str, set[str]]:
    """An artist who is no leaf's exemplar, in few playlists: (artist, the leaf ids holding them)."""
    tracks = pd.read_csv(GENIUS_FULL_DIR / "tracks.csv", usecols=["track_id", "artist", "title"])
    artist_of = dict(zip(tracks["track_id"], tracks["artist"].astype(str), strict=True))
    exemplars = {e["artist"] for _, leaf in iter_leaves(tree) for e in leaf["examples"]}
    leaves: dict[str, set[str]] = {}
    for _, leaf in iter_leaves(tree):
        for t in leaf["track_ids"]:
            leaves.setdefault(artist_of[t], set()).add(leaf["id"])
    lowered = {a.lower() for a in exemplars}
    candidates = sorted((a for a, ids in leaves.items() if 2 <= len(ids) <= 4 and len(a) >= 8 and a not in exemplars
                         and not any(a.lower() in e for e in lowered) and a.isascii() and " " in a),
                        key=lambda a: (-len(leaves[a]), a))
    # Only artists whose name is in no other artist's name or title, so the search hits their playlists only.
    for artist in candidates:
        if sum(artist.lower() in f"{a} {t}".lower() for a, t in zip(tracks["artist"].astype(str),
                                                                   tracks["title"].astype(str), strict=True)) == \
                sum(len([1 for t in leaf["track_ids"] if artist_of[t] == artist])
                    for _, leaf in iter_leaves(tree) if leaf["id"] in leaves[artist]):
            return artist, leaves[artist]
    raise AssertionError("no artist without exemplars found")


def test_browser_on_the_full_build(browser, genius_full_build, tmp_path):
    target = genius_full_build.out / "collection.html"
    page, events = open_page(browser, target)
    ARTIFACTS.mkdir(exist_ok=True)
    height = page.evaluate("document.documentElement.scrollHeight")
    leaves = sum(len(c["leaves"]) for c in genius_full_build.tree["categories"])
    assert height < 10_000 and page.text_content("#shown-count") == f"{leaves} playlists"
    assert len(visible_ids(page)) == 24 and page.text_content("#page-info") == f"Page 1 of {-(-leaves // 24)}"
    made = provenance(genius_full_build.tree)
    assert (f"Made with {made}" if made else "not recorded") in page.text_content("#provenance")
    page.screenshot(path=str(ARTIFACTS / "genius_full_load.png"))

    # Search finds an artist who is no exemplar anywhere, through the full track lists.
    artist, holders = non_exemplar_artist(genius_full_build.tree)
    page.fill("#search", artist)
    assert set(visible_ids(page)) == holders
    assert artist in page.text_content(".card .matches")
    page.screenshot(path=str(ARTIFACTS / "genius_full_search.png"))

    # Sort by size: the biggest playlists first.
    page.fill("#search", "")
    page.select_option("#sort", "size")
    sizes = [int(t.split()[0]) for t in page.eval_on_selector_all(".card .count", "cs => cs.map(c => c.textContent)")]
    largest = sorted((leaf["track_count"] for _, leaf in iter_leaves(genius_full_build.tree)), reverse=True)[:24]
    assert sizes == largest
    page.screenshot(path=str(ARTIFACTS / "genius_full_sorted.png"))

    # A card opens to every one of its tracks, in play order.
    first = visible_ids(page)[0]
    leaf = next(leaf for _, leaf in iter_leaves(genius_full_build.tree) if leaf["id"] == first)
    page.click(f'.card[data-id="{first}"] .toggle')
    rows = page.eval_on_selector_all(f'.card[data-id="{first}"] .tracklist tbody tr',
                                     "rs => rs.map(r => Number(r.dataset.trackId))")
    assert rows == play_order(leaf) and len(rows) == leaf["track_count"]
    page.screenshot(path=str(ARTIFACTS / "genius_full_open.png"))
    assert events == {"dialogs": [], "errors": []}
    page.close()


def test_browser_review_decisions_feed_suggestions_apply(browser, genius_full_build, tmp_path):
    tree = genius_full_build.tree
    leaf = next(leaf for _, leaf in iter_leaves(tree) if leaf["metadata_suggestions"])
    page, events = open_page(browser, genius_full_build.out / "collection.html")
    page.fill("#search", leaf["title"])
    page.click(f'.card[data-id="{leaf["id"]}"] .toggle')
    card = page.locator(f'.card[data-id="{leaf["id"]}"]')
    first, second = card.locator("tr.suggestion").nth(0), card.locator("tr.suggestion").nth(1)
    accepted_id = first.get_attribute("data-id")
    first.locator("button.accept").click()
    second.locator("button.reject").click()
    assert first.locator(".state").text_content() == "accepted"
    assert "1 accepted, 1 rejected" in page.text_content("#decision-count")
    card.screenshot(path=str(ARTIFACTS / "genius_full_review.png"))
    with page.expect_download() as download:
        page.click("#download")
    saved = tmp_path / download.value.suggested_filename
    download.value.save_as(saved)
    rows = list(csv.DictReader(saved.open(encoding="utf-8")))
    assert {r["id"]: r["accepted"] for r in rows if r["accepted"]} == {accepted_id: "yes",
                                                                        second.get_attribute("data-id"): "no"}
    reviewed = pd.read_csv(genius_full_build.out / "metadata_suggestions.csv", dtype=str)
    assert [r["id"] for r in rows] == reviewed["id"].tolist()  # the same table, decisions filled in
    done = subprocess.run([sys.executable, "-m", "collection_tree.cli", "suggestions", "apply", "--accept-csv",
                           str(saved), "--dry-run"], env=genius_full_build.env, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr
    assert f"[{accepted_id}," in done.stdout and "dry run: 1 changes would be written" in done.stdout
    assert events == {"dialogs": [], "errors": []}
    page.close()


def test_screenshots_were_kept():
    assert all((ARTIFACTS / f"genius_full_{name}.png").stat().st_size > 10_000 for name in ("load", "search", "open"))


def test_html_is_one_self_contained_file(genius_full_build):
    html = Path(genius_full_build.out / "collection.html").read_text(encoding="utf-8")
    assert "<link" not in html and "http://" not in html.split("<script")[0] and "https://" not in html
