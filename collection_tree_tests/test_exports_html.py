"""The HTML collection browser: escaping, self-containment, data and provenance (pure), then real
headless Chromium on the small hostile fixture (browser_support.py): sections filter, search finds a
track that is no exemplar, a card opens to its tracks in play order, no injected script runs. The
genius-2000s-full build is driven in test_browser_genius_full.py. Screenshots land in test-artifacts/."""

import base64
import hashlib
import json
import re
from pathlib import Path

import pytest
from browser_support import ARTIFACTS, open_page, visible_ids
from conftest import XSS

from collection_tree.exports.html_browser import render_collection_html, write_collection_html
from collection_tree.exports.m3u import playlist_layout, write_leaf_playlists
from collection_tree.exports.suggestions_review import build_review_table
from collection_tree.exports.ungrouped import NOT_RECORDED, ungrouped_tracks, unplaced_reasons


def page_for(fixture, tmp_path: Path, reasons: dict | None = None, suggestions: bool = True) -> tuple[Path, str]:
    out = tmp_path / "out"
    write_leaf_playlists(fixture.tree, fixture.tracks, out)
    rows = ungrouped_tracks(fixture.tree, fixture.tracks, reasons or {})
    review = build_review_table(fixture.tree, fixture.tracks) if suggestions else None
    target = write_collection_html(fixture.tree, fixture.tracks, playlist_layout(fixture.tree), rows,
                                   out / "collection.html", review)
    return target, target.read_text(encoding="utf-8")


def data_of(html: str) -> dict:
    blob = re.search(r'<script type="application/json" id="collection-data">(.*?)</script>', html, re.S).group(1)
    assert "<" not in blob and ">" not in blob and "&" not in blob
    return json.loads(blob)


def sectioned(tree: dict) -> dict:
    """The fixture with its first category split into two sections (as h5b's grouping writes them)."""
    tree["categories"][0]["sections"] = [{"title": "Loud <b>ones</b>", "leaf_ids": ["pop__dotdot"]},
                                         {"title": "Quiet", "leaf_ids": ["rock__usa"]}]
    return tree


# -------------------------------------------------------------------------------------------- pure
def test_user_strings_are_escaped(export_fixture, tmp_path):
    export_fixture.tree["categories"][1]["id"] = 'x" onmouseover="alert(1)'
    export_fixture.tree["categories"][1]["leaves"][0]["examples"] = [
        {"title": "</script><script>alert(2)</script>", "artist": "A & B", "year": 2001}]
    _, html = page_for(export_fixture, tmp_path, reasons={9: "no <b>facet</b>"})
    assert "<script>alert" not in html and "alert(2)</script>" not in html
    assert "Rock &lt;script&gt;alert(1)&lt;/script&gt;" in html  # the category button, as text
    assert 'data-id="x&#34; onmouseover=&#34;alert(1)"' in html and 'onmouseover="' not in html
    assert "<td>no &lt;b&gt;facet&lt;/b&gt;</td>" in html
    # Exactly our two script elements: the JSON data and the page script.
    assert re.findall(r"<script[^>]*>", html) == ['<script type="application/json" id="collection-data">', "<script>"]


def test_json_data_round_trips_in_play_order(export_fixture, tmp_path):
    data = data_of(page_for(export_fixture, tmp_path)[1])
    assert data["cats"][0]["t"] == f"Rock {XSS}" and data["cats"][0]["d"] == "Guitars & <i>more</i>"
    rock = data["leaves"][0]
    assert rock["id"] == "rock__usa" and [data["tracks"]["id"][r] for r in rock["o"]] == [3, 1, 2]  # its order
    assert [data["tracks"]["t"][r] for r in rock["x"]] == ["Third"]  # the exemplar, matched in the leaf
    assert data["tracks"]["k"][rock["o"][1]] == "8A" and rock["bpm"] == [96, 96] and rock["fit"] == "--"
    pop = data["leaves"][1]
    assert pop["keys"] == [["3B", 1]] and pop["nk"] == 1 and pop["bpmMed"] == 120.5
    assert (rock["sg"], pop["sg"]) == (5, 0) and len(data["suggestions"]) == 5
    assert data["suggestionColumns"][:2] == ["id", "track_id"]


def test_self_contained_and_pinned_by_csp(export_fixture, tmp_path):
    _, html = page_for(export_fixture, tmp_path)
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", html) and "@import" not in html
    assert "<link" not in html and "<img" not in html and " style=" not in html
    csp = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', html).group(1)
    script = re.search(r"<script>(.*?)</script>", html, re.S).group(1)
    style = re.search(r"<style>(.*?)</style>", html, re.S).group(1)

    def digest(text):
        return base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode()

    assert "default-src &#39;none&#39;" in csp
    assert f"script-src &#39;sha256-{digest(script)}&#39;" in csp
    assert f"style-src &#39;sha256-{digest(style)}&#39;" in csp


def test_bidi_and_control_characters_never_reach_the_page(export_fixture, tmp_path):
    export_fixture.tree["categories"][0]["leaves"][0]["title"] = "evil\u202egnp.exe\x1b[2J"
    export_fixture.tracks.loc[export_fixture.tracks["track_id"] == 6, "artist"] = "Art\u2066ist\u2069 6"
    _, html = page_for(export_fixture, tmp_path)
    assert not any(ch in html for ch in "\u202e\u2066\u2069\x1b")
    data = data_of(html)
    assert data["leaves"][0]["t"] == "evilgnp.exe [2J" and "Artist 6" in data["tracks"]["a"]


def test_provenance_in_the_header(export_fixture, tmp_path):
    assert "How this tree was made is not recorded" in page_for(export_fixture, tmp_path)[1]
    export_fixture.tree["build"] = {"provider": "offline", "models": ["claude-sonnet-5-5"], "profile": "default",
                                    "version": "0.1.0", "run_id": "abcdef1234567890"}
    html = page_for(export_fixture, tmp_path)[1]
    assert ("Made with <strong>offline heuristics</strong> · profile default · collection-tree 0.1.0 · "
            "run abcdef123456") in html
    export_fixture.tree["build"].update(provider="anthropic", models=["claude-sonnet-5-5", "claude-haiku-5-5"])
    assert "Made with <strong>claude-sonnet-5-5, claude-haiku-5-5</strong>" in page_for(export_fixture, tmp_path)[1]


def test_sections_are_in_the_sidebar_and_the_data(export_fixture, tmp_path):
    sectioned(export_fixture.tree)
    _, html = page_for(export_fixture, tmp_path)
    data = data_of(html)
    assert data["cats"][0]["s"] == [{"t": "Loud <b>ones</b>", "l": [0]}, {"t": "Quiet", "l": [1]}]
    assert [(leaf["id"], leaf["s"]) for leaf in data["leaves"][:2]] == [("pop__dotdot", 0), ("rock__usa", 1)]
    assert re.findall(r'<button class="section"[^>]*data-section="(\d)"[^>]*><span>([^<]*)</span>', html) == [
        ("0", "Loud &lt;b&gt;ones&lt;/b&gt;"), ("1", "Quiet")]


def test_ungrouped_tracks_listed_with_reasons(export_fixture, tmp_path):
    store = tmp_path / "store"
    store.mkdir()
    (store / "collection_leaves.json").write_text(json.dumps(
        {"clusters": [], "all_track_ids": [], "unplaced": [{"track_id": 9, "reason": "no facet <match>"}]}))
    (store / "assigned_clusters.json").write_text(json.dumps(
        {"unplaced": [{"track_id": 9, "reason": "older"}, {"track_id": 10, "reason": ""}]}))
    rows = ungrouped_tracks(export_fixture.tree, export_fixture.tracks, unplaced_reasons(store))
    assert rows == [{"track_id": 9, "artist": "Artist 9", "title": "Nine", "reason": "no facet <match>"},
                    {"track_id": 10, "artist": "Artist 10", "title": "Ten", "reason": NOT_RECORDED}]
    html = render_collection_html(export_fixture.tree, export_fixture.tracks, {}, rows)
    assert "Ungrouped tracks (2)" in html and "<td>no facet &lt;match&gt;</td>" in html
    assert f"<td>{NOT_RECORDED}</td>" in html
    # The tree's own reasons (an update's, the overrides') come first; the stored phases' fill the rest.
    tree = {**export_fixture.tree, "ungrouped_reasons": [{"track_id": 10, "reason": "new in this update"}]}
    rows = ungrouped_tracks(tree, export_fixture.tracks, unplaced_reasons(store))
    assert [r["reason"] for r in rows] == ["no facet <match>", "new in this update"]


def test_partial_tree_is_flagged(export_fixture):
    export_fixture.tree["status"] = "stopped"
    assert "build was stopped" in render_collection_html(export_fixture.tree, export_fixture.tracks, {}, [])
    export_fixture.tree["status"] = "complete"
    assert "build was stopped" not in render_collection_html(export_fixture.tree, export_fixture.tracks, {}, [])


# ----------------------------------------------------------------------------------------- browser
def test_browser_on_the_fixture(browser, export_fixture, tmp_path):
    sectioned(export_fixture.tree)
    target, _ = page_for(export_fixture, tmp_path)
    page, events = open_page(browser, target)
    assert visible_ids(page) == ["pop__dotdot", "rock__usa", "rap__con", "rap__con2"]
    assert page.locator('.card[data-id="rock__usa"] h3').text_content() == XSS  # shown as text, not run
    page.click('.cat[data-id="rock-and-pop"]')
    assert visible_ids(page) == ["pop__dotdot", "rock__usa"] and page.is_visible(".section")
    page.click('.section[data-section="1"]')
    assert visible_ids(page) == ["rock__usa"]
    assert page.text_content("#category-info h2") == f"Rock {XSS} › Quiet"
    page.click('.cat[data-category="-1"]')
    page.fill("#search", "artist 7")  # not an exemplar anywhere: found through the full track list
    assert visible_ids(page) == ["rap__con"]
    assert "Artist 7 – Seven" in page.text_content('.card[data-id="rap__con"] .matches')
    page.fill("#search", "")
    page.click('.card[data-id="rock__usa"] .toggle')
    rows = page.eval_on_selector_all('.card[data-id="rock__usa"] .tracklist tbody tr',
                                     "rs => rs.map(r => r.dataset.trackId)")
    assert rows == ["3", "1", "2"]  # every track, in play order
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "collection_html_fixture.png"), full_page=True)
    assert events == {"dialogs": [], "errors": []}  # no injected script ran, no CSP violation
    page.close()


# ------------------------------------------------------------------ the page's data, streamed in pieces
def _one_shot(data) -> str:
    """The page data's text as the page wrote it before it was streamed: one ``json.dumps``, escaped."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False,
                      default=list)  # the page's suggestion rows, made as they are written: all of them
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def test_streamed_json_pieces_join_to_the_one_shot_text(monkeypatch):
    from collection_tree.exports import html_browser

    monkeypatch.setattr(html_browser, "JSON_CHUNK_ITEMS", 3)
    data = {"build": {"made": "offline <b>&</b>"}, "pageSize": 24, "empty": [], "short": [1, 2],
            "tracks": {"id": list(range(10)), "t": ["</script>", "Jóga", "a&b", "ü\u2028x", "", "7", "8", "9", "10",
                                                   "11"], "nested": [[1, [2]], {"k": "<!--"}, None, 1.5]},
            "leaves": [{"o": [r, r + 1], "t": f"<{r}>"} for r in range(7)], "exactly": [1, 2, 3]}
    pieces = list(html_browser.json_for_script_chunks(data))
    assert "".join(pieces) == _one_shot(data) == html_browser.json_for_script(data)
    assert len(pieces) > 20  # written piece by piece, not as one string
    assert all("<" not in p and ">" not in p and "&" not in p for p in pieces)
    bad = {"tracks": {"b": [1.0, float("nan"), 2.0, 3.0, 4.0]}}
    with pytest.raises(ValueError, match="not JSON compliant"):
        "".join(html_browser.json_for_script_chunks(bad))


def test_the_written_page_carries_the_one_shot_data_once(export_fixture, tmp_path, monkeypatch):
    from collection_tree.exports import html_browser

    monkeypatch.setattr(html_browser, "JSON_CHUNK_ITEMS", 2)  # the fixture's lists come in several pieces
    _, html = page_for(export_fixture, tmp_path)
    review = build_review_table(export_fixture.tree, export_fixture.tracks)
    expected = _one_shot(html_browser.page_data(export_fixture.tree, export_fixture.tracks,
                                                playlist_layout(export_fixture.tree), review))
    blob = re.search(r'<script type="application/json" id="collection-data">(.*?)</script>', html, re.S).group(1)
    assert blob == expected
    assert html.count('id="collection-data"') == 1 and "\x00" not in html
    rows = ungrouped_tracks(export_fixture.tree, export_fixture.tracks, {})
    assert render_collection_html(export_fixture.tree, export_fixture.tracks, playlist_layout(export_fixture.tree),
                                  rows, review) == html
