"""``collection-tree update`` end to end (issue 15 part 1): a full offline build of 6,000 of the 6,303
genius-2000s tracks, then the rest appended and the update run through the CLI (same DAGSTER_HOME,
so it reads the previous tree from the asset history); then a removal, which runs the full build."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from dagster import DagsterInstance, DagsterRunStatus, RunsFilter

from collection_tree.phases.incremental import choose_build, tree_only_gains_tracks
from collection_tree.phases.update import restrict_tree

ROOT = Path(__file__).resolve().parents[1]
GENIUS = ROOT.parent / "shared" / "data" / "genius-2000s"
BIN = Path(sys.executable).parent
BASE_TRACKS = 6000


def _leaves(tree):
    return {leaf["id"]: leaf for c in tree["categories"] for leaf in c["leaves"]}


def _placement(tree):
    return {int(t): key for key, leaf in _leaves(tree).items() for t in leaf["track_ids"]}


def cli(env, *args):
    return subprocess.run([str(BIN / "collection-tree"), *args], env=env, capture_output=True, text=True,
                          timeout=1800)


@pytest.fixture(scope="module")
def grown(tmp_path_factory):
    """A full build of 6,000 tracks; the tracks file then holds all 6,303 (the trees are unchanged:
    they name every genius track, the 303 new ids only become known)."""
    work = tmp_path_factory.mktemp("incremental")
    data = work / "data"
    data.mkdir()
    tracks = pd.read_csv(GENIUS / "tracks.csv", dtype=str, keep_default_na=False).sample(frac=1.0, random_state=15)
    base, extra = tracks.iloc[:BASE_TRACKS], tracks.iloc[BASE_TRACKS:]
    base.to_csv(data / "tracks.csv", index=False)
    for name in ("genre_tree.json", "scene_tree.json"):
        shutil.copy(GENIUS / name, data / name)
    home = work / "dagster_home"
    home.mkdir()
    shutil.copy(ROOT / ".dagster_home" / "dagster.yaml", home / "dagster.yaml")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COLLECTION_TREE_", "ANTHROPIC_"))}
    env.update({"DAGSTER_HOME": str(home), "COLLECTION_TREE_OUTPUT": str(work / "out"),
                "COLLECTION_TREE_TRACKS": str(data / "tracks.csv"),
                "COLLECTION_TREE_GENRE_TREE": str(data / "genre_tree.json"),
                "COLLECTION_TREE_SCENE_TREE": str(data / "scene_tree.json"), "COLLECTION_TREE_LLM": "offline"})
    done = cli(env, "build")
    assert done.returncode == 0, done.stderr
    first = json.loads((work / "out" / "curated_collection.json").read_text())
    pd.concat([base, extra]).to_csv(data / "tracks.csv", index=False)
    added = {int(t) for t in extra["track_id"]}
    return work, env, first, added


def _sensor_tick(work, env, cursor=None):
    from dagster import build_sensor_context
    from helpers import collection_resources

    from collection_tree.sensors import tracks_change_sensor

    data = work / "data"
    resources = collection_resources(work / "out", data)
    with DagsterInstance.from_config(env["DAGSTER_HOME"]) as instance, build_sensor_context(
            instance=instance, cursor=cursor,
            resources={k: resources[k] for k in ("inputs", "pipeline_settings")}) as context:
        return tracks_change_sensor.evaluate_tick(context)


def _settle(path):
    os.utime(path, (path.stat().st_atime - 60, path.stat().st_mtime - 60))


def test_tracks_sensor_requests_the_update_for_appended_tracks(grown):
    work, env, _, added = grown
    _settle(work / "data" / "tracks.csv")
    result = _sensor_tick(work, env)
    [request] = result.run_requests
    assert request.job_name == "collection_tree_update"
    assert request.run_config["ops"]["collection_tree"]["config"]["update"] is True
    assert request.tags["collection_tree/choice"] == f"update: {len(added)} tracks added, none removed"


def test_update_places_new_tracks_keeps_ids_and_overrides(grown):
    work, env, first, added = grown
    out = work / "out"
    leaves = _leaves(first)
    keep, donor, locked = sorted(leaves)[:3]
    pinned = leaves[donor]["track_ids"][0]
    (out / "overrides.json").write_text(json.dumps({
        "rename_leaves": {keep: "My Warm-up"}, "pin_tracks": {str(pinned): keep}, "lock_leaves": [locked]}))

    done = cli(env, "update")
    assert done.returncode == 0, done.stderr
    assert f"incremental update: {len(added)} tracks added, none removed" in done.stderr
    assert "collection-tree update finished in" in done.stdout

    second = json.loads((out / "curated_collection.json").read_text())
    after = _leaves(second)
    counts = {}
    for leaf in after.values():
        for t in leaf["track_ids"]:
            counts[int(t)] = counts.get(int(t), 0) + 1
    assert max(counts.values()) == 1  # every track in at most one leaf
    assert second["total_tracks"] == BASE_TRACKS + len(added)
    with DagsterInstance.from_config(str(work / "dagster_home")) as instance:
        event = instance.get_latest_materialization_event(_tree_key()).asset_materialization
        run = instance.get_runs(RunsFilter(job_name="collection_tree_update"), limit=1)[0]
    assert run.status == DagsterRunStatus.SUCCESS
    report = event.metadata["update"].value
    reasons = {u["track_id"]: u["reason"] for u in report["ungrouped_new"]}
    ungrouped = {int(t) for t in second["ungrouped_track_ids"]}
    # The updated tree itself says why each of its ungrouped tracks is ungrouped (the browser reads it).
    assert {int(r["track_id"]) for r in second["ungrouped_reasons"]} == ungrouped
    for t in added:  # placed once, or ungrouped with a reason
        assert (counts.get(t) == 1) != (t in ungrouped), t
        if t in ungrouped:
            assert reasons.get(t), t
    assert report["new_tracks_placed"] == sum(1 for t in added if t in counts)
    assert report["new_tracks_placed"] >= 0.9 * len(added)

    before = _placement(first)
    now = _placement(second)
    same = sum(1 for t, key in before.items() if now.get(t) == key)
    assert same / len(before) >= 0.95
    assert {leaf: after[leaf]["title"] for leaf in leaves if leaf not in (keep,) and leaf in after} == {
        leaf: leaves[leaf]["title"] for leaf in leaves if leaf not in (keep,) and leaf in after}

    assert after[keep]["title"] == "My Warm-up"  # the overrides survive the update
    assert pinned in after[keep]["track_ids"]
    assert locked in after and after[locked]["title"] == leaves[locked]["title"]
    assert event.metadata["overrides_stale"].value == []

    changes = json.loads((out / "changes.json").read_text())
    arrived = {m["track_id"] for m in changes["moved"] if m["from"] is None and m["to"] is not None}
    assert arrived == {t for t in added if t in counts}
    assert changes["previous_id"] == first["id"] and changes["current_id"] == second["id"]
    assert (out / "rekordbox.xml").stat().st_mtime >= (out / "curated_collection.json").stat().st_mtime



def test_status_after_the_update_shows_its_tree_current_and_the_phases_stale(grown):
    """Right after ``update`` (the test above), ``status`` must not send the user to a full build:
    the tree and its exports read the update's inputs; the phases predate the new tracks."""
    _, env, _, _ = grown
    done = cli(env, "status", "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    states = {a["key"]: a for a in report["assets"]}
    tree = states["collection_tree"]
    assert tree["state"] == "materialised", tree
    assert tree["detail"].startswith(f"incremental update (run {tree['run_id'][:8]})")
    exports = ("m3u_playlists", "rekordbox_xml", "traktor_nml", "serato_crates", "collection_html",
               "metadata_suggestions_review")
    assert {k: states[k]["state"] for k in exports} == dict.fromkeys(exports, "materialised")
    assert {states[k]["run_id"] for k in ("tracks", *exports)} == {tree["run_id"]}
    assert states["named_clusters"]["state"] == "stale"
    assert states["named_clusters"]["detail"] == "tracks has a new materialization"
    assert report["latest_run"]["job_name"] == "collection_tree_update"
    assert report["latest_run"]["run_id"] == tree["run_id"]
    text = cli(env, "status")
    assert f"latest run: {tree['run_id']} (collection-tree update) SUCCESS" in text.stdout


def test_the_updates_incremental_exports_equal_a_whole_rewrite(grown, tmp_path):
    """After the update above: its playlists and crates, partly linked from the full build's (exports.reuse),
    are byte for byte what writing them whole from the same tree and tracks gives."""
    from collection_tree.assets.modes import FULL
    from collection_tree.core.inputs import LIST_FACETS
    from collection_tree.exports.m3u import write_leaf_playlists
    from collection_tree.exports.paths import absolute_form
    from collection_tree.exports.serato import write_serato_crates

    work, env, _, _ = grown
    out = work / "out"
    with DagsterInstance.from_config(str(work / "dagster_home")) as instance:
        update = instance.get_runs(RunsFilter(job_name="collection_tree_update"), limit=1)[0]
        meta = {name: instance.get_latest_materialization_event(FULL.key(name)) for name in ("m3u_playlists",
                                                                                              "serato_crates")}
    assert {name: event.run_id for name, event in meta.items()} == dict.fromkeys(meta, update.run_id)
    m3u, serato = (meta[name].asset_materialization.metadata for name in ("m3u_playlists", "serato_crates"))
    assert 0 < m3u["playlists_kept"].value < m3u["playlists"].value
    assert 0 < serato["crates_kept"].value < serato["crates"].value
    tree = json.loads((out / "store" / "collection_tree.json").read_text())
    tracks = pd.read_parquet(out / "store" / "tracks.parquet").drop(columns=list(LIST_FACETS))
    root = str(Path(absolute_form(env["COLLECTION_TREE_TRACKS"])).parent)
    write_leaf_playlists(tree, tracks, tmp_path, root)
    write_serato_crates(tree, tracks, tmp_path, root)
    for folder in ("playlists", "Subcrates"):
        assert _files(out / folder) == _files(tmp_path / folder), folder



def test_a_sensor_does_not_rebuild_what_the_last_build_read(grown):
    """After the update, a tracks sensor whose cursor is stale (another file seen last) sees that the
    last finished build read exactly these three files: no run is requested for them."""
    work, env, _, _ = grown
    with DagsterInstance.from_config(str(work / "dagster_home")) as instance:
        update = instance.get_runs(RunsFilter(job_name="collection_tree_update"), limit=1)[0].run_id
    stale = json.dumps({"tracks": {"path": "tracks.csv", "sha256": "another file"}})
    result = _sensor_tick(work, env, stale)
    assert result.run_requests == []
    assert result.skip_message == (f"tracks file changed, but the last build (run {update[:8]}) already read "
                                   "these inputs")


def test_diff_reads_two_runs_trees_from_the_instance(grown):
    """``collection-tree diff RUN_A RUN_B`` (and, with no argument, the latest two builds): each run's
    tree as its materialisation kept it, the same diff as changes.json recorded for the update."""
    work, env, _, added = grown
    with DagsterInstance.from_config(str(work / "dagster_home")) as instance:
        build = instance.get_runs(RunsFilter(job_name="collection_tree_build"), limit=1)[0].run_id
        update = instance.get_runs(RunsFilter(job_name="collection_tree_update"), limit=1)[0].run_id
    recorded = json.loads((work / "out" / "changes.json").read_text())
    by_ids = cli(env, "diff", build, update[:8], "--json")
    assert by_ids.returncode == 0, by_ids.stderr
    changes = json.loads(by_ids.stdout)
    assert changes["counts"] == recorded["counts"] and changes["counts"]["moved"] >= 0.9 * len(added)
    assert {m["track_id"] for m in changes["moved"]} == {m["track_id"] for m in recorded["moved"]}
    latest = cli(env, "diff", "--json")
    assert latest.returncode == 0 and json.loads(latest.stdout) == changes
    backwards = json.loads(cli(env, "diff", update, build, "--json").stdout)
    assert (backwards["added"], backwards["removed"]) == (changes["removed"], changes["added"])
    assert {(m["track_id"], m["to"], m["from"]) for m in backwards["moved"]} == {
        (m["track_id"], m["from"], m["to"]) for m in changes["moved"]}
    unknown = cli(env, "diff", build, "no-such-run")
    assert unknown.returncode == 2 and "'no-such-run': expected a tree file or a run id" in unknown.stderr
    assert "Traceback" not in unknown.stderr

def _files(folder):
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}

def test_a_removal_runs_the_full_build(grown):
    work, env, _, _ = grown
    data = work / "data"
    tracks = pd.read_csv(data / "tracks.csv", dtype=str, keep_default_na=False)
    tracks.iloc[20:].to_csv(data / "tracks.csv", index=False)
    _settle(data / "tracks.csv")
    [request] = _sensor_tick(work, env).run_requests
    assert request.job_name == "collection_tree_build"
    told = cli(env, "update", "--dry-run")
    assert told.returncode == 0, told.stderr
    assert "full build: 20 tracks were removed" in told.stderr
    done = cli(env, "update")
    assert done.returncode == 0, done.stderr
    with DagsterInstance.from_config(str(work / "dagster_home")) as instance:
        latest = instance.get_runs(limit=1)[0]
    assert latest.job_name == "collection_tree_build" and latest.status == DagsterRunStatus.SUCCESS
    assert "collection-tree build finished in" in done.stdout
    tree = json.loads((work / "out" / "curated_collection.json").read_text())
    assert tree["total_tracks"] == len(tracks) - 20


def _tree_key():
    from collection_tree.assets.modes import FULL

    return FULL.key("collection_tree")


# ------------------------------------------------------------------------------ pure decisions
def _tree(nodes):
    return {"lineages": nodes}


def test_tree_only_gains_tracks_needs_same_nodes_and_no_lost_track():
    old = _tree([{"id": "rock", "track_ids": [1], "children": [{"id": "punk", "track_ids": [2], "children": []}]}])
    grew = _tree([{"id": "rock", "track_ids": [1, 5], "children": [{"id": "punk", "track_ids": [2, 6],
                                                                     "children": []}]}])
    lost = _tree([{"id": "rock", "track_ids": [1], "children": [{"id": "punk", "track_ids": [6], "children": []}]}])
    moved = _tree([{"id": "rock", "track_ids": [1], "children": []}, {"id": "punk", "track_ids": [2], "children": []}])
    assert tree_only_gains_tracks(old, grew)
    assert tree_only_gains_tracks(old, old)
    assert not tree_only_gains_tracks(old, lost)
    assert not tree_only_gains_tracks(old, moved)


def test_choose_build_updates_only_appends_with_grown_trees():
    assert choose_build(None, [1], {}).kind == "full"
    assert choose_build([1, 2], [1, 2, 3], {"genre": True, "scene": True}).kind == "update"
    assert choose_build([1, 2], [1, 2], {"genre": True, "scene": True}).reason == "no tracks added or removed"
    removed = choose_build([1, 2], [2, 3], {"genre": True, "scene": True})
    assert removed.kind == "full" and "1 tracks were removed" in removed.reason
    reshaped = choose_build([1], [1, 2], {"genre": True, "scene": False})
    assert reshaped.kind == "full" and "scene tree" in reshaped.reason


def test_restrict_tree_keeps_only_the_given_tracks():
    tree = _tree([{"id": "rock", "track_ids": [1, 2], "children": [{"id": "punk", "track_ids": [2, 3],
                                                                     "children": []}]}])
    small = restrict_tree(tree, {2})
    assert small["lineages"][0]["track_ids"] == [2]
    assert small["lineages"][0]["children"][0]["track_ids"] == [2]
    assert tree["lineages"][0]["track_ids"] == [1, 2]  # the original is not changed


def test_update_tree_drops_removed_tracks_folds_and_keeps_unchanged_text(grown):
    """The pure update on the built tree: removed tracks leave their leaves, a leaf left under
    min_leaf_tracks is folded, a leaf that lost one track keeps its text, nothing else moves."""
    from collection_tree.core.inputs import load_tracks, load_tree
    from collection_tree.llm.client import LLMClient
    from collection_tree.llm.offline import OfflineProvider
    from collection_tree.phases.enrichment import EnrichParams
    from collection_tree.phases.incremental import TreeParams
    from collection_tree.phases.leaves import LeafParams
    from collection_tree.phases.naming import NamingParams
    from collection_tree.phases.reassignment import ReassignParams
    from collection_tree.phases.refinement import RefineParams
    from collection_tree.phases.seed_clusters import SeedParams
    from collection_tree.phases.update import UpdateSteps, previous_track_ids, update_tree

    _, _, first, _ = grown
    leaves = _leaves(first)
    refine = RefineParams.for_profile("default")
    by_size = sorted(leaves, key=lambda key: (-len(leaves[key]["track_ids"]), key))
    big, shrunk = by_size[0], by_size[1]
    removed = {leaves[big]["track_ids"][0], *leaves[shrunk]["track_ids"][: len(leaves[shrunk]["track_ids"]) - 2]}
    tracks = load_tracks(GENIUS / "tracks.csv")
    tracks = tracks[tracks["track_id"].isin(previous_track_ids(first) - removed)].reset_index(drop=True)
    known = set(tracks["track_id"].astype(int))
    trees = {name: load_tree(GENIUS / f"{name}_tree.json", name, known, set(tracks.columns)).doc
             for name in ("genre", "scene")}
    params = TreeParams.for_profile("default")
    steps = UpdateSteps(seeds=SeedParams.for_profile("default"), naming=NamingParams.for_profile("default"),
                        reassign=ReassignParams.for_profile("default"), refine=refine,
                        leaves=LeafParams.for_profile("default"), enrich=EnrichParams.for_profile("default"),
                        order=params, incremental=params)
    llm = LLMClient(OfflineProvider(), max_concurrency=8).for_phase("collection_tree")
    result = update_tree(first, tracks, trees["genre"], trees["scene"], llm, steps)

    after = _leaves(result.tree)
    assert result.report.tracks_removed == len(removed) and result.report.tracks_added == 0
    # The tree itself says why each ungrouped track is ungrouped (the browser and `ungrouped` read it).
    assert result.tree["ungrouped_track_ids"]
    reasons = {r["track_id"]: r["reason"] for r in result.tree["ungrouped_reasons"]}
    assert set(reasons) == set(result.tree["ungrouped_track_ids"])
    assert shrunk not in after and shrunk in result.report.folded_leaves
    assert after[big]["description"] == leaves[big]["description"]  # changed by 1 track: text kept
    assert after[big]["title"] == leaves[big]["title"]
    assert set(after[big]["track_ids"]) == set(leaves[big]["track_ids"]) - removed
    placed = [int(t) for leaf in after.values() for t in leaf["track_ids"]]
    assert len(placed) == len(set(placed)) and not set(placed) & removed
    assert result.tree["total_tracks"] == len(tracks)
    before = _placement(first)
    moved = {t for t, key in _placement(result.tree).items() if before.get(t) != key}
    assert moved <= set(leaves[shrunk]["track_ids"])  # only the folded leaf's tracks moved


def test_tree_run_config_takes_the_update_switch_and_refresh_share():
    from collection_tree.assets.parameters import RunConfigError, run_config_from_file

    config = run_config_from_file({"collection_tree": {"update": True, "refresh_share": 0.3}}, "run.yaml")
    assert config == {"ops": {"collection_tree": {"config": {"update": True, "refresh_share": 0.3}}}}
    with pytest.raises(RunConfigError, match="refresh_share must be in"):
        run_config_from_file({"collection_tree": {"refresh_share": 2.0}}, "run.yaml")
