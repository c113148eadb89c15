"""collection-tree: curated playlists from the intersection of a genre tree and a scene tree."""

__version__ = "0.1.0"
