"""A self-contained HTML collection browser (``collection.html``): the reference's collection view
as one file that opens from disk with no network.

Layout as the reference: a sticky category sidebar and a responsive card grid
(``repeat(auto-fill, minmax(320px, 1fr))``); each card shows title, track count, genre/scene
context tags, description, exemplar tracks, a metadata-suggestion badge and a link to the leaf's
M3U8 playlist. Ungrouped tracks are listed with their reasons; a search box filters the cards.

Every user or LLM string is escaped with ``html.escape`` where it enters markup; the data the
script needs travels as JSON in a ``<script type="application/json">`` with ``<``, ``>`` and ``&``
written as ``\\u`` escapes, and the script writes it with ``textContent`` only. A
Content-Security-Policy allows no network at all and only the page's own script (by hash), so even
markup that slipped through could not run or fetch anything.
"""

from __future__ import annotations

import base64
import hashlib
import json
from html import escape
from pathlib import Path
from typing import Any

from collection_tree.exports.m3u import playlist_href
from collection_tree.exports.paths import atomic_write

UNGROUPED_SHOWN = 500  # a stopped build can leave thousands; the CLI lists them all

CSS = """
:root { --bg: #f6f5f2; --panel: #fff; --ink: #1d1d1f; --muted: #6b6b70; --line: #e3e1dc;
  --accent: #3f51b5; --accent-soft: #e8eaf6; --genre: #e0f2f1; --genre-ink: #00695c;
  --scene: #fff3e0; --scene-ink: #a0522d; --badge: #fde68a; --badge-ink: #7c4a03; }
* { box-sizing: border-box; }
[hidden] { display: none !important; }
body { margin: 0; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
  color: var(--ink); background: var(--bg); }
.top { display: flex; flex-wrap: wrap; gap: 8px 20px; align-items: center; padding: 14px 22px;
  background: var(--panel); border-bottom: 1px solid var(--line); position: sticky; top: 0; z-index: 2; }
.top h1 { margin: 0; font-size: 20px; }
.stats { margin: 0; color: var(--muted); font-size: 13px; }
.tools { margin-left: auto; display: flex; gap: 12px; align-items: center; }
#search { width: 300px; max-width: 60vw; padding: 7px 10px; border: 1px solid var(--line);
  border-radius: 8px; font: inherit; }
#shown-count { color: var(--muted); font-size: 13px; white-space: nowrap; }
.warning { margin: 12px 22px 0; padding: 10px 14px; border-radius: 8px; background: #fdecea; color: #8a1c12; }
.layout { display: grid; grid-template-columns: 250px 1fr; gap: 20px; padding: 18px 22px; align-items: start; }
.sidebar { position: sticky; top: 76px; display: flex; flex-direction: column; gap: 4px;
  max-height: calc(100vh - 96px); overflow-y: auto; }
.cat { display: flex; justify-content: space-between; gap: 8px; width: 100%; text-align: left;
  padding: 8px 10px; border: 1px solid transparent; border-radius: 8px; background: transparent;
  font: inherit; color: var(--ink); cursor: pointer; }
.cat:hover { background: var(--panel); border-color: var(--line); }
.cat.active { background: var(--accent); color: #fff; }
.cat .n { opacity: .75; font-variant-numeric: tabular-nums; }
.sidebar .jump { padding: 8px 10px; color: var(--muted); font-size: 13px; }
#category-info { margin: 0 0 14px; }
#category-info h2 { margin: 0 0 4px; font-size: 18px; }
#category-info p { margin: 0; color: var(--muted); max-width: 80ch; }
.grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(320px, 1fr)); gap: 16px; }
.card { display: flex; flex-direction: column; gap: 8px; padding: 14px 16px; background: var(--panel);
  border: 1px solid var(--line); border-radius: 12px; }
.card-head { display: flex; justify-content: space-between; align-items: baseline; gap: 10px; }
.card h3 { margin: 0; font-size: 16px; overflow-wrap: anywhere; }
.count { color: var(--muted); font-size: 13px; white-space: nowrap; }
.in-cat { color: var(--muted); font-size: 12px; text-transform: uppercase; letter-spacing: .03em; }
.tags { display: flex; flex-wrap: wrap; gap: 6px; }
.tag { padding: 2px 8px; border-radius: 999px; font-size: 12px; }
.tag.genre { background: var(--genre); color: var(--genre-ink); }
.tag.scene { background: var(--scene); color: var(--scene-ink); }
.desc { margin: 0; font-size: 14px; overflow-wrap: anywhere; }
.examples { margin: 0; padding-left: 20px; font-size: 13px; color: #333; }
.examples .year { color: var(--muted); }
.card-foot { margin-top: auto; display: flex; gap: 10px; align-items: center; flex-wrap: wrap; }
.card-foot a { color: var(--accent); text-decoration: none; font-size: 13px; font-weight: 600; }
.badge { padding: 2px 8px; border-radius: 999px; background: var(--badge); color: var(--badge-ink); font-size: 12px; }
#empty { color: var(--muted); }
#ungrouped { margin-top: 28px; }
#ungrouped h2 { font-size: 17px; }
table { border-collapse: collapse; background: var(--panel); font-size: 13px; }
th, td { text-align: left; padding: 5px 10px; border-bottom: 1px solid var(--line); vertical-align: top; }
.table-wrap { overflow-x: auto; }
@media (max-width: 760px) {
  .top { position: static; }
  .layout { grid-template-columns: 1fr; }
  .sidebar { position: static; flex-direction: row; overflow-x: auto; max-height: none; }
  .cat { width: auto; white-space: nowrap; }
  .tools { margin-left: 0; }
}
"""

JS = """
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("collection-data").textContent);
  var cards = Array.prototype.slice.call(document.querySelectorAll(".card"));
  var buttons = Array.prototype.slice.call(document.querySelectorAll(".cat"));
  var search = document.getElementById("search");
  var shown = document.getElementById("shown-count");
  var empty = document.getElementById("empty");
  var info = document.getElementById("category-info");
  var state = { category: "", terms: [] };

  function render() {
    var n = 0;
    cards.forEach(function (card) {
      var text = data.search[card.dataset.key] || "";
      var ok = (!state.category || card.dataset.category === state.category) &&
        state.terms.every(function (t) { return text.indexOf(t) !== -1; });
      card.hidden = !ok;
      if (ok) { n += 1; }
    });
    shown.textContent = n + (n === 1 ? " playlist" : " playlists");
    empty.hidden = n !== 0;
    var cat = data.categories[state.category];
    info.hidden = !cat;
    if (cat) {
      info.querySelector("h2").textContent = cat.title;
      info.querySelector("p").textContent = cat.description;
    }
  }

  buttons.forEach(function (button) {
    button.addEventListener("click", function () {
      state.category = button.dataset.category;
      buttons.forEach(function (b) {
        b.classList.toggle("active", b === button);
        b.setAttribute("aria-pressed", b === button ? "true" : "false");
      });
      render();
    });
  });
  search.addEventListener("input", function () {
    state.terms = search.value.toLowerCase().split(/\\s+/).filter(Boolean);
    render();
  });
  render();
})();
"""


def json_for_script(data: Any) -> str:
    """JSON safe inside a <script> element: no ``</script>``, ``<!--`` or entity can form."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _csp() -> str:
    digest = base64.b64encode(hashlib.sha256(JS.encode("utf-8")).digest()).decode("ascii")
    return f"default-src 'none'; style-src 'unsafe-inline'; script-src 'sha256-{digest}'; base-uri 'none'"


def _e(value: Any) -> str:
    return escape("" if value is None else str(value), quote=True)


def _example(example: Any) -> str:
    if not isinstance(example, dict):
        return ""
    year = example.get("year")
    year_html = f' <span class="year">({_e(year)})</span>' if year not in (None, "") else ""
    return (f'<li><span class="artist">{_e(example.get("artist"))}</span> – '
            f'<span class="title">{_e(example.get("title"))}</span>{year_html}</li>')


def _card(key: str, cat_key: str, category: dict[str, Any], leaf: dict[str, Any], href: str | None) -> str:
    count = int(leaf.get("track_count") or len(leaf.get("track_ids", [])))
    tags = "".join(f'<span class="tag {kind}" title="{kind} context">{_e(leaf.get(f"{kind}_context"))}</span>'
                   for kind in ("genre", "scene") if leaf.get(f"{kind}_context"))
    examples = "".join(_example(x) for x in leaf.get("examples", []) or [])
    suggestions = len(leaf.get("metadata_suggestions", []) or [])
    badge = (f'<span class="badge" title="metadata suggestions for this playlist\'s tracks '
             f'(metadata_suggestions.csv)">{suggestions} suggestion{"s" if suggestions != 1 else ""}</span>'
             if suggestions else "")
    link = f'<a class="playlist" href="{_e(href)}">Playlist (M3U8)</a>' if href else ""
    return (
        f'<article class="card" data-key="{key}" data-category="{cat_key}" data-id="{_e(leaf.get("id"))}">'
        f'<div class="in-cat">{_e(category.get("title"))}</div>'
        f'<div class="card-head"><h3>{_e(leaf.get("title"))}</h3>'
        f'<span class="count">{count} track{"s" if count != 1 else ""}</span></div>'
        + (f'<div class="tags">{tags}</div>' if tags else "")
        + f'<p class="desc">{_e(leaf.get("description"))}</p>'
        + (f'<ol class="examples">{examples}</ol>' if examples else "")
        + f'<div class="card-foot">{link}{badge}</div></article>'
    )


def _search_text(category: dict[str, Any], leaf: dict[str, Any]) -> str:
    parts = [leaf.get("title"), leaf.get("description"), leaf.get("genre_context"), leaf.get("scene_context"),
             category.get("title")]
    for example in leaf.get("examples", []) or []:
        if isinstance(example, dict):
            parts += [example.get("artist"), example.get("title")]
    return " ".join(str(p) for p in parts if p).lower()


def _ungrouped_section(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return '<section id="ungrouped"><h2>Ungrouped tracks (0)</h2><p>Every track is in a playlist.</p></section>'
    body = "".join(f"<tr><td>{_e(r['track_id'])}</td><td>{_e(r['artist'])}</td><td>{_e(r['title'])}</td>"
                   f"<td>{_e(r['reason'])}</td></tr>" for r in rows[:UNGROUPED_SHOWN])
    more = (f"<p>… and {len(rows) - UNGROUPED_SHOWN} more: <code>collection-tree ungrouped</code> lists them all.</p>"
            if len(rows) > UNGROUPED_SHOWN else "")
    return (f'<section id="ungrouped"><h2>Ungrouped tracks ({len(rows)})</h2>'
            f'<div class="table-wrap"><table><thead><tr><th>id</th><th>artist</th><th>title</th><th>why not placed</th>'
            f"</tr></thead><tbody>{body}</tbody></table></div>{more}</section>")


def render_collection_html(tree: dict[str, Any], playlist_paths: dict[str, str],
                           ungrouped: list[dict[str, Any]]) -> str:
    """The page. ``playlist_paths``: leaf id -> playlist path relative to the page's folder
    (from ``m3u.playlist_layout``); ``ungrouped``: rows from ``ungrouped.ungrouped_tracks``."""
    categories = tree.get("categories", [])
    cards: list[str] = []
    buttons = ['<button class="cat active" type="button" data-category="" aria-pressed="true">'
               f'<span>All playlists</span><span class="n">{sum(len(c.get("leaves", [])) for c in categories)}'
               "</span></button>"]
    data: dict[str, Any] = {"categories": {}, "search": {}}
    for ci, category in enumerate(categories):
        cat_key = f"c{ci}"
        leaves = category.get("leaves", [])
        data["categories"][cat_key] = {"title": str(category.get("title") or ""),
                                       "description": str(category.get("description") or "")}
        buttons.append(f'<button class="cat" type="button" data-category="{cat_key}" aria-pressed="false" '
                       f'data-id="{_e(category.get("id"))}"><span>{_e(category.get("title"))}</span>'
                       f'<span class="n">{len(leaves)}</span></button>')
        for li, leaf in enumerate(leaves):
            key = f"{cat_key}l{li}"
            data["search"][key] = _search_text(category, leaf)
            path = playlist_paths.get(str(leaf.get("id")))
            cards.append(_card(key, cat_key, category, leaf, playlist_href(path) if path else None))
    leaves_total = len(cards)
    stats = (f"{_e(tree.get('total_tracks', '?'))} tracks · {_e(tree.get('assigned_tracks', '?'))} in playlists · "
             f"{len(categories)} categories · {leaves_total} playlists · built {_e(tree.get('created_at', ''))}")
    warning = ('<p class="warning">This tree is partial: the build was stopped before it finished.</p>'
               if tree.get("status") not in (None, "complete") else "")
    ungrouped_link = f'<a class="jump" href="#ungrouped">Ungrouped tracks ({len(ungrouped)})</a>'
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="{_e(_csp())}">
<title>Collection Tree · {leaves_total} playlists</title>
<style>{CSS}</style>
</head>
<body>
<header class="top"><h1>Collection Tree</h1><p class="stats">{stats}</p>
<div class="tools"><input type="search" id="search" placeholder="Filter playlists…" aria-label="Filter playlists"
 autocomplete="off"><span id="shown-count">{leaves_total} playlists</span></div></header>
{warning}
<div class="layout">
<nav class="sidebar" aria-label="Categories">{"".join(buttons)}{ungrouped_link}</nav>
<main>
<section id="category-info" hidden><h2></h2><p></p></section>
<div class="grid" id="grid">{"".join(cards)}</div>
<p id="empty" hidden>No playlist matches the filter.</p>
{_ungrouped_section(ungrouped)}
</main>
</div>
<script type="application/json" id="collection-data">{json_for_script(data)}</script>
<script>{JS}</script>
</body>
</html>
"""


def write_collection_html(tree: dict[str, Any], playlist_paths: dict[str, str], ungrouped: list[dict[str, Any]],
                          target: Path) -> Path:
    atomic_write(Path(target), render_collection_html(tree, playlist_paths, ungrouped).encode("utf-8"))
    return Path(target)
