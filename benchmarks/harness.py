"""The benchmarks' one harness: the collections, a full build in a child process (``dagster.materialize``
with the project's own resources, offline or through the loopback fake Anthropic server), the fake
server process, peak memory, results files and Markdown tables. Every benchmark module imports this
one; none imports another benchmark (``llm_budget`` and ``quality`` share builds through here).

    python -m benchmarks.harness --child SPEC_JSON     # one build in this process (run_build's child)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"
SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
COLLECTIONS = {"demo": None, "genius": SHARED / "genius-2000s", "genius-full": SHARED / "genius-2000s-full"}
DUMMY_KEY = "sk-ant-dummy-benchmark-key-never-valid"


def machine() -> dict[str, Any]:
    mem = ""
    try:
        with open("/proc/meminfo") as handle:
            mem = handle.readline().split(":")[1].strip()
    except OSError:
        pass
    return {"python": platform.python_version(), "cpus": os.cpu_count(), "memory": mem,
            "platform": platform.platform(), "date": time.strftime("%Y-%m-%d")}


def peak_rss_mib() -> float:
    """This process's peak resident set size (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_child(module: str, args: Sequence[str], timeout: float) -> dict[str, Any] | None:
    """Run ``python -m module args`` and parse the last stdout line as JSON (None on timeout)."""
    try:
        proc = subprocess.run([sys.executable, "-m", module, *args], capture_output=True, text=True,
                              timeout=timeout, check=True)
    except subprocess.TimeoutExpired:
        return None
    except subprocess.CalledProcessError as exc:
        raise RuntimeError(f"{module} {' '.join(args)} failed:\n{exc.stderr[-2000:]}") from exc
    return json.loads(proc.stdout.strip().splitlines()[-1])


def markdown_table(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> str:
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in rows:
        lines.append("| " + " | ".join(_fmt(row.get(c, "")) for c in columns) + " |")
    return "\n".join(lines)


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.3f}" if abs(value) < 100 else f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def write_results(name: str, title: str, tables: dict[str, str], data: dict[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    payload = {"benchmark": name, "machine": machine(), **data}
    (RESULTS / f"{name}.json").write_text(json.dumps(payload, indent=1, default=str) + "\n")
    md = [f"# {title}", "", f"Machine: {payload['machine']}", ""]
    for heading, table in tables.items():
        md += [f"## {heading}", "", table, ""]
    path = RESULTS / f"{name}.md"
    path.write_text("\n".join(md))
    return path


def task_breakdown(records: Iterable[Any]) -> list[dict[str, Any]]:
    """Provider calls, tokens (uncached input, cache reads, cache writes, output), cost (write surcharges
    included) and what prompt caching saved per (phase, task, model) from the clients' call records."""
    out: dict[tuple[str, str, str], dict[str, Any]] = {}
    for r in records:
        if r.cached:
            continue
        row = out.setdefault((r.phase, r.task, r.model), {"phase": r.phase, "task": r.task, "model": r.model,
                                                          "calls": 0, "input_tokens": 0, "cache_read_tokens": 0,
                                                          "cache_write_tokens": 0, "output_tokens": 0,
                                                          "cost_usd": 0.0, "cache_saved_usd": 0.0})
        row["calls"] += 1
        row["input_tokens"] += r.usage.input_tokens
        row["cache_read_tokens"] += r.usage.cache_read_input_tokens
        row["cache_write_tokens"] += r.usage.cache_creation_input_tokens
        row["output_tokens"] += r.usage.output_tokens
        row["cost_usd"] = round(row["cost_usd"] + r.cost_usd, 6)
        row["cache_saved_usd"] = round(row["cache_saved_usd"] + r.cache_saved_usd, 6)
    return list(out.values())


# ------------------------------------------------------------------------------ one build (child)
def collection_paths(name: str, data: Path | None, work: Path) -> dict[str, str]:
    """Input files of a collection; the demo is generated (with its ground truth) under ``work``."""
    if data is None:
        from collection_tree.demo import write_demo_collection

        out = work / "demo_collection"
        if not (out / "ground_truth.csv").exists():
            write_demo_collection(out)
        data = out
    paths = {"tracks": data / "tracks.csv", "genre_tree": data / "genre_tree.json",
             "scene_tree": data / "scene_tree.json", "ground_truth": data / "ground_truth.csv"}
    return {k: str(v) for k, v in paths.items() if k != "ground_truth" or v.exists()}


def child_build(spec: Mapping[str, Any]) -> dict[str, Any]:
    """Materialise every asset and check of the full build in this process; return its figures."""
    from dagster import DagsterInstance, materialize

    from collection_tree import settings
    from collection_tree.assets.modes import FULL
    from collection_tree.assets.pipeline import build_assets, build_checks
    from collection_tree.resources.factory import build_resources
    from collection_tree.resources.llm import LLMResource

    made: list[Any] = []

    class RecordingLLMResource(LLMResource):
        """The project's LLM resource, keeping each client it makes so the benchmark can read its timeline."""

        def make_client(self, model_config: dict[str, Any] | None = None, stop_event: Any = None,
                        **options: Any) -> Any:
            client = super().make_client(model_config=model_config, stop_event=stop_event, **options)
            made.append(client)
            return client

    out = Path(spec["output"])
    paths = spec["paths"]
    provider = spec["provider"]
    if provider == "anthropic":
        base = spec["base_url"]
        if not base.startswith(("http://127.0.0.1:", "http://localhost:")):
            raise RuntimeError(f"refusing a non-loopback base URL: {base}")
    # The profile comes from the child's environment (COLLECTION_TREE_PROFILE); the rest is this build's.
    cfg = settings.current().with_values(
        output=str(out), store="", llm_cache_path="", tracks=paths["tracks"], genre_tree=paths["genre_tree"],
        scene_tree=paths["scene_tree"], llm=provider, anthropic_base_url=spec.get("base_url", ""), llm_cache="off")
    resources = build_resources(cfg, llm=RecordingLLMResource)
    started = time.perf_counter()
    result = materialize([*build_assets(FULL), *build_checks(FULL)], resources=resources,
                         instance=DagsterInstance.ephemeral(), raise_on_error=False)
    elapsed = time.perf_counter() - started
    meta: dict[str, dict[str, Any]] = {}
    for event in result.get_asset_materialization_events():
        name = event.asset_key.path[-1]
        values = {k: v.value for k, v in event.event_specific_data.materialization.metadata.items()}
        meta[name] = {k: v for k, v in values.items() if isinstance(v, int | float | str) and len(str(v)) < 200}
    stats: dict[str, dict[str, Any]] = {}
    timelines: dict[str, list[dict[str, Any]]] = {}
    for client in made:
        for row in client.timeline():
            timelines.setdefault(row["phase"], []).append(row)
        for phase in {r.phase for r in client.records}:
            stats[phase] = {k: v for k, v in client.stats(phase).items() if not isinstance(v, dict)}
    by_task = task_breakdown([r for client in made for r in client.records])
    checks = [{"asset": c.asset_key.path[-1], "check": c.check_name, "passed": c.passed}
              for c in result.get_asset_check_evaluations()]
    failures = [_failure_text(e) for e in result.all_events if e.is_step_failure]
    return {"ok": bool(result.success), "elapsed_s": round(elapsed, 2), "meta": meta, "stats": stats,
            "timelines": timelines, "by_task": by_task, "checks": checks,
            "step_failures": [f[-1500:] for f in failures]}


def _failure_text(event: Any) -> str:
    """A failed step's message with the error's own message and the end of its stack."""
    error = getattr(getattr(event, "step_failure_data", None), "error", None)
    if error is None:
        return event.message or ""
    cause = error.cause or error
    stack = "".join(cause.stack[-3:]) if cause.stack else ""
    return f"{event.step_key}: {cause.message.strip()}\n{stack}"


# ------------------------------------------------------------------------------ driver
class FakeServerProcess:
    """``collection-tree fake-anthropic`` on a free loopback port, in its own process with a fixed
    ``PYTHONHASHSEED`` (its offline solvers answer exactly as an offline build's would), controlled over
    its ``/_control`` endpoints. Use as a context manager; stopped with SIGINT (then killed)."""

    def __init__(self, latency: Mapping[str, float] | None = None, start_timeout: float = 60.0):
        self.latency = dict(latency or {})
        self.start_timeout = start_timeout
        self.proc: subprocess.Popen[str] | None = None
        self.base_url = ""

    def __enter__(self) -> FakeServerProcess:
        import re
        import select

        spec = ",".join(f"{k}={v}" for k, v in (("fixed", self.latency.get("fixed_s", 0.0)),
                                                 ("per_token", self.latency.get("per_output_token_s", 0.0)),
                                                 ("scale", self.latency.get("scale", 1.0))))
        env = {k: v for k, v in os.environ.items() if not k.startswith("ANTHROPIC_")}
        env["PYTHONHASHSEED"] = "0"
        self.proc = subprocess.Popen([sys.executable, "-m", "collection_tree.cli", "fake-anthropic", "--port", "0",
                                      "--latency", spec], env=env, stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        ready, _, _ = select.select([self.proc.stdout], [], [], self.start_timeout)
        line = self.proc.stdout.readline() if ready else ""
        match = re.search(r"(http://127\.0\.0\.1:\d+)", line)
        if match is None:
            self.__exit__()
            raise RuntimeError(f"the fake Anthropic server did not start: {line!r}")
        self.base_url = match.group(1)
        return self

    def __exit__(self, *exc: object) -> None:
        import signal

        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def _call(self, method: str, path: str) -> dict[str, Any]:
        import urllib.request

        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: never via a proxy
        data = b"{}" if method == "POST" else None
        request = urllib.request.Request(self.base_url + path, data=data, method=method,
                                         headers={"content-type": "application/json"})
        with opener.open(request, timeout=30) as response:
            return json.loads(response.read() or b"{}")

    def reset(self) -> None:
        self._call("POST", "/_control/reset")

    def log(self) -> tuple[list[dict[str, Any]], int]:
        """The ``/v1/messages`` requests served since the last reset, and the most in flight at once."""
        body = self._call("GET", "/_control/log")
        return [r for r in body["requests"] if r["path"] == "/v1/messages"], int(body.get("max_in_flight", 0))


def child_env(profile: str, provider: str, base_url: str, home: Path) -> dict[str, str]:
    """The child's environment: the profile; for the fake server a dummy key and its URL, for the
    offline provider no key at all. Other Anthropic credential sources are removed. A fixed
    ``PYTHONHASHSEED``: some offline answers depend on set iteration order (ties), so without it two
    builds of the same inputs can differ and provider or profile comparisons would mix in that noise."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANTHROPIC_")}
    env.update({"COLLECTION_TREE_PROFILE": profile, "COLLECTION_TREE_LLM_CACHE": "off", "DAGSTER_HOME": str(home),
                "PYTHONHASHSEED": "0",
                "COLLECTION_TREE_LLM": "anthropic" if provider == "anthropic" else "offline"})
    if provider == "anthropic":
        env.update({"ANTHROPIC_API_KEY": DUMMY_KEY, "ANTHROPIC_BASE_URL": base_url})
    return env


Evaluate = Callable[[Path, Mapping[str, str]], Mapping[str, Any]]


def run_build(collection: str, profile: str, provider: str, *, work: Path, base_url: str = "",
              timeout: float = 1800, evaluate: Evaluate | None = None) -> dict[str, Any]:
    """One full build in a child process. ``provider``: ``anthropic`` (the fake server at ``base_url``)
    or ``offline``. Returns the build's metadata, LLM stats, timelines, checks and failures;
    ``evaluate(output_dir, input_paths)`` adds its entries (quality figures) while the output exists."""
    data = COLLECTIONS[collection]
    paths = collection_paths(collection, data, work)
    with tempfile.TemporaryDirectory(prefix=f"ct-{collection}-{profile}-", dir=work) as tmp:
        home = Path(tmp) / "home"
        home.mkdir()
        (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
        spec = {"output": str(Path(tmp) / "output"), "paths": paths, "provider": provider, "base_url": base_url}
        proc = subprocess.run([sys.executable, "-m", "benchmarks.harness", "--child", json.dumps(spec)],
                              env=child_env(profile, provider, base_url, home), capture_output=True, text=True,
                              timeout=timeout)
        if proc.returncode != 0 or not proc.stdout.strip():
            raise RuntimeError(f"build {collection}/{profile}/{provider} failed:\n{proc.stderr[-3000:]}")
        raw = json.loads(proc.stdout.strip().splitlines()[-1])
        figures = dict(evaluate(Path(spec["output"]), paths)) if evaluate is not None else {}
    return {"collection": collection, "profile": profile, "provider": "fake-anthropic" if provider == "anthropic"
            else provider, "ok": raw["ok"], "elapsed_s": raw["elapsed_s"], "quality": {}, "leaf_sizes": [],
            **figures, "by_task": raw["by_task"], "timelines": raw["timelines"], "meta": raw["meta"],
            "stats": raw["stats"], "checks": raw["checks"], "step_failures": raw["step_failures"],
            "checks_failed": [f"{c['asset']}.{c['check']}" for c in raw["checks"] if not c["passed"]]}


def failed_build(collection: str, profile: str, provider: str, error: BaseException) -> dict[str, Any]:
    """A build that did not finish, in the shape of :func:`run_build`'s result."""
    return {"collection": collection, "profile": profile,
            "provider": "fake-anthropic" if provider == "anthropic" else provider, "ok": False, "elapsed_s": 0.0,
            "quality": {}, "leaf_sizes": [], "by_task": [], "timelines": {}, "meta": {}, "stats": {},
            "checks": [], "step_failures": [str(error)[-1500:]], "checks_failed": []}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--child", required=True, help="the build's spec (JSON), as run_build passes it")
    args = parser.parse_args(argv)
    print(json.dumps(child_build(json.loads(args.child)), default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
