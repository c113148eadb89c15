"""``collection-tree`` console script. Each subcommand lives in ``collection_tree/commands/<name>.py``
with ``register(subparsers)``; they are discovered, so adding one touches no shared file."""

from __future__ import annotations

import argparse
import importlib
import logging
import pkgutil
import sys

from collection_tree import commands, package_version
from collection_tree.core.errors import InputError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="collection-tree",
        description="Build a curated collection tree (categories of leaf playlists) from a genre tree "
                    "and a scene tree, as a Dagster asset pipeline.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {package_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda i: i.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{commands.__name__}.{info.name}")
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into `head` and closed: not an error
        sys.stderr.close()
        return 0


def console() -> int:
    """The console script: :func:`main` as the whole process (its garbage collector tuned for it)."""
    from collection_tree.core.heap import command_process

    return command_process(main)


if __name__ == "__main__":
    sys.exit(console())
