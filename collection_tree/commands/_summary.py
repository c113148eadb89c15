"""What ``build`` prints when it finishes: where the outputs are and the key figures."""

from __future__ import annotations

from typing import Any

from collection_tree import settings


def print_summary(result: Any, *, test: bool, seconds: float) -> None:
    out = settings.output_dir()
    print(f"collection-tree {'test run' if test else 'build'} finished in {seconds:.1f}s (run {result.run_id})")
    for event in result.get_asset_materialization_events():
        mat = event.event_specific_data.materialization
        meta = mat.metadata
        shown = {k: v.value for k, v in meta.items()
                 if k in ("dagster/row_count", "seed_clusters", "clusters", "categories", "leaves",
                          "assigned_tracks", "llm_calls", "tracks_covered")}
        print(f"  {mat.asset_key.to_user_string():<32} {shown}")
    print(f"outputs: {out}")
