"""DJ exports: how well the written playlists mix, and how the HTML browser copes at 835 playlists.

    python -m benchmarks.dj_exports transitions [--output DIR]   # default: an offline demo build
    python -m benchmarks.dj_exports browser [--output DIR]       # default: an offline genius-2000s-full build

``transitions`` reads the M3U8 files a build wrote (not the tree JSON), maps each path back to its
track through the tracks file's ``location`` and counts compatible adjacent pairs (Camelot key +-1 or
relative, tempo within 6%, half/double time) among tracks with a BPM and a key: in the written order,
in the same playlists sorted by BPM, and in library order (by track id). It also prints the share the
tree's leaves report (``transitions``, weighted by pairs) as the build's metadata does.

``browser`` opens ``collection.html`` in Debian's chromium (Playwright, no download) and records the
load time (navigation to the first page of cards), DOM size, page height, file size, and the time a
search over every track and a sort take. Figures vary with the machine's load: they are printed, not
asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from benchmarks.harness import markdown_table, write_results
from collection_tree.core.mix import camelot_codes, transition_flags
from collection_tree.exports.paths import absolute_form, track_path
from collection_tree.settings import current

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
TOLERANCE = 0.06


def offline_build(output: Path, data: Path | None) -> Path:
    """``collection-tree build`` (offline) into ``output``; ``data``: a collection folder, None: the demo."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COLLECTION_TREE_", "ANTHROPIC_"))}
    env.update({"DAGSTER_HOME": str(output / "dagster_home"), "COLLECTION_TREE_OUTPUT": str(output),
                "COLLECTION_TREE_LLM": "offline"})
    (output / "dagster_home").mkdir(parents=True, exist_ok=True)
    if data is not None:
        env.update({"COLLECTION_TREE_TRACKS": str(data / "tracks.csv"),
                    "COLLECTION_TREE_GENRE_TREE": str(data / "genre_tree.json"),
                    "COLLECTION_TREE_SCENE_TREE": str(data / "scene_tree.json"),
                    "COLLECTION_TREE_MUSIC_ROOT": "/media/music"})
    subprocess.run([sys.executable, "-m", "collection_tree.cli", "build"], env=env, check=True,
                   stdout=sys.stderr)
    return output


def _tracks_file(output: Path) -> Path:
    stored = pd.read_parquet(output / "store" / "tracks.parquet", columns=["track_id"])
    demo = output / "demo_collection" / "tracks.csv"
    if demo.exists() and len(pd.read_csv(demo, usecols=["track_id"])) == len(stored):
        return demo
    return Path(current().tracks or DATA / "genius-2000s-full" / "tracks.csv")


def playlist_shares(output: Path, tracks_file: Path | None = None) -> dict[str, Any]:
    """Compatible adjacent pairs in the written M3U8s, the same playlists by BPM, and by track id."""
    tracks_file = tracks_file or _tracks_file(output)
    tracks = pd.read_csv(tracks_file)
    root = str(Path(absolute_form(tracks_file)).parent)
    by_path = {}
    for row in tracks.itertuples(index=False):
        for anchor in (root, "/media/music"):
            path = track_path(row.location, anchor)
            if path:
                by_path[path] = row.track_id
    bpm = dict(zip(tracks["track_id"], pd.to_numeric(tracks.get("bpm"), errors="coerce"), strict=True)) \
        if "bpm" in tracks else {}
    key = dict(zip(tracks["track_id"], camelot_codes(tracks["key"].tolist()), strict=True)) if "key" in tracks else {}
    pairs = {"written": 0, "bpm_sorted": 0, "library": 0}
    total = playlists = unmatched = 0
    for m3u in sorted((output / "playlists").rglob("*.m3u8")):
        paths = [line for line in m3u.read_text(encoding="utf-8").split("\n") if line and not line.startswith("#")]
        ids = [by_path.get(p.removeprefix("./")) for p in paths]
        unmatched += sum(i is None for i in ids)
        ids = [i for i in ids if i is not None and np.isfinite(bpm.get(i, np.nan)) and key.get(i, -1) >= 0]
        playlists += 1
        if len(ids) < 2:
            continue
        b, k = np.array([bpm[i] for i in ids]), np.array([key[i] for i in ids])
        total += len(ids) - 1
        pairs["written"] += int(transition_flags(b, k, TOLERANCE).sum())
        by_bpm = np.argsort(b, kind="stable")
        pairs["bpm_sorted"] += int(transition_flags(b[by_bpm], k[by_bpm], TOLERANCE).sum())
        library = np.argsort(np.array(ids), kind="stable")
        pairs["library"] += int(transition_flags(b[library], k[library], TOLERANCE).sum())
    tree = json.loads((output / "curated_collection.json").read_text(encoding="utf-8"))
    leaves = [leaf for c in tree["categories"] for leaf in c["leaves"] if "transitions" in leaf]
    shares = {name: round(count / total, 4) if total else None for name, count in pairs.items()}
    return {"playlists": playlists, "pairs": total, "unmatched_paths": unmatched, **shares,
            "vs_bpm_sorted": round(shares["written"] / shares["bpm_sorted"], 2) if shares["bpm_sorted"] else None,
            "vs_library": round(shares["written"] / shares["library"], 2) if shares["library"] else None,
            "leaves_reporting": len(leaves),
            "leaf_metadata_mean": round(float(np.mean([leaf["transitions"] for leaf in leaves])), 4) if leaves
            else None}


def browser_figures(html: Path) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw, tempfile.TemporaryDirectory() as profile:
        context = pw.chromium.launch_persistent_context(
            profile, executable_path="/usr/bin/chromium", headless=True, viewport={"width": 1400, "height": 900},
            args=["--no-sandbox", "--disable-gpu", "--no-first-run"])
        page = context.new_page()
        started = time.perf_counter()
        page.goto(html.resolve().as_uri())
        page.wait_for_selector(".card")
        load = time.perf_counter() - started
        navigation = page.evaluate("JSON.stringify(performance.getEntriesByType('navigation')[0])")
        figures = {"file_mib": round(html.stat().st_size / 2**20, 2), "load_s": round(load, 3),
                   "load_event_ms": round(json.loads(navigation)["loadEventEnd"]),
                   "dom_elements": page.evaluate("document.getElementsByTagName('*').length"),
                   "page_height_px": page.evaluate("document.documentElement.scrollHeight"),
                   "cards": page.locator(".card").count()}
        for label, action in (("search_ms", lambda: page.fill("#search", "love")),
                              ("sort_ms", lambda: page.select_option("#sort", "size"))):
            started = time.perf_counter()
            action()
            page.wait_for_function("document.querySelectorAll('.card').length > 0")
            figures[label] = round((time.perf_counter() - started) * 1000)
        figures["dom_elements_after_search"] = page.evaluate("document.getElementsByTagName('*').length")
        context.close()
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("what", choices=("transitions", "browser"))
    parser.add_argument("--output", type=Path, default=None, help="an existing build's output folder")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as scratch:
        if args.what == "transitions":
            output = args.output or offline_build(Path(scratch) / "demo", None)
            row = playlist_shares(output)
            columns = ["playlists", "pairs", "written", "bpm_sorted", "library", "vs_bpm_sorted", "vs_library",
                       "leaf_metadata_mean", "unmatched_paths"]
        else:
            output = args.output or offline_build(Path(scratch) / "genius_full", DATA / "genius-2000s-full")
            row = browser_figures(output / "collection.html")
            columns = list(row)
        table = markdown_table([row], columns)
        print(table)
        title = "Mix order of the written M3U8s" if args.what == "transitions" else "HTML browser at scale"
        print(f"\nwritten: {write_results(f'dj_{args.what}', title, {'Results': table}, {'row': row})}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
