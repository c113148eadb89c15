"""The benchmark figure (matplotlib, PNG in benchmarks/results/): per profile, the leaf size distribution
and the LLM calls and simulated wait per phase.

    python -m benchmarks.plots      # redraw from benchmarks/results/llm_budget.json (+ quality.json)
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.harness import RESULTS

COLOURS = {"seed": "#c0504d", "default": "#4f81bd"}
PHASE_LABELS = {"named_clusters": "2 naming", "assigned_clusters": "3 reassign", "refined_clusters": "4 refine",
                "categories": "5 categories", "collection_leaves": "6 leaves", "metadata_suggestions": "7 metadata"}


def _by_profile(builds: Sequence[Mapping[str, Any]], collection: str) -> dict[str, Mapping[str, Any]]:
    return {b["profile"]: b for b in builds if b["collection"] == collection and b.get("phases")}


def plot_profiles(builds: Sequence[Mapping[str, Any]], out: Path, collection: str = "demo",
                  title: str = "") -> Path:
    """Four panels for one collection's seed and default builds: leaf size histogram (log-spaced bins),
    and per phase the LLM calls, the cost at list prices and the simulated LLM wait (critical path)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    by = _by_profile(builds, collection)
    profiles = [p for p in ("seed", "default") if p in by]
    from matplotlib.ticker import FixedLocator, NullLocator, ScalarFormatter

    fig, grid = plt.subplots(2, 2, figsize=(14, 9))
    axes = grid.ravel()
    ax = axes[0]
    sizes_all = [s for p in profiles for s in by[p].get("leaf_sizes", [])]
    if sizes_all:
        bins = np.unique(np.geomspace(max(min(sizes_all), 1), max(sizes_all) + 1, 18).astype(int))
        for p in profiles:
            sizes = by[p].get("leaf_sizes", [])
            if not sizes:
                continue
            ax.hist(sizes, bins=bins, histtype="step", linewidth=2, color=COLOURS.get(p),
                    label=f"{p}: {len(sizes)} leaves, median {np.median(sizes):.0f}")
        ax.set_xscale("log")
        ax.xaxis.set_major_locator(FixedLocator([t for t in (5, 8, 13, 21, 34, 55, 89, 144, 233, 377)
                                                 if t <= max(sizes_all) * 1.5]))
        ax.xaxis.set_major_formatter(ScalarFormatter())
        ax.xaxis.set_minor_locator(NullLocator())
    ax.set_xlabel("tracks per leaf (log)")
    ax.set_ylabel("leaves")
    ax.set_title("Leaf size distribution")
    ax.legend(fontsize=8)

    phases = [ph for ph in PHASE_LABELS if any(r["phase"] == ph for p in profiles for r in by[p]["phases"])]
    x = np.arange(len(phases))
    width = 0.8 / max(len(profiles), 1)
    panels = ((axes[1], "calls", "LLM calls", 1.0, "{:,.0f}"),
              (axes[2], "cost_usd", "cost (USD, list prices)", 1.0, "{:,.2f}"),
              (axes[3], "sim_wait_s", "simulated LLM wait (min, critical path)", 60.0, "{:,.0f}"))
    for panel, key, label, scale, fmt in panels:
        for i, p in enumerate(profiles):
            rows = {r["phase"]: r for r in by[p]["phases"]}
            values = [float(rows.get(ph, {}).get(key, 0) or 0) / scale for ph in phases]
            total = sum(values)
            bars = panel.bar(x + (i - (len(profiles) - 1) / 2) * width, values, width, color=COLOURS.get(p),
                             label=f"{p} (total {fmt.format(total)})")
            panel.bar_label(bars, labels=[fmt.format(v) for v in values], fontsize=7)
        panel.set_xticks(x, [PHASE_LABELS[ph] for ph in phases], rotation=20, fontsize=8)
        panel.set_ylabel(label)
        panel.set_title(label.split(" (")[0] + " per phase")
        panel.legend(fontsize=8)
    fig.suptitle(title or f"{collection}: seed vs default profile (fake Anthropic server)")
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def main(argv: list[str] | None = None) -> int:
    data = json.loads((RESULTS / "llm_budget.json").read_text())
    builds = data["builds"]
    for collection in dict.fromkeys(b["collection"] for b in builds):
        print(plot_profiles(builds, RESULTS / f"profiles_{collection}.png", collection))
    return 0


if __name__ == "__main__":
    sys.exit(main())
