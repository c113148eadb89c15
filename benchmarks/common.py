"""Shared benchmark plumbing: peak memory of a child process, results files, Markdown tables."""

from __future__ import annotations

import json
import platform
import resource
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"


def machine() -> dict[str, Any]:
    import os

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
