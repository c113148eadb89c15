"""``collection-tree llm-cache stats|clear``: inspect or empty the persistent LLM response cache."""

from __future__ import annotations

import argparse
import datetime as dt
import json
from pathlib import Path

from upath import UPath

from collection_tree.settings import current, local_or_url


def default_cache_path() -> Path | UPath:
    """Where builds keep the cache (the settings' places)."""
    return current().places().llm_cache


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("llm-cache", help="show or clear the LLM response cache")
    parser.add_argument("action", choices=("stats", "clear"))
    parser.add_argument("--path", type=local_or_url, default=None,
                        help="cache file or URL (default: <output>/llm_cache.sqlite or COLLECTION_TREE_LLM_CACHE_PATH)")
    parser.add_argument("--task", default=None, help="clear only this task's entries")
    parser.add_argument("--json", action="store_true", help="stats as JSON")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from collection_tree.llm.cache import open_response_cache

    path = args.path or default_cache_path()
    if not path.exists():
        print(f"no LLM cache at {path} (nothing cached yet)")
        return 0
    cache = open_response_cache(path)
    try:
        if args.action == "clear":
            removed = cache.clear(task=args.task)
            print(f"removed {removed} cached answer(s){f' of {args.task}' if args.task else ''} from {path}")
            return 0
        stats = cache.stats()
        if args.json:
            print(json.dumps(stats, indent=2, sort_keys=True))
            return 0
        print(f"{stats['entries']} cached answer(s) in {path} ({stats['bytes'] / 1e6:.2f} MB)")
        if stats["entries"]:
            print(f"  from {_when(stats['oldest'])} to {_when(stats['newest'])}")
            for provider, count in stats["by_provider"].items():
                label = provider or "(unrecorded: written before answers were keyed by provider; never used)"
                print(f"  provider {label}: {count}")
            for task, count in stats["by_task"].items():
                print(f"  task  {task}: {count}")
            for model, count in stats["by_model"].items():
                print(f"  model {model}: {count}")
        return 0
    finally:
        cache.close()


def _when(timestamp: float | None) -> str:
    if timestamp is None:
        return "-"
    return dt.datetime.fromtimestamp(timestamp).strftime("%Y-%m-%d %H:%M:%S")
