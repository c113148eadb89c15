"""collection-tree: curated playlists from the intersection of a genre tree and a scene tree."""


def package_version() -> str:
    """The installed package's version (the one in pyproject.toml): what ``--version`` prints and a
    tree's ``build.version`` records."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("collection-tree")
    except PackageNotFoundError:  # run from a checkout that was never installed
        return "0+unknown"
