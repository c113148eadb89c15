"""Smoke test of the benchmark modules: their pure parts on tiny inputs, well-formed tables. No timing
assertions and no builds (the benchmarks themselves time and build)."""

import json

import pandas as pd
import pytest

from benchmarks import build_time, harness, llm_budget, phase1_scale, quality
from benchmarks.harness import markdown_table
from collection_tree.core.clusters import Cluster, ClusterSet
from collection_tree.phases.seed_clusters import build_seed_clusters


def _is_table(text: str, columns: list[str], rows: int) -> None:
    lines = text.splitlines()
    assert lines[0] == "| " + " | ".join(columns) + " |"
    assert lines[1] == "|" + "---|" * len(columns)
    assert len(lines) == rows + 2
    assert all(line.startswith("| ") and line.endswith(" |") and line.count(" | ") == len(columns) - 1
               for line in lines[2:])


# ------------------------------------------------------------------------------------ phase 1
def test_synthetic_trees_and_reference_loop_match_build_seed_clusters():
    genre, scene = phase1_scale.synthetic_trees(600, 20, 20)
    assert genre["tree_type"] == "genre" and scene["tree_type"] == "scene"
    expected = sorted(phase1_scale.reference_loop(genre, scene, 5), key=lambda c: (-c["track_count"], c["id"]))
    seeds = build_seed_clusters(genre, scene, 5)
    assert len(expected) > 5
    got = sorted(zip(seeds["id"], seeds["track_count"], seeds["track_ids"], seeds["filters"], strict=True),
                 key=lambda r: (-r[1], r[0]))
    assert [r[0] for r in got] == [c["id"] for c in expected]
    assert [list(r[2]) for r in got] == [c["track_ids"] for c in expected]
    assert [json.loads(r[3]) for r in got] == [c["filters"] for c in expected]
    assert seeds["track_count"].is_monotonic_decreasing


def test_reference_table_is_the_seed_table_and_the_digest_tells_tables_apart():
    """Like for like: the loop's table has phase 1's columns, order and values; any changed value changes
    the digest the benchmark compares."""
    genre, scene = phase1_scale.synthetic_trees(900, 25, 25)
    seeds = build_seed_clusters(genre, scene, 5)
    table = phase1_scale.reference_table(genre, scene, 5)
    assert len(table) == len(seeds) > 5 and list(table.columns) == list(seeds.columns)
    assert phase1_scale.table_digest(table) == phase1_scale.table_digest(seeds)
    changed = table.copy()
    changed.at[0, "track_ids"] = [*changed.at[0, "track_ids"][:-1], 10**6]
    assert phase1_scale.table_digest(changed) != phase1_scale.table_digest(seeds)
    assert phase1_scale.table_digest(table.iloc[::-1]) != phase1_scale.table_digest(seeds)


# ------------------------------------------------------------------------------------ build time
def _build_row(name: str, tracks: int, wall: float, steps: dict[str, float]) -> dict:
    return {"collection": name, "tracks": tracks, "ok": True, "wall_s": wall, "peak_rss_mib": wall * 10,
            "steps_s": steps}


def test_growth_exponents_and_step_tables():
    assert build_time.exponent(10.0, 100.0, 1_000, 10_000) == pytest.approx(1.0)
    assert build_time.exponent(10.0, 40.0, 100, 200) == pytest.approx(2.0)
    assert build_time.exponent(0.01, 1.0, 100, 200) is None and build_time.exponent(None, 1.0, 1, 2) is None
    rows = [_build_row("demo (6,303)", 6_303, 10.0, {"a": 1.0, "b": 4.0}),
            _build_row("genius-2000s (6,303)", 6_303, 12.0, {"a": 1.0}),  # not in the scale series
            _build_row("demo (100,000)", 100_000, 100.0, {"a": 2.0, "b": 40.0}),
            _build_row("demo (300,000)", 300_000, 300.0, {"a": 6.0, "b": 360.0})]
    assert [r["collection"] for r in build_time.series(rows)] == ["demo (6,303)", "demo (100,000)", "demo (300,000)"]
    growth = build_time.growth_rows(rows)
    assert [(g["from"], g["to"]) for g in growth] == [("demo (6,303)", "demo (100,000)"),
                                                      ("demo (100,000)", "demo (300,000)")]
    assert growth[1]["wall"] == pytest.approx(1.0) and growth[1]["steps"] == "b 2.00, a 1.00"
    table = build_time.step_table(rows)
    _is_table(table, ["step", "demo (6,303)", "genius-2000s (6,303)", "demo (100,000)", "demo (300,000)",
                      "exponent"], 2)
    assert table.splitlines()[2].startswith("| b |")  # heaviest at the largest size first
    assert build_time.heaviest_steps(rows[-1], top=1) == "b 360.0 s"


def test_merged_results_and_failed_builds_in_the_step_table(tmp_path, monkeypatch):
    monkeypatch.setattr(build_time, "RESULTS", tmp_path)
    old = [_build_row("demo (6,303)", 6_303, 10.0, {"a": 1.0}), _build_row("demo (300,000)", 300_000, 90.0, {"a": 9.0})]
    (tmp_path / "build_time.json").write_text(json.dumps({"rows": old}))
    failed = {**_build_row("demo (1,000,000)", 1_000_000, 0.0, {"a": 30.0}), "ok": False, "wall_s": None}
    again = _build_row("demo (6,303)", 6_303, 11.0, {"a": 1.1})
    rows = build_time.merged([failed, again])
    assert [(r["collection"], r["wall_s"]) for r in rows] == [("demo (6,303)", 11.0), ("demo (300,000)", 90.0),
                                                              ("demo (1,000,000)", None)]
    table = build_time.step_table(rows)
    assert "demo (1,000,000) (failed)" in table.splitlines()[0] and "| 30.000 |" in table
    assert [g["to"] for g in build_time.growth_rows(rows)] == ["demo (300,000)"]  # only finished builds
    stderr = ("Traceback (most recent call last):\n  File x.py\nnumpy._core._exceptions._ArrayMemoryError: Unable to "
              "allocate 56.0 GiB\n\ndagster._core.errors.DagsterExecutionStepExecutionError: Error occurred\nrun 1\n")
    assert build_time.root_cause(stderr).startswith("numpy._core._exceptions._ArrayMemoryError: Unable to allocate")
    assert build_time.root_cause("no exception here") == "no exception here"


# ------------------------------------------------------------------------------------ quality
def _tree() -> dict:
    def leaf(leaf_id, ids):
        return {"id": leaf_id, "title": leaf_id, "description": "", "track_ids": ids, "track_count": len(ids),
                "examples": [], "genre_context": "", "scene_context": "", "metadata_suggestions": []}

    return {"total_tracks": 10, "assigned_tracks": 9, "ungrouped_track_ids": [10],
            "categories": [{"id": "a", "title": "A", "track_ids": [1, 2, 3, 4, 5, 6], "track_count": 6,
                            "leaves": [leaf("l1", [1, 2, 3, 4]), leaf("l2", [5, 6])]},
                           {"id": "b", "title": "B", "track_ids": [7, 8, 9], "track_count": 3,
                            "leaves": [leaf("l3", [7, 8, 9])]}]}


def test_quality_metrics_on_a_hand_made_tree():
    tree = _tree()
    assert quality.leaf_labels(tree)[5] == "l2" and quality.leaf_sizes(tree) == [4, 2, 3]
    # niches: x = 1-3, y = 4-6, z = 7-9; leaf l1 = x,x,x,y (majority x), l2 = y,y, l3 = z,z,z
    true = ["x", "x", "x", "y", "y", "y", "z", "z", "z"]
    pred = ["l1", "l1", "l1", "l1", "l2", "l2", "l3", "l3", "l3"]
    assert quality.purity(true, pred) == pytest.approx(8 / 9)
    assert quality.inverse_purity(true, pred) == pytest.approx(8 / 9)
    assert quality.purity(true, true) == quality.inverse_purity(true, true) == 1.0
    s = quality.structure(tree)
    assert (s["categories"], s["leaves"], s["leaf_size_min"], s["leaf_size_median"], s["leaf_size_max"]) == \
        (2, 3, 2, 3.0, 4)
    assert s["assigned_share"] == pytest.approx(0.9) and s["ungrouped"] == 1
    assert s["largest_category_share"] == pytest.approx(6 / 9)
    assert s["leaf_size_histogram"]["0-4"] == sum(s["leaf_size_histogram"].values()) == 3
    assert quality.size_histogram([5, 8, 200]) == {"0-4": 0, "5-7": 1, "8-12": 1, "13-20": 0, "21-33": 0,
                                                   "34-54": 0, "55-88": 0, "89-143": 0, ">=144": 1}


def test_ground_truth_scores():
    truth = pd.DataFrame({"track_id": range(1, 11), "niche_id": ["x"] * 3 + ["y"] * 3 + ["z"] * 4})
    result = quality.against_ground_truth(_tree(), truth)
    assert result["niches"] == 3  # track 10 is ungrouped: not scored
    assert 0 < result["ami"] < 1 and result["purity"] == pytest.approx(8 / 9)
    assert quality.adjusted_mutual_info(["a", "a", "b", "b"], [1, 1, 2, 2]) == pytest.approx(1.0)


def test_facet_agreement_counts_matches_and_contradictions():
    tracks = pd.DataFrame({"track_id": [1, 2, 3, 4], "title": "t", "artist": "a", "year": [2001, 2002, 2003, 2004],
                           "comment": "", "genre": [["Rock"], ["Rock"], ["Jazz"], ["Jazz"]],
                           "scene_tags": [["Berlin"], [], ["Berlin"], []], "descriptors": [[], [], [], []],
                           "era": ["", "", "", ""]})
    leaves = ClusterSet(clusters=[Cluster(id="c", track_ids=[1, 2, 3, 4],
                                          filters={"genre": ["Rock"], "scene_tags": ["Berlin"]})],
                        all_track_ids=[1, 2, 3, 4])
    result = quality.facet_agreement(leaves, tracks)
    assert result["genre_match_share"] == pytest.approx(0.5)
    assert result["scene_match_share"] == pytest.approx(0.5)
    # tracks 3 and 4 are Jazz in a Rock leaf: a scene match (track 3, Berlin) is no agreement
    assert result["contradicting_share"] == pytest.approx(0.5)
    assert result["leaf_genre_purity_mean"] == pytest.approx(0.5)
    # with the genre tree: contradicting = in genre-tree leaves, none under the leaf's lineage
    genre_tree = {"lineages": [
        {"id": "rock", "title": "Rock", "track_ids": [1, 2], "children": [
            {"id": "rock-metal", "title": "Metal", "track_ids": [1, 2], "children": []}]},
        {"id": "jazz", "title": "Jazz", "track_ids": [3], "children": []}]}
    metal = ClusterSet([Cluster(id="rock-metal__berlin", track_ids=[1, 2, 3, 4], genre_title="Metal",
                                filters={"genre": ["Rock"], "scene_tags": ["Berlin"]})], [1, 2, 3, 4])
    result = quality.facet_agreement(metal, tracks, genre_tree)
    assert result["contradicting_share"] == pytest.approx(0.25)  # track 3 (Jazz); track 4 is in no genre leaf


# ------------------------------------------------------------------------------------ LLM budget
def _call(started, ended, out=100, cached=False):
    return {"phase": "p", "task": "t", "started": started, "ended": ended, "cached": cached, "output_tokens": out}


def test_critical_path_counts_sequential_waves():
    assert llm_budget.critical_path([]) == {"calls": 0, "tasks": {}, "weight": 0.0, "weight_chain_calls": 0}
    # 3 waves of 2 parallel calls: depth 3
    waves = [_call(w, w + 0.9) for w in (0, 1, 2) for _ in range(2)]
    assert llm_budget.critical_path(waves)["calls"] == 3
    # strictly serial calls touching end to start: all of them
    assert llm_budget.critical_path([_call(i, i + 1) for i in range(5)])["calls"] == 5
    # cached rows are no requests
    assert llm_budget.critical_path([_call(0, 1), _call(1, 1, cached=True)])["calls"] == 1
    # weighted: one long call vs two short sequential ones running beside it
    calls = [_call(0, 3, out=1000), _call(0, 1, out=10), _call(1.5, 2.5, out=10)]
    latency = llm_budget.call_latency(1.0, 0.01)
    assert latency(calls[0]) == pytest.approx(11.0)
    path = llm_budget.critical_path(calls, latency)
    assert path["calls"] == 2 and path["weight"] == pytest.approx(11.0) and path["weight_chain_calls"] == 1
    mixed = [{**_call(0, 1), "task": "score"}, {**_call(1, 2), "task": "score"}, {**_call(2, 3), "task": "rename"},
             {**_call(0.5, 1.5), "task": "rename"}]
    assert llm_budget.critical_path(mixed)["tasks"] == {"score": 2, "rename": 1}


def test_phase_rows_totals_targets_and_tables():
    latency = llm_budget.call_latency(5.0, 0.03)
    timeline = [_call(0, 1, 500), _call(0, 1, 500), _call(1, 2, 1000)]
    stats = {"llm_calls": 3, "input_tokens": 900, "output_tokens": 2000, "cache_read_tokens": 2000,
             "cache_write_tokens": 1000, "cost_usd": 0.5, "cache_saved_usd": 0.25, "llm_busy_s": 2.0,
             "llm_failures": 0}
    row = llm_budget.phase_row("named_clusters", {"serial_calls": 2, "seconds": 3.0}, stats, timeline, latency)
    assert (row["calls"], row["serial_rep"], row["serial"]) == (3, 2, 2)
    assert row["sim_wait_s"] == pytest.approx(20.0 + 35.0)  # (5 + 15) + (5 + 30)
    assert row["est_wall_min"] == pytest.approx((55.0 + 1.0) / 60, abs=0.01)
    total = llm_budget.total_row([row, {**row, "phase": "categories"}])
    assert (total["calls"], total["serial"], total["serial_rep"], total["cost_usd"]) == (6, 4, 4, 1.0)
    assert (total["cache_write_tokens"], total["cache_read_tokens"], total["cache_saved_usd"]) == (2000, 4000, 0.5)
    _is_table(markdown_table([row, total], llm_budget.PHASE_COLUMNS), llm_budget.PHASE_COLUMNS, 2)

    seed = {"profile": "seed", "ok": True, "proxy_requests": 100,
            "total": {**total, "calls": 100, "cost_usd": 8.0, "serial": 80, "serial_rep": 70},
            "quality": {"ami": 0.8, "categories": 12, "contradicting_share": 0.05}}
    default = {"profile": "default", "ok": True, "proxy_requests": 6, "total": total,
               "quality": {"ami": 0.81, "categories": 10, "contradicting_share": 0.02}}
    rows = {r["target"]: r for r in llm_budget.targets(seed, default)}
    assert rows["calls <= 0.25 x seed"]["met"] == "yes" and rows["cost <= 0.25 x seed"]["met"] == "yes"
    assert rows["serial call latencies <= 15 (measured)"]["met"] == "yes"
    assert rows["simulated LLM wait <= 15.0 min"]["met"] == "yes"  # 110 s
    assert rows["quality: ami (no loss)"]["met"] == "yes" and rows["quality: categories (8-12)"]["met"] == "yes"
    worse = llm_budget.targets(seed, {**default, "quality": {"ami": 0.7}})
    assert next(r for r in worse if r["target"] == "quality: ami (no loss)")["met"] == "NO"

    build = {"collection": "demo", "profile": "default", "provider": "fake-anthropic", "ok": True,
             "phases": [row], "total": total, "by_task": [], "checks_failed": [], "step_failures": [],
             "quality": {"ami": 0.8}, "leaf_sizes": [5, 9, 30], "proxy_requests": 6, "server_requests": 6}
    report = llm_budget.summarise([build, {**build, "profile": "seed"}], [], {"fixed_s": 5, "per_output_token_s": 0.03,
                                                                             "scale": 0.001})
    assert {"demo: default profile (fake-anthropic)", "Targets: default vs seed"} <= set(report["tables"])
    assert "| demo | seed | t |" not in report["tables"]["Targets: default vs seed"]
    assert "| demo | seed | 6 | 6 | 6 | yes |" in report["tables"]["Requests: reported vs counting proxy vs server log"]
    assert "| demo | seed (the reference) | 6 | 4 | 2K / 4K | 2K / 4K | $0.50 | $1.00 | 1.8 min |" in \
        report["tables"]["README table"]
    prefixes = report["tables"]["Cacheable prefixes by task (system prompt vs the model's minimum; prompts are never "
                                "padded)"]
    from collection_tree.tasks import TASKS

    assert all(f"| {name} | " in prefixes for name in TASKS)
    untrusted = llm_budget.readme_table([{**build, "ok": False}])
    assert "NOT TRUSTWORTHY: build failed" in untrusted


def test_targets_are_never_met_on_missing_data():
    """Two failed builds with 0 calls each (the old benchmark printed "yes" for 0 <= 0.25 x 0)."""
    failed = {**llm_budget.failed_build("demo", "seed", "anthropic", RuntimeError("no quality step")),
              "proxy_requests": 0}
    assert llm_budget.build_problems(failed) == ["build failed", "0 LLM calls", "no quality figures"]
    rows = llm_budget.targets(failed, {**failed, "profile": "default"})
    assert rows and all(r["met"].startswith("NO (no data: seed: build failed") for r in rows)
    # a build whose calls the counting proxy does not confirm is not trusted either
    ok = {"profile": "default", "ok": True, "total": {"calls": 5}, "quality": {"ami": 0.8}, "proxy_requests": 7}
    assert llm_budget.build_problems(ok) == ["the counting proxy saw 7 /v1/messages requests, the project reported 5"]
    assert llm_budget.build_problems({**ok, "proxy_requests": 5}) == []


def test_task_serial_depth_and_cache_tokens():
    from types import SimpleNamespace as NS

    usage = NS(input_tokens=100, output_tokens=10, cache_read_input_tokens=1000, cache_creation_input_tokens=0)
    records = [NS(cached=False, phase="p", task="t", model="m", usage=usage, cost_usd=0.01, cache_saved_usd=0.002)
               for _ in range(3)]
    hit = NS(cached=True, phase="p", task="t", model="m", usage=usage, cost_usd=0.0, cache_saved_usd=0.0)
    rows = harness.task_breakdown([*records, hit])
    assert rows == [{"phase": "p", "task": "t", "model": "m", "calls": 3, "input_tokens": 300,
                     "cache_read_tokens": 3000, "cache_write_tokens": 0, "output_tokens": 30, "cost_usd": 0.03,
                     "cache_saved_usd": 0.006}]
    timeline = {"p": [{**_call(0, 1), "model": "m"}, {**_call(0, 1), "model": "m"}, {**_call(1, 2), "model": "m"},
                      {**_call(0, 5), "task": "other", "model": "m"}]}
    assert llm_budget.with_task_serial(rows, timeline)[0]["serial"] == 2


def test_counting_proxy_counts_what_the_sdk_sends():
    import anthropic

    from benchmarks.counting_proxy import CountingProxy
    from collection_tree.llm.fake_server import FakeAnthropicServer
    from collection_tree.tasks import TASKS, solve_offline

    task = TASKS["name_clusters"]
    request = task.request(task.example())
    with FakeAnthropicServer(solver=solve_offline) as server, CountingProxy(server.base_url) as proxy:
        client = anthropic.Anthropic(api_key="sk-ant-dummy", base_url=proxy.base_url, max_retries=0)
        for _ in range(3):
            message = client.messages.create(
                model="claude-haiku-5-5", max_tokens=4096, system=request.system,
                messages=[{"role": "user", "content": request.user_message()}],
                output_config={"format": {"type": "json_schema", "schema": request.schema}})
            assert json.loads(message.content[0].text)
        client.messages.count_tokens(model="claude-haiku-5-5", messages=[{"role": "user", "content": "x"}])
        assert proxy.messages() == 3 == len([r for r in server.requests if r.path == "/v1/messages"])
        assert proxy.counts()[("POST", "/v1/messages/count_tokens")] == 1
        proxy.reset()
        assert proxy.messages() == 0


def test_latency_by_task_and_child_env():
    latency = llm_budget.call_latency(5.0, 0.03)
    rows = llm_budget.latency_by_task([{"task": "a", "output_tokens": 100, "latency_s": 0.01},
                                       {"task": "a", "output_tokens": 300, "latency_s": 0.02}], 0.001, latency)
    assert rows == [{"task": "a", "requests": 2, "median_output_tokens": 200, "median_model_latency_s": 11.0,
                     "median_measured_over_scale_s": 15.0}]
    env = harness.child_env("seed", "anthropic", "http://127.0.0.1:1", __import__("pathlib").Path("/tmp/h"))
    assert env["ANTHROPIC_API_KEY"] == harness.DUMMY_KEY and env["ANTHROPIC_BASE_URL"] == "http://127.0.0.1:1"
    assert env["COLLECTION_TREE_PROFILE"] == "seed" and env["COLLECTION_TREE_LLM_CACHE"] == "off"
    offline = harness.child_env("default", "offline", "", __import__("pathlib").Path("/tmp/h"))
    assert not any(k.startswith("ANTHROPIC_") for k in offline)


def test_quality_tables_and_plot(tmp_path):
    build = {"collection": "demo", "provider": "offline", "profile": "seed", "ok": True,
             "quality": {**quality.structure(_tree()), "ami": 0.5}, "leaf_sizes": [4, 2, 3],
             "phases": [{"phase": "named_clusters", "calls": 3, "cost_usd": 0.1, "sim_wait_s": 60.0}]}
    tables = quality.quality_tables([build, {**build, "profile": "default"}])
    _is_table(tables["Quality"], quality.QUALITY_COLUMNS, 2)
    from benchmarks import plots  # matplotlib: the bench extra, which `make test` installs

    out = plots.plot_profiles([build, {**build, "profile": "default"}], tmp_path / "p.png", "demo")
    assert out.exists() and out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_measured_sums_the_command_and_the_processes_it_starts():
    """A command holding ~150 MB while its child holds ~150 MB: the largest process peaks near 150 MB, the
    process tree (sampled) near 300 MB."""
    import sys

    hold = "b = bytearray(150 * 2**20); b[::4096] = b'x' * len(b[::4096]); import time; time.sleep(3)"
    parent = (f"import subprocess, sys; child = subprocess.Popen([sys.executable, '-c', {hold!r}]); "
              f"{hold}; child.wait()")
    proc, _, largest, together = build_time.measured([sys.executable, "-c", parent], {}, timeout=60)
    assert proc.returncode == 0
    assert 150 <= largest < 250
    assert together >= 290
    assert together > largest + 130
