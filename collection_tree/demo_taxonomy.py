"""The demo collection's vocabulary as structures (genre taxonomy, scenes, name words), growing with
the collection's size like a real catalogue's.

Up to ``REFERENCE_TRACKS`` the vocabulary is exactly ``demo_vocab``'s (about 300 genre leaves and 340
scene leaves). Above it, scene leaves grow as ``N ** SCENE_GROWTH`` and genre leaves as
``N ** GENRE_GROWTH`` (a taxonomy saturates faster than places and eras do), drawing on
``demo_vocab_scale``: real sub-genres, then qualified ones ("Melodic Dub Techno"), new lineages (Folk,
Country, Blues, Metal), and new scenes: "<city> <genre>" movements in cities of every region, each with
an era of the genre's time, split into era slices like the base movements. The additions come from a
fixed sequence drawn with its own seed (``VOCAB_SEED``), so the vocabulary is a function of N alone and
a larger collection's vocabulary contains every smaller one's.
"""

from __future__ import annotations

import re
import unicodedata
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from collection_tree import demo_vocab as vocab
from collection_tree import demo_vocab_scale as scale

REFERENCE_TRACKS = 6303  # the size the base vocabulary is tuned for (the first version's collection)
SCENE_GROWTH = 0.9  # scene leaves ~ N^0.9 above the reference size: about 20-30 tracks per seed cluster
GENRE_GROWTH = 0.4  # genre leaves ~ N^0.4 (genius-2000s: 255 leaves at 6.3K, 404 at 30K)
VOCAB_SEED = 20261124  # the additions' own random stream, independent of the collection's seed
LATEST_YEAR = 2024
EARLIEST_YEAR = 1945
P_NEW_GENRE = 0.5  # share of new movements that take the oldest genre no movement plays yet
MOVEMENT_YEARS = (4, 16)  # a new movement lasts 4-16 years: 1-3 era slices
SECOND_GENRES = (0.35, 0.45, 0.2)  # P(0, 1, 2 related genres beside the movement's own)
QUALIFIED_SHIFT = 5  # a qualified sub-genre starts a few years after the genre it qualifies
MAX_DRAWS_PER_LEAF = 20  # a guard: growth that keeps drawing taken titles means the word lists ran out


def slug(text: str) -> str:
    """Kebab-case ASCII id part: "R&B" -> "r-b", "Kankyō Ongaku" -> "kankyo-ongaku"."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower().replace("'", "")).strip("-")


def era_slices(start: int, end: int) -> list[tuple[int, int]]:
    """A movement of ten years or more splits into slices of about five years."""
    span = end - start + 1
    count = 1 if span < 10 else round(span / 5)
    bounds = np.linspace(start, end + 1, count + 1).round().astype(int)
    return [(int(bounds[i]), int(bounds[i + 1]) - 1) for i in range(count)]


def _check_unique(kind: str, values: Sequence[str]) -> None:
    seen: dict[str, str] = {}
    for value in values:
        key = value.casefold()
        if key in seen:
            raise ValueError(f"demo vocabulary: {kind} {value!r} is not unique (clashes with {seen[key]!r})")
        seen[key] = value


# ------------------------------------------------------------------------------------------ genres
@dataclass(frozen=True, eq=False)  # compared and hashed by identity: built once per vocabulary (cached)
class Genres:
    titles: tuple[str, ...]  # node index -> title
    ids: tuple[str, ...]
    parent: np.ndarray  # -1 for a root
    root: np.ndarray
    path: tuple[tuple[int, ...], ...]  # node indices, root first
    children: tuple[tuple[int, ...], ...]
    roots: tuple[int, ...]
    leaves: np.ndarray  # vocabulary leaves (niche genres)
    by_title: dict[str, int]
    sound: tuple[vocab.Sound, ...]  # node -> its lineage's sound
    bpm: np.ndarray  # (nodes, 2) tempo range


@dataclass(frozen=True)
class _NewGenre:
    root: str
    branch: str | None  # None: straight under the root
    title: str
    like: str | None  # the known leaf it qualifies (tempo and era), None for a named sub-genre


def _sounds() -> dict[str, vocab.Sound]:
    return {**vocab.SOUND, **scale.EXTRA_SOUND}


@lru_cache(maxsize=1)
def _genre_additions() -> tuple[_NewGenre, ...]:
    """Every genre leaf the vocabulary can grow by, in the order it grows: named sub-genres first, then
    qualified ones, each group in a fixed shuffled order so that any prefix spreads over the lineages."""
    rng = np.random.default_rng(VOCAB_SEED)
    named = [_NewGenre(root, branch, title, None) for root, branch, titles in scale.EXTRA_GENRES for title in titles]
    named = [named[i] for i in rng.permutation(len(named))]
    base = _build_genres(())
    taken = {t.casefold() for t in base.titles} | {g.title.casefold() for g in named}
    sounds = _sounds()
    places = {w.casefold() for _r, countries, cities in vocab.SCENE_REGIONS for w in countries}
    places |= {c.casefold() for _r, _countries, cities in vocab.SCENE_REGIONS for c, _k, _m in cities if c}
    places |= {w.casefold() for c in _cities() for w in (c.name, c.country)}
    qualified: list[_NewGenre] = []
    for leaf in base.leaves.tolist():
        title, up = base.titles[leaf], int(base.parent[leaf])
        if title in scale.PLACE_BOUND_GENRES or any(place in title.casefold() for place in places):
            continue
        root = base.titles[int(base.root[leaf])]
        branch = None if up == int(base.root[leaf]) else base.titles[up]
        for qualifier in scale.GENRE_QUALIFIERS[sounds[root].artist_style]:
            word = qualifier.rstrip("-")
            if word.casefold() in title.casefold():
                continue
            new = f"{qualifier}{title}" if qualifier.endswith("-") else f"{qualifier} {title}"
            if new.casefold() not in taken:
                taken.add(new.casefold())
                qualified.append(_NewGenre(root, branch, new, title))
    qualified = [qualified[i] for i in rng.permutation(len(qualified))]
    return (*named, *qualified)


@lru_cache(maxsize=4)
def _build_genres(additions: tuple[_NewGenre, ...]) -> Genres:
    titles: list[str] = []
    ids: list[str] = []
    parent: list[int] = []
    children: list[list[int]] = []

    def add(title: str, node_id: str, up: int) -> int:
        titles.append(title)
        ids.append(node_id)
        parent.append(up)
        children.append([])
        if up >= 0:
            children[up].append(len(titles) - 1)
        return len(titles) - 1

    roots = []
    for root_title, branches, flat in vocab.GENRE_LINEAGES:
        root = add(root_title, slug(root_title), -1)
        roots.append(root)
        for branch_title, leaf_titles in (*branches, *((title, ()) for title in flat)):
            branch = add(branch_title, f"{slug(root_title)}-{slug(branch_title)}", root)
            for leaf_title in leaf_titles:
                add(leaf_title, f"{slug(root_title)}-{slug(leaf_title)}", branch)
    base_nodes = len(titles)
    node_of = {t: i for i, t in enumerate(titles)}
    for new in additions:
        if new.root not in node_of:
            node_of[new.root] = add(new.root, slug(new.root), -1)
            roots.append(node_of[new.root])
        up = node_of[new.root]
        if new.branch is not None:
            if new.branch not in node_of:
                node_of[new.branch] = add(new.branch, f"{slug(new.root)}-{slug(new.branch)}", up)
            up = node_of[new.branch]
            if up < base_nodes and not children[up]:
                raise ValueError(f"demo vocabulary: {new.title!r} would turn the leaf {new.branch!r} into a branch")
        node_of[new.title] = add(new.title, f"{slug(new.root)}-{slug(new.title)}", up)
    _check_unique("genre title", titles)
    _check_unique("genre node id", ids)
    parents = np.array(parent, dtype=np.int64)
    paths: list[tuple[int, ...]] = []
    for node in range(len(titles)):
        up = parents[node]
        paths.append((*paths[up], node) if up >= 0 else (node,))
    root_of = np.array([p[0] for p in paths], dtype=np.int64)
    sounds = _sounds()
    overrides = {**vocab.BPM_OVERRIDES, **scale.EXTRA_BPM_OVERRIDES}
    missing = [t for t in vocab.SOUND if t not in titles] + [t for t in vocab.BPM_OVERRIDES if t not in titles]
    if missing or any(titles[r] not in sounds for r in roots):
        raise ValueError(f"demo vocabulary: sound settings and genre lineages disagree ({missing})")
    like = {new.title: new.like for new in additions if new.like}
    bpm = np.array([overrides.get(t) or overrides.get(like.get(t, "")) or sounds[titles[root_of[i]]].bpm
                    for i, t in enumerate(titles)], dtype=np.float64)
    leaves = np.array([n for n in range(len(titles)) if not children[n] and parents[n] >= 0], dtype=np.int64)
    return Genres(tuple(titles), tuple(ids), parents, root_of, tuple(paths), tuple(tuple(c) for c in children),
                  tuple(roots), leaves, {t: i for i, t in enumerate(titles)},
                  tuple(sounds[titles[r]] for r in root_of.tolist()), bpm)


# ------------------------------------------------------------------------------------------ scenes
@dataclass(frozen=True)
class Movement:
    title: str
    tag: int  # scene tag code of the movement
    city_tag: int | None
    country_tag: int | None
    country: str
    start: int
    end: int
    genres: tuple[int, ...]  # genre node indices
    leaves: tuple[int, ...]  # scene leaf positions


@dataclass(frozen=True, eq=False)
class Scenes:
    tags: tuple[str, ...]  # scene tag code -> text (countries, cities, movements)
    specs: tuple[dict[str, Any], ...]  # root node specs (title, id, filters, kind, children)
    movements: tuple[Movement, ...]
    leaf_ids: tuple[str, ...]  # scene leaf position -> node id
    leaf_range: np.ndarray  # (leaves, 2) inclusive years
    leaf_movement: np.ndarray
    city_movements: dict[int, tuple[int, ...]]  # city tag -> movements there
    countries: frozenset[str]  # the scene tags that name a country


@dataclass(frozen=True)
class _NewMovement:
    region: str
    city: str
    country: str
    title: str
    start: int
    end: int
    genres: tuple[str, ...]  # genre titles, the movement's own first


@dataclass(frozen=True)
class _City:
    region: str
    name: str
    country: str
    weight: float
    lineages: frozenset[str] | None  # None: every lineage


def _cities() -> list[_City]:
    """Every city new movements may go to: the base vocabulary's, then ``EXTRA_CITIES``'."""
    lineages = {region: frozenset(roots) for region, roots in scale.REGION_LINEAGES.items()}
    out: list[_City] = []
    for region, _countries, cities in vocab.SCENE_REGIONS:
        for city, country, _moves in cities:
            if city is not None:
                weight = scale.MAJOR_CITY_WEIGHT if city in scale.MAJOR_CITIES else scale.BASE_CITY_WEIGHT
                out.append(_City(region, city, country or "", weight, lineages.get(region)))
    for region, _countries, cities in scale.EXTRA_CITIES:
        for city, country in cities:
            weight = scale.MAJOR_CITY_WEIGHT if city in scale.MAJOR_CITIES else scale.CITY_WEIGHT
            out.append(_City(region, city, country, weight, lineages.get(region)))
    _check_unique("city", [c.name for c in out])
    return out


def _genre_eras(genres: Genres, additions: Sequence[_NewGenre]) -> dict[str, tuple[int, int]]:
    """The years each genre leaf was alive: from the base movements that play it, else its lineage's
    (qualified sub-genres: the genre they qualify, a few years later)."""
    eras: dict[str, tuple[int, int]] = {}
    by_root: dict[str, tuple[int, int]] = {}
    for _region, _countries, cities in vocab.SCENE_REGIONS:
        for _city, _country, moves in cities:
            for _title, start, end, genre_titles in moves:
                for title in genre_titles:
                    lo, hi = eras.get(title, (start, end))
                    eras[title] = (min(lo, start), max(hi, end))
                    root = genres.titles[genres.root[genres.by_title[title]]]
                    lo, hi = by_root.get(root, (start, end))
                    by_root[root] = (min(lo, start), max(hi, end))
    for leaf in genres.leaves.tolist():
        title = genres.titles[leaf]
        eras.setdefault(title, by_root.get(genres.titles[genres.root[leaf]], (1960, LATEST_YEAR)))
    for new in additions:
        if new.like:
            lo, hi = eras[new.like]
            eras[new.title] = (min(lo + QUALIFIED_SHIFT, LATEST_YEAR - 4), min(max(hi + QUALIFIED_SHIFT, lo + 15),
                                                                               LATEST_YEAR))
        else:
            eras.setdefault(new.title, by_root.get(new.root, (1960, LATEST_YEAR)))
    return eras


@lru_cache(maxsize=4)
def _movement_additions(extra_leaves: int) -> tuple[tuple[_NewMovement, ...], int]:
    """The new movements, in the order the vocabulary grows by them, until they hold ``extra_leaves``
    scene leaves; also how many genre additions the last of them could draw on. Movement j may only use
    the genres the vocabulary has at the size where it is added, so every prefix is self-contained."""
    if extra_leaves <= 0:
        return (), 0
    rng = np.random.default_rng(VOCAB_SEED + 1)
    additions = _genre_additions()
    full = _build_genres(additions)
    base = _build_genres(())
    eras = _genre_eras(full, additions)
    cities = _cities()
    weights = np.array([c.weight for c in cities], dtype=np.float64)
    compatible: dict[str, np.ndarray] = {}  # lineage -> indices of the cities playing it
    for root in full.roots:
        title = full.titles[root]
        compatible[title] = np.array([i for i, c in enumerate(cities) if c.lineages is None or title in c.lineages])
    taken_titles = {t.casefold() for t in _base_scene_tags()} | {c.name.casefold() for c in cities}
    taken_titles |= {country.casefold() for _r, countries, _c in scale.EXTRA_CITIES for country in countries}
    taken_ids = {slug(t) for t in taken_titles}
    base_leaves = [base.titles[g] for g in base.leaves.tolist()]
    played = {g for _r, _cs, cs in vocab.SCENE_REGIONS for _c, _k, moves in cs for m in moves for g in m[3]}
    unused = deque(t for t in base_leaves if t not in played)
    available = list(base_leaves)
    available_set = set(available)
    siblings = {full.titles[p]: [full.titles[c] for c in full.children[p] if not full.children[c]]
                for p in range(len(full.titles)) if full.children[p]}
    out: list[_NewMovement] = []
    leaves = 0
    genre_count = 0
    draws = 0
    while leaves < extra_leaves:
        draws += 1
        if draws > MAX_DRAWS_PER_LEAF * extra_leaves:
            raise ValueError(f"demo vocabulary: cannot grow by {extra_leaves:,} scene leaves (saturated after "
                             f"{leaves:,}); add cities or genres to demo_vocab_scale")
        wanted = extra_genres_for(base_scene_leaves() + leaves)
        if wanted > genre_count:
            fresh = [g.title for g in additions[genre_count:min(wanted, len(additions))]]
            available.extend(fresh)
            available_set.update(fresh)
            unused.extend(fresh)
            genre_count = min(wanted, len(additions))
        if unused and rng.random() < P_NEW_GENRE:
            genre = unused.popleft()
        else:
            genre = available[int(rng.integers(len(available)))]
        node = full.by_title[genre]
        root = full.titles[full.root[node]]
        options = compatible[root]
        p = weights[options] / weights[options].sum()
        placed = None
        for _attempt in range(5):
            city = cities[int(options[rng.choice(len(options), p=p)])]
            title = f"{city.name} {genre}"
            if title.casefold() not in taken_titles and slug(title) not in taken_ids:
                placed = city, title
                break
        if placed is None:
            continue
        city, title = placed
        lo, hi = eras[genre]
        start = int(lo + rng.integers(max(1, hi - lo - 2)))
        length = int(rng.integers(MOVEMENT_YEARS[0], MOVEMENT_YEARS[1] + 1))
        start = max(EARLIEST_YEAR, min(start, LATEST_YEAR - MOVEMENT_YEARS[0] + 1))
        end = min(start + length - 1, LATEST_YEAR)
        related = [g for g in siblings[full.titles[full.parent[node]]] if g != genre and g in available_set]
        count = min(len(related), int(rng.choice(3, p=SECOND_GENRES)))
        picks = [related[i] for i in sorted(rng.choice(len(related), size=count, replace=False).tolist())] \
            if count else []
        slices = era_slices(start, end)
        ids = [slug(title)] + [slug(f"{title} {a}-{b}") for a, b in slices]
        if any(i in taken_ids for i in ids):
            continue
        taken_titles.add(title.casefold())
        taken_ids.update(ids)
        out.append(_NewMovement(city.region, city.name, city.country, title, start, end, (genre, *picks)))
        leaves += len(slices)
    return tuple(out), genre_count


@lru_cache(maxsize=1)
def _base_scene_tags() -> tuple[str, ...]:
    return _build_scenes(_build_genres(()), ()).tags


@lru_cache(maxsize=4)
def _build_scenes(genres: Genres, additions: tuple[_NewMovement, ...]) -> Scenes:
    leaf_set = set(genres.leaves.tolist())
    tags: list[str] = []
    tag_code: dict[str, int] = {}

    def tag(text: str) -> int:
        if text not in tag_code:
            tag_code[text] = len(tags)
            tags.append(text)
        return tag_code[text]

    # Regions and cities in order: the base vocabulary's, then the new ones; new movements after a
    # city's own.
    new_by_city: dict[str, list[_NewMovement]] = {}
    for move in additions:
        new_by_city.setdefault(move.city, []).append(move)
    regions: dict[str, tuple[list[str], list[tuple[str | None, str | None, list[vocab.Movement]]]]] = {}
    for region, countries, cities in vocab.SCENE_REGIONS:
        regions[region] = (list(countries), [(city, country, list(moves)) for city, country, moves in cities])
    for region, _countries, cities in scale.EXTRA_CITIES:
        countries_now, cities_now = regions.setdefault(region, ([], []))
        known = {c for c, _k, _m in cities_now}
        for city, country in cities:
            if city in new_by_city and city not in known:
                cities_now.append((city, country, []))
                if country not in countries_now:
                    countries_now.append(country)
    for _countries, cities_now in regions.values():
        for city, _country, moves in cities_now:
            moves.extend((m.title, m.start, m.end, m.genres) for m in new_by_city.get(city or "", ()))

    specs: list[dict[str, Any]] = []
    movements: list[Movement] = []
    leaf_ids: list[str] = []
    leaf_range: list[tuple[int, int]] = []
    leaf_movement: list[int] = []
    city_movements: dict[int, list[int]] = {}
    all_countries: set[str] = set()
    for region, (countries, cities) in regions.items():
        if not cities:
            continue
        all_countries.update(countries)
        region_children: list[dict[str, Any]] = []
        region_tags: list[str] = list(countries)
        for city, country, city_moves in cities:
            city_tag = tag(city) if city else None
            country_tag = tag(country) if country else None
            move_specs: list[dict[str, Any]] = []
            for title, start, end, genre_titles in city_moves:
                unknown = [g for g in genre_titles if genres.by_title.get(g) not in leaf_set]
                if unknown:
                    raise ValueError(f"demo vocabulary: movement {title!r} names non-leaf genres {unknown}")
                slices = era_slices(start, end)
                first_leaf = len(leaf_ids)
                leaf_specs = []
                for lo, hi in slices:
                    leaf_title = f"{title} {lo}-{hi}"
                    leaf_ids.append(slug(leaf_title))
                    leaf_range.append((lo, hi))
                    leaf_movement.append(len(movements))
                    leaf_specs.append({"title": leaf_title, "id": slug(leaf_title), "kind": "slice",
                                       "filters": {"scene_tags": [title], "year_range": [lo, hi]}, "children": []})
                if len(leaf_specs) == 1:
                    move_specs.append(leaf_specs[0])
                else:
                    move_specs.append({"title": title, "id": slug(title), "kind": "movement",
                                       "filters": {"scene_tags": [title]}, "children": leaf_specs})
                movements.append(Movement(
                    title, tag(title), city_tag, country_tag, country or "", start, end,
                    tuple(genres.by_title[g] for g in genre_titles), tuple(range(first_leaf, len(leaf_ids)))))
                if city_tag is not None:
                    city_movements.setdefault(city_tag, []).append(len(movements) - 1)
                else:
                    region_tags.append(title)
            if city is None:
                region_children.extend(move_specs)
            else:
                region_children.append({"title": city, "id": slug(city), "kind": "city",
                                        "filters": {"scene_tags": [city]}, "children": move_specs})
        for country in countries:
            tag(country)
        specs.append({"title": region, "id": slug(region), "kind": "region", "filters": {"scene_tags": region_tags},
                      "children": region_children})
    _check_unique("scene tag", tags)
    _check_unique("scene node id", [s["id"] for s in walk_specs(specs)])
    return Scenes(tuple(tags), tuple(specs), tuple(movements), tuple(leaf_ids),
                  np.array(leaf_range, dtype=np.int64), np.array(leaf_movement, dtype=np.int64),
                  {k: tuple(v) for k, v in city_movements.items()}, frozenset(all_countries))


def walk_specs(specs: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for spec in specs:
        out.append(spec)
        out.extend(walk_specs(spec["children"]))
    return out


# ------------------------------------------------------------------------------------------ growth
@lru_cache(maxsize=1)
def base_scene_leaves() -> int:
    return len(_build_scenes(_build_genres(()), ()).leaf_ids)


@lru_cache(maxsize=1)
def base_genre_leaves() -> int:
    return len(_build_genres(()).leaves)


def scene_leaf_target(n_tracks: int) -> int:
    """Scene leaves the vocabulary has for a collection of ``n_tracks`` (the base count up to the reference)."""
    if n_tracks <= REFERENCE_TRACKS:
        return base_scene_leaves()
    return round(base_scene_leaves() * (n_tracks / REFERENCE_TRACKS) ** SCENE_GROWTH)


def extra_genres_for(scene_leaves: int) -> int:
    """Genre leaves added when the vocabulary has ``scene_leaves`` scene leaves (both grow with N)."""
    ratio = max(scene_leaves / base_scene_leaves(), 1.0)
    return max(0, round(base_genre_leaves() * (ratio ** (GENRE_GROWTH / SCENE_GROWTH) - 1)))


@dataclass(frozen=True)
class Words:
    """Word lists for artist and label names: the base lists, extended for a grown vocabulary."""

    first_names: tuple[str, ...]
    last_names: tuple[str, ...]
    stage_words: tuple[str, ...]
    adjectives: tuple[str, ...]
    nouns: tuple[str, ...]


BASE_WORDS = Words(vocab.FIRST_NAMES, vocab.LAST_NAMES, vocab.STAGE_WORDS, vocab.ADJECTIVES, vocab.NOUNS)


def _extended_words() -> Words:
    def more(base: tuple[str, ...], extra: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(dict.fromkeys((*base, *extra)))

    return Words(more(vocab.FIRST_NAMES, scale.EXTRA_FIRST_NAMES), more(vocab.LAST_NAMES, scale.EXTRA_LAST_NAMES),
                 more(vocab.STAGE_WORDS, scale.EXTRA_STAGE_WORDS), more(vocab.ADJECTIVES, scale.EXTRA_ADJECTIVES),
                 more(vocab.NOUNS, scale.EXTRA_NOUNS))


@dataclass(frozen=True)
class Vocabulary:
    genres: Genres
    scenes: Scenes
    words: Words
    grown: bool  # above the base vocabulary (N > REFERENCE_TRACKS)


@lru_cache(maxsize=4)
def _vocabulary(extra_leaves: int) -> Vocabulary:
    movements, genre_count = _movement_additions(extra_leaves)
    genres = _build_genres(_genre_additions()[:genre_count])
    scenes = _build_scenes(genres, movements)
    grown = extra_leaves > 0
    return Vocabulary(genres, scenes, _extended_words() if grown else BASE_WORDS, grown)


def vocabulary(n_tracks: int) -> Vocabulary:
    """The vocabulary of a collection of ``n_tracks`` tracks: the base one up to ``REFERENCE_TRACKS``."""
    return _vocabulary(scene_leaf_target(n_tracks) - base_scene_leaves())
