"""The HTML collection browser: escaping and self-containment (pure), then real headless Chromium
(driven by Playwright's Python package with Debian's /usr/bin/chromium; no browser download):
cards render, a category button filters, the search box filters, no injected script runs. The
screenshots land in test-artifacts/ (gitignored)."""

import base64
import hashlib
import json
import re
import shutil
import tempfile
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
from conftest import GENIUS_DIR, XSS, genius_like_tree

from collection_tree.core.inputs import load_tracks, load_tree
from collection_tree.exports.html_browser import render_collection_html, write_collection_html
from collection_tree.exports.m3u import playlist_layout, write_leaf_playlists
from collection_tree.exports.ungrouped import NOT_RECORDED, ungrouped_tracks, unplaced_reasons

ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


def page_for(fixture, tmp_path: Path, reasons: dict | None = None) -> tuple[Path, str]:
    out = tmp_path / "out"
    write_leaf_playlists(fixture.tree, fixture.tracks, out)
    rows = ungrouped_tracks(fixture.tree, fixture.tracks, reasons or {})
    target = write_collection_html(fixture.tree, playlist_layout(fixture.tree), rows, out / "collection.html")
    return target, target.read_text(encoding="utf-8")


# -------------------------------------------------------------------------------------------- pure
def test_user_strings_are_escaped(export_fixture, tmp_path):
    export_fixture.tree["categories"][1]["leaves"][0]["id"] = 'x" onmouseover="alert(1)'
    export_fixture.tree["categories"][1]["leaves"][0]["examples"] = [
        {"title": "</script><script>alert(2)</script>", "artist": "A & B", "year": 2001}]
    _, html = page_for(export_fixture, tmp_path)
    assert "alert(1)</script>" not in html and "<script>alert" not in html
    assert html.count("&lt;script&gt;alert(1)&lt;/script&gt;") >= 3  # category, leaf title, scene tag
    assert 'data-id="x&quot; onmouseover=&quot;alert(1)"' in html and 'onmouseover="' not in html
    assert "Rap/Hip-Hop: &quot;Heavy&quot;" in html
    assert "About con &quot;quoted&quot; &amp; &lt;b&gt;bold&lt;/b&gt;" in html
    assert "&lt;/script&gt;&lt;script&gt;alert(2)&lt;/script&gt;" in html and "A &amp; B" in html
    # Exactly our two script elements: the JSON data and the page script.
    assert re.findall(r"<script[^>]*>", html) == ['<script type="application/json" id="collection-data">', "<script>"]


def test_json_data_is_inert_and_round_trips(export_fixture, tmp_path):
    _, html = page_for(export_fixture, tmp_path)
    blob = re.search(r'<script type="application/json" id="collection-data">(.*?)</script>', html, re.S).group(1)
    assert "<" not in blob and ">" not in blob and "&" not in blob
    data = json.loads(blob)
    assert data["categories"]["c0"] == {"title": f"Rock {XSS}", "description": "Guitars & <i>more</i>"}
    assert "about " in data["search"]["c0l0"] and XSS.lower() in data["search"]["c0l0"]


def test_self_contained_and_script_pinned_by_csp(export_fixture, tmp_path):
    _, html = page_for(export_fixture, tmp_path)
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", html) and "@import" not in html
    assert "<link" not in html and "<img" not in html
    csp = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', html).group(1)
    script = re.search(r"<script>(.*?)</script>", html, re.S).group(1)
    digest = base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode()
    assert "default-src &#x27;none&#x27;" in csp and f"sha256-{digest}" in csp


def test_cards_link_to_their_playlists_and_show_context(export_fixture, tmp_path):
    target, html = page_for(export_fixture, tmp_path)
    hrefs = re.findall(r'<a class="playlist" href="([^"]+)">', html)
    assert [unquote(h) for h in hrefs] == list(playlist_layout(export_fixture.tree).values())
    assert all((target.parent / unquote(h)).is_file() for h in hrefs)
    assert html.count('class="card"') == 4
    assert '<span class="badge"' in html and ">2 suggestions<" in html
    assert '<span class="tag genre" title="genre context">Rock</span>' in html
    assert '<span class="year">(2003)</span>' in html


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
    html = render_collection_html(export_fixture.tree, {}, rows)
    assert "Ungrouped tracks (2)" in html and "<td>no facet &lt;match&gt;</td>" in html
    assert f"<td>{NOT_RECORDED}</td>" in html


def test_partial_tree_is_flagged(export_fixture):
    export_fixture.tree["status"] = "stopped"
    assert "build was stopped" in render_collection_html(export_fixture.tree, {}, [])
    export_fixture.tree["status"] = "complete"
    assert "build was stopped" not in render_collection_html(export_fixture.tree, {}, [])


# ----------------------------------------------------------------------------------------- browser
@pytest.fixture(scope="module")
def browser():
    if CHROMIUM is None:
        pytest.skip("chromium is not installed (.ci/install-system-deps installs Debian's chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw, tempfile.TemporaryDirectory() as profile:
        context = pw.chromium.launch_persistent_context(
            profile, executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS,
            viewport={"width": 1400, "height": 900})
        yield context
        context.close()


def open_page(browser, target: Path):
    page = browser.new_page()
    events = {"dialogs": [], "errors": []}
    page.on("dialog", lambda d: (events["dialogs"].append(d.message), d.dismiss()))
    page.on("console", lambda m: events["errors"].append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: events["errors"].append(str(e)))
    page.goto(target.resolve().as_uri())
    return page, events


def visible_ids(page) -> list[str]:
    return page.eval_on_selector_all(".card", "cs => cs.filter(c => !c.hidden && c.offsetParent !== null)"
                                              ".map(c => c.dataset.id)")


def test_browser_filters_by_category_and_search(browser, export_fixture, tmp_path):
    target, _ = page_for(export_fixture, tmp_path)
    page, events = open_page(browser, target)
    assert visible_ids(page) == ["rock__usa", "pop__dotdot", "rap__con", "rap__con2"]
    assert page.locator(".card h3").first.text_content() == XSS  # shown as text, not run
    page.click('.cat[data-id="rap"]')
    assert visible_ids(page) == ["rap__con", "rap__con2"]
    assert page.text_content("#category-info h2") == 'Rap/Hip-Hop: "Heavy"'
    assert page.text_content("#shown-count") == "2 playlists"
    page.click('.cat[data-category=""]')
    page.fill("#search", "PASSWD")
    assert visible_ids(page) == ["pop__dotdot"]
    page.fill("#search", "alert")
    assert visible_ids(page) == ["rock__usa", "pop__dotdot"]  # via titles, the category, a scene tag
    page.click('.cat[data-id="rap"]')
    assert visible_ids(page) == [] and page.is_visible("#empty")
    page.fill("#search", "")
    link = page.eval_on_selector('.card[data-id="rap__con"] a.playlist', "a => a.href")
    assert Path(unquote(urlsplit(link).path)).is_file()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "collection_html_fixture.png"), full_page=True)
    assert events == {"dialogs": [], "errors": []}  # no injected script ran, no CSP violation
    page.close()


def test_browser_on_a_real_collection(browser, tmp_path):
    tracks = load_tracks(GENIUS_DIR / "tracks.csv")
    tree = genius_like_tree(tracks, load_tree(GENIUS_DIR / "genre_tree.json", "genre").doc)
    out = tmp_path / "out"
    write_leaf_playlists(tree, tracks, out, music_root="/music")
    rows = ungrouped_tracks(tree, tracks, {})
    target = write_collection_html(tree, playlist_layout(tree), rows, out / "collection.html")
    page, events = open_page(browser, target)
    total = sum(len(c["leaves"]) for c in tree["categories"])
    assert len(visible_ids(page)) == total and page.text_content("#shown-count") == f"{total} playlists"
    rap = next(c for c in tree["categories"] if c["id"] == "rap")
    page.click('.cat[data-id="rap"]')
    assert visible_ids(page) == [leaf["id"] for leaf in rap["leaves"]]
    # The grid is responsive: several 320px+ columns at 1400px, one on a phone.
    columns = page.eval_on_selector("#grid", "g => getComputedStyle(g).gridTemplateColumns.split(' ').length")
    assert columns >= 3
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "collection_html.png"))
    page.fill("#search", "east coast")
    matching = [leaf["id"] for leaf in rap["leaves"]
                if "east coast" in f"{leaf['title']} {leaf['description']} {leaf['genre_context']}".lower()]
    assert matching and visible_ids(page) == matching
    page.set_viewport_size({"width": 420, "height": 900})
    assert page.eval_on_selector("#grid", "g => getComputedStyle(g).gridTemplateColumns.split(' ').length") == 1
    page.screenshot(path=str(ARTIFACTS / "collection_html_narrow.png"))
    assert page.text_content("#ungrouped h2") == f"Ungrouped tracks ({len(rows)})"
    assert events == {"dialogs": [], "errors": []}
    page.close()
