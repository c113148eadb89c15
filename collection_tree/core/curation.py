"""Curation figures of a Collection Tree, computed by the project itself: the same definitions as the
outside judge ``../shared/tools/curation.py`` (DESIGN section 7), so a build reports what it will be
judged on.

- cross-lineage: placed tracks whose leaf sits under a genre lineage (a root of the genre tree) that
  holds none of the track's own genre-tree leaves. A leaf's lineage is that of its id's part before
  ``__`` when that is a genre leaf id, else that of a genre leaf titled like its ``genre_context``.
- category lineage purity: share of tracks (over all categories) that belong to their category's
  dominant lineage (a track may belong to several).
- title fit: share of tracks whose own facet words (genre, scene_tags, descriptors, era, country)
  hold a content word of their category's (leaf's) title.
- template: the largest share of leaf descriptions opening with the same three words, and of leaf
  titles sharing a shape once letters and numbers are masked.
- broken titles: leaf titles ending in a cut year ("late 200") or whose year span contradicts their
  decade ("late 2000s: 2000-2004").

The word rules (``words``, ``content_words``, ``STOP_WORDS``) are also what the phases use to pick
titles that fit, so there is one definition of "a track carries a word of the title".
"""

from __future__ import annotations

import functools
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from collection_tree.core.track_facets import distinct_codes

FACET_COLUMNS = ("genre", "scene_tags", "descriptors", "era", "country")
STOP_WORDS = frozenset({
    "and", "the", "of", "from", "with", "for", "music", "sound", "sounds", "early", "mid", "late", "era", "new",
    "classics", "classic", "songs", "tracks", "collection", "essentials", "vibes", "mix"})
_WORD = re.compile(r"[^\W_]+(?:[-'&][^\W_]+)*")
_TITLE_WORD = re.compile(r"[^\W_]+")
_JOINER = re.compile(r"[-'&]")
_CUT = re.compile(r"\b\d{1,3}$|\b(?:early|mid|late) \d{1,3}\b(?!\d)")
_ERA_SPAN = re.compile(r"(early|late) (\d{3})0s.*?(\d{4})\s*[-–]\s*(\d{4})")
MAX_TITLE_WORDS = 5
MAX_CROSS_LINEAGE_SHARE = 0.005  # a tree a record shop would sign (DESIGN section 7)


def words(text: Any) -> set[str]:
    """Lower-case words; a hyphenated or ``&``-joined word also gives its parts ("hip-hop" -> hip, hop)."""
    out: set[str] = set()
    for word in _WORD.findall(str(text or "").casefold()):
        out.add(word)
        if _JOINER.search(word):
            out.update(p for p in _JOINER.split(word) if p)
    return out


def content_words(title: Any) -> set[str]:
    """The words of a title that can fit a track: at least 3 characters, not a stop word."""
    return {w for w in words(title) if len(w) >= 3 and w not in STOP_WORDS}


def title_word_count(title: str) -> int:
    """Words as the judge counts them ("Hip-Hop" and "R&B" are two each)."""
    return len(_TITLE_WORD.findall(title))


def broken_title(title: str) -> bool:
    """A cut year at the end or after an era word, or a year span contradicting the title's decade."""
    if _CUT.search(title):
        return True
    match = _ERA_SPAN.search(title)
    if not match:
        return False
    lo, hi, decade = int(match.group(3)), int(match.group(4)), int(match.group(2)) * 10
    return (match.group(1) == "late" and hi < decade + 5) or (match.group(1) == "early" and lo > decade + 4)


def _text(value: Any) -> str:
    if isinstance(value, list | tuple):
        return "; ".join(str(v) for v in value)
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return ""
    return str(value)


@functools.lru_cache(maxsize=1 << 16)
def _value_words(text: str) -> frozenset[str]:
    return frozenset(words(text))


def track_facet_words(tracks: pd.DataFrame) -> dict[int, frozenset[str]]:
    """Track id -> the words of its own facets (genre, scene_tags, descriptors, era, country). No word
    spans the separators between values, so a track's words are the union of its values' words,
    each distinct cell of a column read once (``_value_words``' bounded cache alone thrashes once a
    big collection has more distinct values than it holds), and each distinct combination of cells
    united once: tracks of the same facets share one frozenset (callers count by it)."""
    ids = tracks["track_id"].astype("int64").tolist()
    coded = (_facet_codes(tracks[c].tolist()) for c in FACET_COLUMNS if c in tracks.columns)
    per_column = [[words_of[code] for code in codes.tolist()] for codes, words_of in coded]
    unions: dict[tuple[frozenset[str], ...], frozenset[str]] = {}

    def union(cells: tuple[frozenset[str], ...]) -> frozenset[str]:
        found = unions.get(cells)
        if found is None:
            found = unions[cells] = frozenset().union(*cells)
        return found

    return dict(zip(ids, map(union, zip(*per_column, strict=True)), strict=True)) if per_column else \
        dict.fromkeys(ids, frozenset())


def _cell_words(value: Any) -> frozenset[str]:
    """A cell's words (a list cell: the union of its values' words)."""
    texts = [str(v) for v in value] if isinstance(value, list | tuple) else [_text(value)]
    return frozenset().union(*(_value_words(text) for text in texts))


def facet_words_of(tracks: pd.DataFrame) -> Callable[[Sequence[int]], list[frozenset[str]]]:
    """A lookup: track ids -> each one's facet words (``track_facet_words`` of just those rows; an id
    not in ``tracks`` has none). For checks that read a few leaves of a big collection."""
    position = pd.Index(tracks["track_id"].astype("int64"))

    def words_of(ids: Sequence[int]) -> list[frozenset[str]]:
        found_at = position.get_indexer([int(t) for t in ids])
        found = track_facet_words(tracks.iloc[found_at[found_at >= 0]])
        return [found.get(int(t), frozenset()) for t in ids]

    return words_of


def genre_lineages(genre_tree: Mapping[str, Any]) -> tuple[dict[str, str], dict[str, set[str]],
                                                            dict[int, frozenset[str]]]:
    """Genre leaf id -> root id; leaf title (casefolded) -> root ids; track id -> root ids of its leaves."""
    leaf_root: dict[str, str] = {}
    title_roots: dict[str, set[str]] = defaultdict(set)
    track_roots: dict[int, frozenset[str]] = {}
    alone: dict[str, frozenset[str]] = {}  # one shared set per root: most tracks sit under one
    for lineage in genre_tree.get("lineages", []):
        root = str(lineage["id"])
        stack = [lineage]
        while stack:
            node = stack.pop()
            children = node.get("children") or []
            if not children:
                leaf_root[str(node["id"])] = root
                title_roots[str(node.get("title", "")).casefold()].add(root)
                only = alone.setdefault(root, frozenset((root,)))
                for t in map(int, node.get("track_ids", [])):
                    found = track_roots.get(t)
                    if found is None:
                        track_roots[t] = only
                    elif root not in found:
                        track_roots[t] = found | only
            stack.extend(children)
    return leaf_root, dict(title_roots), track_roots


def leaf_roots(leaf: Mapping[str, Any], leaf_root: Mapping[str, str], title_roots: Mapping[str, set[str]]) -> set[str]:
    """The lineage(s) of a tree leaf (or cluster): its id's genre-leaf part, else its genre context's title."""
    genre_leaf = str(leaf.get("id", "")).split("__")[0]
    if genre_leaf in leaf_root:
        return {leaf_root[genre_leaf]}
    return set(title_roots.get(str(leaf.get("genre_context", "")).casefold(), set()))


def curation_figures(tree: Mapping[str, Any], tracks: pd.DataFrame, genre_tree: Mapping[str, Any],
                     max_leaf_tracks: int = 150, min_leaf_tracks: int = 5) -> dict[str, Any]:
    """The judge's figures of ``tree`` (plus the count of leaves outside the size bounds)."""
    leaf_root, title_roots, track_roots = genre_lineages(genre_tree)
    leaves = [(c, leaf) for c in tree.get("categories", []) for leaf in c.get("leaves", [])]
    placed = cross = unknown_root = 0
    purity_num = purity_den = 0
    sizes: list[int] = []
    nothing: frozenset[str] = frozenset()
    placed_ids: list[int] = []  # every leaf's tracks, leaf after leaf
    category_words: list[set[str]] = []
    leaf_words: list[set[str]] = []
    leaf_category: list[int] = []
    for category in tree.get("categories", []):
        category_words.append(content_words(category.get("title", "")))
        roots_in_category: Counter[frozenset[str]] = Counter()  # each distinct set of a track's roots
        for leaf in category.get("leaves", []):
            ids = [int(t) for t in leaf.get("track_ids", [])]
            sizes.append(len(ids))
            placed += len(ids)
            placed_ids += ids
            leaf_words.append(content_words(leaf.get("title", "")))
            leaf_category.append(len(category_words) - 1)
            roots = leaf_roots(leaf, leaf_root, title_roots)
            if not roots:
                unknown_root += len(ids)
            # Tracks of one leaf repeat a few root sets: count those, judge each once.
            owns = Counter(track_roots.get(t, nothing) for t in ids)
            del owns[nothing]
            if roots:
                cross += sum(n for own, n in owns.items() if not own & roots)
            roots_in_category.update(owns)
        if roots_in_category:
            per_root: Counter[str] = Counter()
            for own, n in roots_in_category.items():
                for root in own:
                    per_root[root] += n
            purity_num += max(per_root.values())  # the dominant root's tracks (whichever of tied roots)
            purity_den += sum(roots_in_category.values())
    leaf_of_row = np.repeat(np.arange(len(sizes), dtype=np.int64), sizes)
    columns = _placed_facets(tracks, placed_ids)
    cat_fit = int(_title_fits(np.asarray(leaf_category, dtype=np.int64)[leaf_of_row], category_words,
                              columns).sum())
    leaf_fit = int(_title_fits(leaf_of_row, leaf_words, columns).sum())
    openings = Counter(" ".join(re.findall(r"\w+", str(leaf.get("description", "")).casefold())[:3])
                       for _, leaf in leaves)
    shapes = Counter(re.sub(r"\d+", "N", re.sub(r"[^,:;\d ]+", "w", str(leaf.get("title", "")))) for _, leaf in leaves)
    n_leaves = max(1, len(leaves))
    return {
        "categories": len(tree.get("categories", [])),
        "leaves": len(leaves),
        "placed_tracks": placed,
        "total_tracks": int(tree.get("total_tracks", tracks["track_id"].nunique())),
        "cross_lineage_share": cross / max(1, placed),
        "cross_lineage_tracks": cross,
        "category_lineage_purity": purity_num / purity_den if purity_den else 1.0,
        "category_titles_over_5_words": sum(title_word_count(str(c.get("title", ""))) > MAX_TITLE_WORDS
                                            for c in tree.get("categories", [])),
        "category_title_fit": cat_fit / max(1, placed),
        "leaf_title_fit": leaf_fit / max(1, placed),
        "leaf_max": max(sizes, default=0),
        "max_leaf_tracks": max_leaf_tracks,
        "tracks_in_big_leaves_share": sum(s for s in sizes if s > max_leaf_tracks) / max(1, placed),
        "leaves_out_of_bounds": sum(not min_leaf_tracks <= s <= max_leaf_tracks for s in sizes),
        "same_description_opening_share": max(openings.values(), default=0) / n_leaves,
        "commonest_title_shape_share": max(shapes.values(), default=0) / n_leaves,
        "broken_titles": sum(broken_title(str(leaf.get("title", ""))) for _, leaf in leaves),
        "tracks_in_leaves_of_no_known_lineage": unknown_root,
    }


def _facet_codes(cells: list[Any]) -> tuple[np.ndarray, list[frozenset[str]]]:
    """Each cell's code and each code's words (``_cell_words``), each distinct cell
    (``track_facets.distinct_codes``) read once."""
    codes, firsts = distinct_codes(cells)
    return codes, [_cell_words(cell) for cell in firsts]


def _placed_facets(tracks: pd.DataFrame, placed_ids: list[int]) -> list[tuple[np.ndarray, list[frozenset[str]]]]:
    """Per facet column: the code of each placed track's cell (in ``placed_ids`` order; a track not in
    ``tracks`` gets an extra code with no words) and each code's words."""
    ids = tracks["track_id"].astype("int64")
    index = pd.Index(ids)
    if index.is_unique:
        position = index.get_indexer(placed_ids)
    else:  # the last row of an id, as a dict of the rows keeps
        row = dict(zip(ids.tolist(), range(len(ids)), strict=True))
        position = np.array([row.get(t, -1) for t in placed_ids], dtype=np.int64)
    out = []
    for column in FACET_COLUMNS:
        if column not in tracks.columns:
            continue
        codes, words_of = _facet_codes(tracks[column].tolist())
        words_of = [*words_of, frozenset()]
        picked = codes[np.maximum(position, 0)] if len(codes) else np.zeros(len(position), dtype=np.int64)
        out.append((np.where(position >= 0, picked, len(words_of) - 1), words_of))
    return out


def _title_fits(group_of_row: np.ndarray, title_words: list[set[str]],
                columns: list[tuple[np.ndarray, list[frozenset[str]]]]) -> np.ndarray:
    """Per placed track: whether one of its facet cells holds a content word of its group's title.
    Each distinct (group, cell) pair is judged once (a leaf's tracks repeat a few cells)."""
    fits = np.zeros(len(group_of_row), dtype=bool)
    for codes, words_of in columns:
        width = len(words_of)
        pair_codes, pairs = pd.factorize(group_of_row * width + codes)
        pairs = np.asarray(pairs, dtype=np.int64)
        judged = np.fromiter((not title_words[g].isdisjoint(words_of[c])
                              for g, c in zip((pairs // width).tolist(), (pairs % width).tolist(), strict=True)),
                             dtype=bool, count=len(pairs))
        fits |= judged[pair_codes]
    return fits


def summary_line(figures: Mapping[str, Any]) -> str:
    """The figures as one line, in the judge's order and wording."""
    f = figures
    return (f"{f['categories']} categories, {f['leaves']} leaves; placed {f['placed_tracks']}/{f['total_tracks']}; "
            f"cross-lineage {f['cross_lineage_share']:.2%} ({f['cross_lineage_tracks']} tracks); "
            f"category lineage purity {f['category_lineage_purity']:.3f}; "
            f"category titles over 5 words {f['category_titles_over_5_words']}; "
            f"category title fit {f['category_title_fit']:.1%}, leaf title fit {f['leaf_title_fit']:.1%}; "
            f"leaf max {f['leaf_max']}, tracks in leaves > {f['max_leaf_tracks']}: "
            f"{f['tracks_in_big_leaves_share']:.1%}; "
            f"same 3-word description opening {f['same_description_opening_share']:.0%}, "
            f"commonest title shape {f['commonest_title_shape_share']:.0%}; broken titles {f['broken_titles']}")


def rounded(figures: Mapping[str, Any], digits: int = 4) -> dict[str, Any]:
    return {k: round(v, digits) if isinstance(v, float) else v for k, v in figures.items()}


def fit_share(title: str, track_words: Iterable[set[str]]) -> float:
    """Share of tracks (given by their facet words) that carry a content word of ``title``."""
    wanted = content_words(title)
    rows = list(track_words)
    return sum(bool(wanted & w) for w in rows) / len(rows) if rows else 0.0
