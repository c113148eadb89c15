"""Thin Dagster assets around the pure phases. ``build_assets(mode)`` makes one pipeline's assets;
the full build and the test run each get their own, so their storage and history never mix."""
