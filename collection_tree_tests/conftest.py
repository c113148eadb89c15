"""Shared pytest configuration: fixture modules are registered here."""

import json as _json
from pathlib import Path as _Path
from types import SimpleNamespace as _NS

import pandas as _pd
import pytest as _pytest

# The fake Anthropic API, the dummy-key environment and LLM clients on it (collection_tree_tests/fake_api.py);
# headless Chromium for the HTML browser tests (browser_support.py).
pytest_plugins = ["fake_api", "browser_support"]


# ------------------------------------------------------------------- exports: a small hostile tree

XSS = "<script>alert(1)</script>"


def make_export_fixture(folder: _Path) -> _NS:
    """Tracks (written as CSV, loaded by the real loader) and a Collection Tree in the exact schema of
    DESIGN section 5, with hostile strings: markup, quotes, CR/LF, '#', separators, '..', duplicates."""
    from collection_tree.core.inputs import load_tracks

    rows = [
        (1, XSS, 'Q "quoted" & \'single\'', 2001, "Rock; Metal", "", "", "early 2000s", "Music/Q/x.mp3", 201.4,
         96, "8A"),
        (2, "Line\r\nBreak", "#hash", 2002, "Rock", "Bay Area", "loud", "", "C:\\Music\\a b.mp3", None, None, ""),
        (3, "Third", "Artist 3", 2003, "Rock", "", "", "", "#1 Hits/track.mp3", 180, None, ""),
        (4, "Jóga", "Björk", 1997, "Pop", "", "", "late 1990s", "/abs/Björk/Jóga & co #1?.mp3", 305, 120.5, "3B"),
        (5, "No Location", "Artist 5", None, "Pop", "", "", "", "", None, None, ""),
        (6, "Six", "Artist 6", 2006, "Rap", "", "", "", "Music/6.mp3", 100, None, ""),
        (7, "Seven", "Artist 7", 2007, "Rap", "", "", "", "Music/7.mp3", 100, None, ""),
        (8, "Eight", "Artist 8", 2008, "Rap", "", "", "", "Music/8.mp3", 100, None, ""),
        (9, "Nine", "Artist 9", 2009, "Country", "", "", "", "Music/9.mp3", 100, None, ""),
        (10, "Ten", "Artist 10", 2010, "", "", "", "", "Music/10.mp3", 100, None, ""),
    ]
    columns = ["track_id", "title", "artist", "year", "genre", "scene_tags", "descriptors", "era", "location",
               "duration", "bpm", "key"]
    frame = _pd.DataFrame(rows, columns=columns)
    frame.insert(4, "comment", "")
    folder.mkdir(parents=True, exist_ok=True)
    tracks_csv = folder / "tracks.csv"
    frame.to_csv(tracks_csv, index=False)
    tracks = load_tracks(tracks_csv)

    def leaf(leaf_id, title, ids, examples=(), suggestions=(), genre="Rock", scene="USA 2000-2004"):
        return {"id": leaf_id, "title": title, "description": f"About {title} \"quoted\" & <b>bold</b>",
                "track_ids": list(ids), "track_count": len(ids),
                "examples": [{"title": t, "artist": a, "year": y} for t, a, y in examples],
                "genre_context": genre, "scene_context": scene, "metadata_suggestions": list(suggestions)}

    suggestion = {"track_id": 1, "suggestions": {"genre_refinement": "Nu-Metal", "scene_tags": ["Bay Area"],
                                                 "descriptors": ["loud", "raw"], "era_refinement": "2001"},
                  "confidence": 0.9, "reasoning": "=HYPERLINK(\"x\") fits the leaf"}
    weak = {"track_id": 2, "suggestions": {"genre_refinement": "rock", "scene_tags": ["bay area", "Oakland"],
                                           "descriptors": [], "era_refinement": None},
            "confidence": 0.72, "reasoning": "weak"}
    cat_a = [dict(leaf("rock__usa", XSS, [1, 2, 3], examples=[("Third", "Artist 3", 2003)],
                       suggestions=[suggestion, weak]), order=[3, 1, 2]),  # the play order every export follows
             leaf("pop__dotdot", "../../etc/passwd", [4, 5], genre="Pop", scene=XSS)]
    cat_b = [leaf("rap__con", "CON", [6, 7], genre="Rap"), leaf("rap__con2", "con", [8], genre="Rap")]
    tree = {
        "id": "tree-0001", "tree_type": "collection", "created_at": "2026-11-24T06:00:00Z",
        "total_tracks": 10, "assigned_tracks": 8, "ungrouped_track_ids": [9, 10],
        "source_trees": {"genre": {"id": "genre-1", "created_at": "2026-11-24T00:00:00Z"},
                         "scene": {"id": "scene-1", "created_at": "2026-11-24T00:00:00Z"}},
        "categories": [
            {"id": "rock-and-pop", "title": f"Rock {XSS}", "description": "Guitars & <i>more</i>",
             "track_ids": [1, 2, 3, 4, 5], "track_count": 5, "leaves": cat_a},
            {"id": "rap", "title": 'Rap/Hip-Hop: "Heavy"', "description": "Beats.",
             "track_ids": [6, 7, 8], "track_count": 3, "leaves": cat_b},
        ],
        "status": "complete",
    }
    return _NS(tree=tree, tracks=tracks, tracks_csv=tracks_csv)


@_pytest.fixture
def export_fixture(tmp_path: _Path) -> _NS:
    return make_export_fixture(tmp_path / "collection")


def write_tree(folder: _Path, tree: dict) -> _Path:
    path = folder / "curated_collection.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(_json.dumps(tree), encoding="utf-8")
    return path


# ------------------------------------------------- phases 6-7 and the tree: a small hand-built collection

def make_leaf_collection() -> _NS:
    """22 tracks in scope, three leaves and two categories, built so every rule of phases 6-7 shows:

    * ``rock-nu-metal__usa-metal-2000-2004`` (tracks 1-10): 8 tagged Rock; Metal; Nu-Metal with scene tag
      USA (90% carry it), 6 described "heavy"; tracks 9-10 only "Rock" (a genre refinement is due);
      track 10 also lacks USA. Filters favour Nu-Metal, so 9-10 rank last among the candidates.
    * ``rap-dirty-south__dirty-south-2000-2004`` (11-16): 4 of 6 Dirty South (67%: the grey zone).
    * ``country__usa-2005-2010`` (17-20): plain Country, nothing dominant to suggest.
    * tracks 21-22 are in scope but in no leaf (unplaced, with a reason)."""
    from collection_tree.core.clusters import Cluster, ClusterSet

    rows = []
    for i in range(1, 11):
        specific = i <= 8
        rows.append({"track_id": i, "title": f"Metal Song {i}", "artist": f"Band {(i - 1) % 6}", "year": 1999 + i,
                     "comment": f"Genre: Rock / Metal / Nu-Metal {i}" if specific else "Genre: Rock",
                     "genre": ["Rock", "Metal", "Nu-Metal"] if specific else ["Rock"],
                     "scene_tags": ["USA"] if i <= 9 else [], "descriptors": ["heavy"] if i <= 6 else [],
                     "era": "early 2000s"})
    for i in range(11, 17):
        south = i <= 14
        rows.append({"track_id": i, "title": f"Rap Song {i}", "artist": f"MC {i}", "year": 2001 + (i % 3),
                     "comment": "Genre: Rap", "genre": ["Rap", "Hip-Hop", "Dirty South"] if south else ["Rap"],
                     "scene_tags": ["Dirty South"] if south else [], "descriptors": [], "era": "early 2000s"})
    for i in range(17, 23):
        rows.append({"track_id": i, "title": f"Country Song {i}", "artist": f"Singer {i}", "year": 2006,
                     "comment": "", "genre": ["Country"], "scene_tags": [], "descriptors": [], "era": "late 2000s"})
    tracks = _pd.DataFrame(rows)
    tracks["year"] = tracks["year"].astype("Int64")
    clusters = [
        Cluster(id="rock-nu-metal__usa-metal-2000-2004", track_ids=list(range(1, 11)), genre_title="Nu-Metal",
                scene_title="USA Metal 2000-2004", genre_lineage="Rock > Metal > Nu-Metal",
                scene_lineage="USA > USA Metal 2000-2004", filters={"genre": ["Nu-Metal"], "scene_tags": ["USA"]},
                title="Drop-D Suburbia", description="Phase 4's blurb about nu-metal.", quality_score=8.0),
        Cluster(id="rap-dirty-south__dirty-south-2000-2004", track_ids=list(range(11, 17)),
                genre_title="Dirty South", scene_title="Dirty South 2000-2004",
                filters={"genre": ["Dirty South"]}, title="Crunk Era", description="", quality_score=7.0),
        Cluster(id="country__usa-2005-2010", track_ids=list(range(17, 21)), genre_title="Country",
                scene_title="USA 2005-2010", filters={"genre": ["Country"]}, title="Porch Songs",
                description="Country.", quality_score=6.0),
    ]
    leaves = ClusterSet(clusters=clusters, all_track_ids=list(range(1, 23)),
                        unplaced=[{"track_id": 21, "reason": "no facets match"},
                                  {"track_id": 22, "reason": "no facets match"}])
    categories = {"categories": [
        {"id": "roots-and-rhymes", "title": "Roots & Rhymes", "description": "Rap and country.",
         "cluster_ids": ["rap-dirty-south__dirty-south-2000-2004", "country__usa-2005-2010"]},
        {"id": "heavy", "title": "Heavy", "description": "Loud guitars.",
         "cluster_ids": ["rock-nu-metal__usa-metal-2000-2004"]},
    ], "report": {}}
    genre_tree = {"id": "genre-test", "tree_type": "genre", "created_at": "2026-11-24T00:00:00Z", "lineages": []}
    scene_tree = {"id": "scene-test", "tree_type": "scene", "created_at": "2026-11-24T00:00:00Z", "lineages": []}
    return _NS(tracks=tracks, clusters=leaves, categories=categories, genre_tree=genre_tree, scene_tree=scene_tree)


@_pytest.fixture
def leaf_collection() -> _NS:
    return make_leaf_collection()


GENIUS_DIR = _Path(__file__).resolve().parents[2] / "shared" / "data" / "genius-2000s"
GENIUS_FULL_DIR = GENIUS_DIR.parent / "genius-2000s-full"
GENIUS_FULL_MUSIC_ROOT = "/media/music"


@_pytest.fixture(scope="session")
def genius_full_build(tmp_path_factory) -> _NS:
    """One offline `collection-tree build` of genius-2000s-full (29,999 tracks, 900-odd playlists) per test
    session, as a user runs it: its own DAGSTER_HOME and output folder, relative track locations anchored
    at GENIUS_FULL_MUSIC_ROOT. ``env`` runs further CLI commands against the same build."""
    import os
    import shutil
    import subprocess
    import sys

    base = tmp_path_factory.mktemp("genius_full")
    home = base / "dagster_home"
    home.mkdir()
    shutil.copy(_Path(__file__).resolve().parents[1] / ".dagster_home" / "dagster.yaml", home / "dagster.yaml")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COLLECTION_TREE_", "ANTHROPIC_"))}
    env.update({"DAGSTER_HOME": str(home), "COLLECTION_TREE_OUTPUT": str(base / "out"),
                "COLLECTION_TREE_TRACKS": str(GENIUS_FULL_DIR / "tracks.csv"),
                "COLLECTION_TREE_GENRE_TREE": str(GENIUS_FULL_DIR / "genre_tree.json"),
                "COLLECTION_TREE_SCENE_TREE": str(GENIUS_FULL_DIR / "scene_tree.json"),
                "COLLECTION_TREE_LLM": "offline", "COLLECTION_TREE_MUSIC_ROOT": GENIUS_FULL_MUSIC_ROOT})
    done = subprocess.run([sys.executable, "-m", "collection_tree.cli", "build"], env=env, capture_output=True,
                          text=True, timeout=1800)
    assert done.returncode == 0, done.stderr[-3000:]
    out = base / "out"
    return _NS(out=out, env=env, tree=_json.loads((out / "curated_collection.json").read_text(encoding="utf-8")))


def genius_like_tree(tracks: _pd.DataFrame, genre_tree: dict) -> dict:
    """A schema-exact Collection Tree over real data without running the phases: one category per
    genre lineage, one leaf per genre leaf (each track in its first leaf only), three examples each."""
    from collection_tree.core.inputs import collect_leaves

    index = tracks.set_index("track_id")
    taken: set[int] = set()
    categories = []
    for root in genre_tree["lineages"]:
        leaves = []
        for node in collect_leaves({"lineages": [root]}):
            ids = [t for t in node["track_ids"] if t not in taken]
            if len(ids) < 3:
                continue
            taken.update(ids)
            examples = [{"title": str(index.at[t, "title"]), "artist": str(index.at[t, "artist"]),
                         "year": None if _pd.isna(index.at[t, "year"]) else int(index.at[t, "year"])} for t in ids[:3]]
            suggestions = [{"track_id": ids[0], "suggestions": {"genre_refinement": f"{node['title']} Revival",
                            "scene_tags": [], "descriptors": ["anthemic"], "era_refinement": None},
                            "confidence": 0.8, "reasoning": "fits its leaf"}] if len(ids) % 2 else []
            leaves.append({"id": node["id"], "title": node["title"], "description": node["description"],
                           "track_ids": ids, "track_count": len(ids), "examples": examples,
                           "genre_context": " > ".join(node["lineage"][:-1]) or node["title"],
                           "scene_context": "", "metadata_suggestions": suggestions})
        if leaves:
            ids = [t for leaf in leaves for t in leaf["track_ids"]]
            categories.append({"id": root["id"].lower().replace("_", "-"), "title": root["title"],
                               "description": root["description"], "track_ids": ids, "track_count": len(ids),
                               "leaves": leaves})
    all_ids = [int(t) for t in tracks["track_id"]]
    return {"id": "genius-like", "tree_type": "collection", "created_at": "2026-11-24T06:00:00Z",
            "total_tracks": len(all_ids), "assigned_tracks": len(taken),
            "ungrouped_track_ids": sorted(t for t in all_ids if t not in taken),
            "source_trees": {"genre": {"id": genre_tree["id"], "created_at": genre_tree["created_at"]},
                             "scene": {"id": "scene-none", "created_at": genre_tree["created_at"]}},
            "categories": categories, "status": "complete"}


# ------------------------------------------- operating the build (test_resume, test_stop, test_single_asset)

class RecordingSolver:
    """The fake API's solver, recording each answered payload (task, sha256 of the payload, when it was
    answered) after sleeping ``latency[task]`` seconds (a number, or ``(low, high)``: a spread fixed by
    the payload), so a test knows which batches had finished at a given moment."""

    def __init__(self) -> None:
        import threading

        self.latency: dict[str, float | tuple[float, float]] = {}
        self.answered: list[tuple[str, str, float]] = []
        self._lock = threading.Lock()

    def __call__(self, task: str, payload: dict) -> dict:
        import hashlib
        import time

        from collection_tree.tasks import get_task

        digest = hashlib.sha256(_json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()
        delay = self.latency.get(task, self.latency.get("*", 0.0))
        if isinstance(delay, tuple):
            delay = delay[0] + (delay[1] - delay[0]) * int(digest[:8], 16) / 0xFFFFFFFF
        time.sleep(delay)
        answer = get_task(task).solve_offline(payload)
        with self._lock:
            self.answered.append((task, digest, time.time()))
        return answer

    def payloads(self, task: str, before: float | None = None, after: float | None = None) -> list[str]:
        with self._lock:
            return [d for t, d, at in self.answered if t == task and (before is None or at < before)
                    and (after is None or at >= after)]


@_pytest.fixture
def recording_api():
    """A fake Anthropic API (127.0.0.1, free port) answering through a :class:`RecordingSolver`
    (``recording_api.solver``)."""
    from collection_tree.llm.fake_server import FakeAnthropicServer

    with FakeAnthropicServer(solver=RecordingSolver(), hang_s=5.0) as server:
        yield server


@_pytest.fixture(scope="session")
def small_collection(tmp_path_factory) -> _Path:
    """2,500 of the Genius collection's tracks with its two trees (ids of other tracks are dropped
    from the leaves): every phase runs, in a fraction of the full collection's time."""
    import os
    import shutil
    import time

    folder = tmp_path_factory.mktemp("small_collection")
    tracks = _pd.read_csv(GENIUS_DIR / "tracks.csv")
    tracks.sample(n=2500, random_state=7).sort_values("track_id").to_csv(folder / "tracks.csv", index=False)
    for name in ("genre_tree.json", "scene_tree.json"):
        shutil.copy(GENIUS_DIR / name, folder / name)
    past = time.time() - 60
    for path in folder.iterdir():
        os.utime(path, (past, past))
    return folder


@_pytest.fixture
def offline_cli_env(tmp_path, small_collection, monkeypatch) -> _Path:
    """``collection-tree`` called in this process (``cli.main``) on the small collection, offline, with
    no LLM cache: DAGSTER_HOME with the project's dagster.yaml, the output folder (returned) in tmp_path,
    and nothing of the caller's COLLECTION_TREE_* / ANTHROPIC_* settings."""
    import os
    import shutil

    home = tmp_path / "home"
    home.mkdir()
    shutil.copy(_Path(__file__).resolve().parents[1] / ".dagster_home" / "dagster.yaml", home / "dagster.yaml")
    for name in [n for n in os.environ if n.startswith(("COLLECTION_TREE_", "ANTHROPIC_"))]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    monkeypatch.setenv("COLLECTION_TREE_OUTPUT", str(tmp_path / "out"))
    monkeypatch.setenv("COLLECTION_TREE_LLM", "offline")
    monkeypatch.setenv("COLLECTION_TREE_LLM_CACHE", "off")
    for name in ("tracks.csv", "genre_tree.json", "scene_tree.json"):
        monkeypatch.setenv(f"COLLECTION_TREE_{name.split('.')[0].upper()}", str(small_collection / name))
    return tmp_path / "out"


@_pytest.fixture
def build_env(tmp_path, small_collection, recording_api) -> _NS:
    """A user's setup in tmp_path: DAGSTER_HOME with the project's dagster.yaml, an output folder, the
    small collection as input and the Anthropic provider on the recording fake API. ``env`` is the
    environment for subprocesses (nothing of the caller's COLLECTION_TREE_* / ANTHROPIC_* leaks in)."""
    import os
    import shutil

    from fake_api import DUMMY_KEY

    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(_Path(__file__).resolve().parents[1] / ".dagster_home" / "dagster.yaml", home / "dagster.yaml")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COLLECTION_TREE_", "ANTHROPIC_"))}
    env.update({"DAGSTER_HOME": str(home), "COLLECTION_TREE_OUTPUT": str(tmp_path / "out"),
                "COLLECTION_TREE_TRACKS": str(small_collection / "tracks.csv"),
                "COLLECTION_TREE_GENRE_TREE": str(small_collection / "genre_tree.json"),
                "COLLECTION_TREE_SCENE_TREE": str(small_collection / "scene_tree.json"),
                "COLLECTION_TREE_LLM": "anthropic", "ANTHROPIC_API_KEY": DUMMY_KEY,
                "ANTHROPIC_BASE_URL": recording_api.base_url})
    return _NS(home=home, out=tmp_path / "out", env=env, api=recording_api, solver=recording_api.solver)
