"""A synthetic demo collection in exactly the input contract of DESIGN section 1 (and of the real
collections under ``shared/data``): ``tracks.csv``, ``genre_tree.json``, ``scene_tree.json``, plus
``ground_truth.csv`` (the niche each track was generated from; never a pipeline input).

How it is made:

* **Niches.** Every scene leaf (a movement's era slice, e.g. "Berlin Minimal 2000-2008") gets one or
  two genre leaves the movement is known for; genre leaves no movement names get a niche in a scene
  of the same lineage. A niche is the true cluster of its tracks: its id is ``"<genre leaf id>__<scene
  leaf id>"``, the id phase 1 gives the matching seed cluster.
* **Tracks.** Each track comes from one niche: a year in the slice, the genre path broad to specific,
  scene tags (country; city; movement), descriptors from the niche's signature, lineage-typical BPM,
  key, energy and duration, an artist of the niche, a label of the movement. Then tagging noise, as
  real taggers leave it: genre tagged only at branch level, scene tagged only with a place, a
  reissue year outside the slice, the wrong scene, a second movement, no scene at all, or a genre
  from another lineage (a contradiction). Those are the tracks outside every seed cluster.
* **Trees** are built from the tracks' facets the way the real data's are: a node holds the tracks
  (of its parent) whose facets match its filters, so a parent holds the union of its children plus
  its direct tracks; nodes below ``MIN_NODE_TRACKS`` are dropped.

Everything is drawn from one ``numpy`` generator seeded by ``seed``, in a fixed order, so the same
``(n_tracks, seed)`` gives byte-identical files. ``energy`` is on the 1-10 scale (as DJ software
shows it); ``key`` uses musical names (``Am``, ``F#``).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from collection_tree import demo_vocab as vocab
from collection_tree import settings
from collection_tree.core.atomic import atomic_write_bytes
from collection_tree.core.inputs import collect_leaves
from collection_tree.phases.seed_clusters import SeedParams, build_seed_clusters

GENERATOR_VERSION = 1  # bump whenever the output for a given (n_tracks, seed) changes
CREATED_AT = "2026-11-24T00:00:00Z"  # fixed so rebuilds are byte-identical
REFERENCE_TRACKS = 6303  # the size the niche plan is tuned for (the first version's collection)
MIN_NODE_TRACKS = 8  # as the real data: smaller tree nodes are dropped
MIN_TRACKS = 50
FILES = {"tracks": "tracks.csv", "genre_tree": "genre_tree.json", "scene_tree": "scene_tree.json",
         "ground_truth": "ground_truth.csv"}
MANIFEST = "demo_manifest.json"
TRACK_COLUMNS = ("track_id", "title", "artist", "year", "comment", "genre", "scene_tags", "descriptors", "era",
                 "bpm", "key", "energy", "duration", "location", "label", "country")

# Niche plan: a second niche for some scene leaves; lognormal niche weights.
P_SECOND_NICHE = 0.3
SECOND_NICHE_WEIGHT = 0.55
COVER_NICHE_WEIGHT = 0.7
NICHE_SIGMA = 0.5
MOVEMENT_SIGMA = 0.4
FEATURED_WEIGHT = 2.0  # well-known scenes' main niches are never small (about twice the median)
# Tagging noise per track (must sum to 1): see the module docstring.
NOISE = {"clean": 0.535, "genre_branch": 0.14, "scene_place": 0.10, "year_drift": 0.06, "scene_swap": 0.07,
         "scene_extra": 0.04, "scene_empty": 0.04, "contradiction": 0.015}
NOISE_KINDS = tuple(NOISE)
P_ARTIST_FROM_NEIGHBOUR = 0.08  # artists mostly stay in one niche
P_NO_LABEL = 0.07
P_NO_DESCRIPTORS = 0.05


# ------------------------------------------------------------------------------------------ vocabulary
def slug(text: str) -> str:
    """Kebab-case ASCII id part: "R&B" -> "r-b", "Kankyō Ongaku" -> "kankyo-ongaku"."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower().replace("'", "")).strip("-")


@dataclass(frozen=True)
class _Genres:
    titles: tuple[str, ...]  # node index -> title
    ids: tuple[str, ...]
    parent: np.ndarray  # -1 for a root
    root: np.ndarray
    path: tuple[tuple[int, ...], ...]  # node indices, root first
    children: tuple[tuple[int, ...], ...]
    roots: tuple[int, ...]
    leaves: np.ndarray  # vocabulary leaves (niche genres)
    by_title: dict[str, int]


@dataclass(frozen=True)
class _Movement:
    title: str
    tag: int  # scene tag code of the movement
    city_tag: int | None
    country_tag: int | None
    country: str
    start: int
    end: int
    genres: tuple[int, ...]  # genre node indices
    leaves: tuple[int, ...]  # scene leaf positions


@dataclass(frozen=True)
class _Scenes:
    tags: tuple[str, ...]  # scene tag code -> text (countries, cities, movements)
    specs: tuple[dict[str, Any], ...]  # root node specs (title, id, filters, kind, children)
    movements: tuple[_Movement, ...]
    leaf_ids: tuple[str, ...]  # scene leaf position -> node id
    leaf_range: np.ndarray  # (leaves, 2) inclusive years
    leaf_movement: np.ndarray
    city_movements: dict[int, tuple[int, ...]]  # city tag -> movements there


def _check_unique(kind: str, values: Sequence[str]) -> None:
    seen: dict[str, str] = {}
    for value in values:
        key = value.casefold()
        if key in seen:
            raise ValueError(f"demo vocabulary: {kind} {value!r} is not unique (clashes with {seen[key]!r})")
        seen[key] = value


@lru_cache(maxsize=1)
def _genres() -> _Genres:
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
    _check_unique("genre title", titles)
    _check_unique("genre node id", ids)
    parents = np.array(parent, dtype=np.int64)
    paths: list[tuple[int, ...]] = []
    for node in range(len(titles)):
        up = parents[node]
        paths.append((*paths[up], node) if up >= 0 else (node,))
    root_of = np.array([p[0] for p in paths], dtype=np.int64)
    missing = [t for t in vocab.SOUND if t not in titles] + [t for t in vocab.BPM_OVERRIDES if t not in titles]
    if missing or any(titles[r] not in vocab.SOUND for r in roots):
        raise ValueError(f"demo vocabulary: sound settings and genre lineages disagree ({missing})")
    leaves = np.array([n for n in range(len(titles)) if not children[n] and parents[n] >= 0], dtype=np.int64)
    return _Genres(tuple(titles), tuple(ids), parents, root_of, tuple(paths), tuple(tuple(c) for c in children),
                   tuple(roots), leaves, {t: i for i, t in enumerate(titles)})


def era_slices(start: int, end: int) -> list[tuple[int, int]]:
    """A movement of ten years or more splits into slices of about five years."""
    span = end - start + 1
    count = 1 if span < 10 else round(span / 5)
    bounds = np.linspace(start, end + 1, count + 1).round().astype(int)
    return [(int(bounds[i]), int(bounds[i + 1]) - 1) for i in range(count)]


@lru_cache(maxsize=1)
def _scenes() -> _Scenes:
    genres = _genres()
    leaf_set = set(genres.leaves.tolist())
    tags: list[str] = []
    tag_code: dict[str, int] = {}

    def tag(text: str) -> int:
        if text not in tag_code:
            tag_code[text] = len(tags)
            tags.append(text)
        return tag_code[text]

    specs: list[dict[str, Any]] = []
    movements: list[_Movement] = []
    leaf_ids: list[str] = []
    leaf_range: list[tuple[int, int]] = []
    leaf_movement: list[int] = []
    city_movements: dict[int, list[int]] = {}
    for region, countries, cities in vocab.SCENE_REGIONS:
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
                movements.append(_Movement(
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
    all_ids = [s["id"] for s in _walk_specs(specs)]
    _check_unique("scene node id", all_ids)
    return _Scenes(tuple(tags), tuple(specs), tuple(movements), tuple(leaf_ids),
                   np.array(leaf_range, dtype=np.int64), np.array(leaf_movement, dtype=np.int64),
                   {k: tuple(v) for k, v in city_movements.items()})


def _walk_specs(specs: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for spec in specs:
        out.append(spec)
        out.extend(_walk_specs(spec["children"]))
    return out


def _genre_specs() -> list[dict[str, Any]]:
    genres = _genres()

    def spec(node: int) -> dict[str, Any]:
        kind = "root" if genres.parent[node] < 0 else "style"
        return {"title": genres.titles[node], "id": genres.ids[node], "kind": kind,
                "parent": genres.titles[genres.parent[node]] if kind == "style" else "",
                "filters": {"genre": [genres.titles[node]]}, "children": [spec(c) for c in genres.children[node]]}

    return [spec(r) for r in genres.roots]


# --------------------------------------------------------------------------------------------- niches
@dataclass(frozen=True)
class _Niches:
    genre: np.ndarray  # genre leaf node index
    scene: np.ndarray  # scene leaf position
    weight: np.ndarray


def _plan_niches(rng: np.random.Generator) -> _Niches:
    genres, scenes = _genres(), _scenes()
    uses = np.zeros(len(genres.titles), dtype=np.int64)
    g_list: list[int] = []
    s_list: list[int] = []
    w_list: list[float] = []
    # Some movements are far bigger than others (a heavy tail of leaf sizes, as in real collections).
    popularity = rng.lognormal(0.0, MOVEMENT_SIGMA, size=len(scenes.movements))
    for leaf in range(len(scenes.leaf_ids)):
        movement = scenes.movements[scenes.leaf_movement[leaf]]
        boost = float(popularity[scenes.leaf_movement[leaf]])
        wanted = 2 if rng.random() < P_SECOND_NICHE else 1
        # Least-used genres first, so the movements together cover the taxonomy; ties rotate by slice.
        offset = leaf - movement.leaves[0]
        candidates = sorted(range(len(movement.genres)),
                            key=lambda i, o=offset, m=movement: (uses[m.genres[i]], (i - o) % len(m.genres)))
        for rank, pick in enumerate(candidates[:wanted]):
            genre = movement.genres[pick]
            uses[genre] += 1
            g_list.append(genre)
            s_list.append(leaf)
            weight = boost * float(rng.lognormal(0.0, NICHE_SIGMA)) * (1.0 if rank == 0 else SECOND_NICHE_WEIGHT)
            if rank == 0 and movement.title in vocab.FEATURED_MOVEMENTS:
                weight = max(weight, FEATURED_WEIGHT)
            w_list.append(weight)
    # Genres no movement is known for: a niche in a scene whose movement plays the same lineage.
    root_leaves: dict[int, list[int]] = {}
    for leaf in range(len(scenes.leaf_ids)):
        for genre in scenes.movements[scenes.leaf_movement[leaf]].genres:
            root_leaves.setdefault(int(genres.root[genre]), []).append(leaf)
    for genre in genres.leaves.tolist():
        if uses[genre]:
            continue
        options = root_leaves.get(int(genres.root[genre])) or list(range(len(scenes.leaf_ids)))
        g_list.append(genre)
        s_list.append(options[int(rng.integers(len(options)))])
        w_list.append(float(rng.lognormal(0.0, NICHE_SIGMA)) * COVER_NICHE_WEIGHT)
    return _Niches(np.array(g_list, dtype=np.int64), np.array(s_list, dtype=np.int64), np.array(w_list))


def _allocate(weights: np.ndarray, n: int) -> np.ndarray:
    """Largest-remainder split of n tracks in proportion to the weights."""
    exact = weights / weights.sum() * n
    counts = np.floor(exact).astype(np.int64)
    short = n - int(counts.sum())
    if short:
        counts[np.argsort(-(exact - counts), kind="stable")[:short]] += 1
    return counts


# --------------------------------------------------------------------------------------------- names
def _plural(noun: str) -> str:
    if noun.endswith("y") and noun[-2:-1] not in "aeiou":
        return noun[:-1] + "ies"
    if noun.endswith(("s", "x", "ch", "sh")):
        return noun + "es"
    return noun + "s"


def _pick(rng: np.random.Generator, words: Sequence[str]) -> str:
    return words[int(rng.integers(len(words)))]


_ARTIST_FORMS = {"electronic": 7, "band": 5, "hiphop": 7, "jazz": 3, "soul": 4, "reggae": 6, "world": 4}
_ENSEMBLES = ("Quartet", "Trio", "Quintet", "Ensemble", "Orchestra")
_GROUPS = ("Sextet", "Collective", "Unit", "Big Band")
_BANDS = ("Orchestra", "Band", "Ensemble", "Group")


def _artist_name(u: np.ndarray, style: str) -> str:
    """One artist name from eight uniform draws (vectorised upstream: one row of draws per artist)."""
    def word(words: Sequence[str], j: int) -> str:
        return words[int(u[j] * len(words))]

    first, last, stage = word(vocab.FIRST_NAMES, 0), word(vocab.LAST_NAMES, 1), word(vocab.STAGE_WORDS, 2)
    adj, noun = word(vocab.ADJECTIVES, 3), word(vocab.NOUNS, 4)
    person = f"{first} {last}"
    form = int(u[7] * _ARTIST_FORMS[style])
    if style == "electronic":
        return (person, stage, f"DJ {first}", f"{stage} {noun}", f"{adj} {noun}",
                f"{stage} & {word(vocab.STAGE_WORDS, 5)}", f"{first} {stage}")[form]
    if style == "band":
        return (f"The {adj} {_plural(noun)}", f"{adj} {noun}", person, f"{noun} {word(vocab.NOUNS, 5)}", stage)[form]
    if style == "hiphop":
        return (f"MC {stage}", f"Lil {stage}", f"{adj} {noun}", person, f"{stage} Tha {noun}", stage,
                f"DJ {stage}")[form]
    if style == "jazz":
        return (person, f"{person} {word(_ENSEMBLES, 5)}", f"The {last} {word(_GROUPS, 6)}")[form]
    if style == "soul":
        return (person, f"{person} & The {_plural(noun)}", f"The {_plural(noun)}", f"The {adj} {_plural(noun)}")[form]
    if style == "reggae":
        return (f"{adj} {noun}", f"King {stage}", f"Prince {first}", person, f"The {_plural(noun)}",
                f"{stage} Sound System")[form]
    return (person, f"{last} {word(_BANDS, 5)}", f"{noun} {stage}", f"The {adj} {_plural(noun)}")[form]


def _unique_names(rng: np.random.Generator, styles: Sequence[str]) -> list[str]:
    draws = rng.random((len(styles), 8))
    names: list[str] = []
    seen: set[str] = set()
    for i, style in enumerate(styles):
        name = _artist_name(draws[i], style)
        attempt = 0
        while name.casefold() in seen:  # rare: redraw from the same stream, then number it
            attempt += 1
            name = _artist_name(rng.random(8), style) if attempt < 20 else f"{name} {attempt}"
        seen.add(name.casefold())
        names.append(name)
    return names


def _label_names(rng: np.random.Generator, count: int) -> list[str]:
    names: list[str] = []
    seen: set[str] = set()
    while len(names) < count:
        word = _pick(rng, vocab.STAGE_WORDS + vocab.NOUNS)
        form = int(rng.integers(3))
        name = (f"{word} {_pick(rng, vocab.LABEL_SUFFIXES)}" if form == 0 else
                f"{_pick(rng, vocab.ADJECTIVES)} {word} {_pick(rng, vocab.LABEL_SUFFIXES)}" if form == 1 else
                f"{word}{_pick(rng, vocab.NOUNS).lower()}")
        if name.casefold() not in seen:
            seen.add(name.casefold())
            names.append(name)
    return names


_TITLE_FORMS = ("{n1}", "{a} {n1}", "{n1} of {n2}", "{v} the {n1}", "{n1} {n2}", "The {a} {n1}", "{v}", "{n1} {num}",
                "{v} {a}")
_TITLE_WEIGHTS = (0.12, 0.27, 0.11, 0.10, 0.09, 0.10, 0.05, 0.06, 0.10)


def _titles(rng: np.random.Generator, n: int, mixes: np.ndarray) -> list[str]:
    """Track titles from word lists ("Velvet Circle", "Rivers of Light"); electronic lineages sometimes
    name the mix ("Engine (Dub)")."""
    adj = rng.integers(len(vocab.ADJECTIVES), size=n)
    noun = rng.integers(len(vocab.NOUNS), size=(n, 2))
    verb = rng.integers(len(vocab.VERBS), size=n)
    form = rng.choice(len(_TITLE_FORMS), size=n, p=_TITLE_WEIGHTS)
    number = rng.integers(2, 13, size=n)
    mix = np.where(mixes & (rng.random(n) < 0.22), rng.integers(len(vocab.MIXES), size=n), -1)
    out: list[str] = []
    for i in range(n):
        title = _TITLE_FORMS[form[i]].format(a=vocab.ADJECTIVES[adj[i]], n1=vocab.NOUNS[noun[i, 0]],
                                             n2=vocab.NOUNS[noun[i, 1]], v=vocab.VERBS[verb[i]], num=number[i])
        out.append(f"{title} ({vocab.MIXES[mix[i]]})" if mix[i] >= 0 else title)
    return out


_UNSAFE = re.compile(r'[<>:"/\\|?*\x00-\x1f]')


def safe_file_name(text: str) -> str:
    """A path part safe on common file systems (the real data's rule): reserved characters become
    ``_``, trailing dots and spaces go."""
    return _UNSAFE.sub("_", text).strip().rstrip(". ") or "_"


def era_phrase(year: int) -> str:
    decade = year // 10 * 10
    part = "early" if year % 10 <= 3 else "mid" if year % 10 <= 6 else "late"
    return f"{part} {decade}s"


# -------------------------------------------------------------------------------------------- tracks
@dataclass
class _Tracks:
    """Per-track arrays in final track order (track_id = position + 1)."""

    niche: np.ndarray
    year: np.ndarray
    genre_tags: list[tuple[int, ...]]  # genre node indices
    scene_tags: list[tuple[int, ...]]  # scene tag codes
    style: np.ndarray  # the most specific genre node (descriptions' "common styles")
    artist: np.ndarray  # artist code, codes in name order
    artist_names: list[str]
    columns: dict[str, list[Any]] = field(default_factory=dict)


def _make_tracks(rng: np.random.Generator, niches: _Niches, counts: np.ndarray) -> _Tracks:
    genres, scenes = _genres(), _scenes()
    n = int(counts.sum())
    k = len(counts)
    niche = np.repeat(np.arange(k, dtype=np.int64), counts)
    g_leaf = niches.genre[niche]
    s_leaf = niches.scene[niche]
    movement_of = scenes.leaf_movement
    kinds = rng.choice(len(NOISE_KINDS), size=n, p=np.array(list(NOISE.values())))
    kind = {name: kinds == i for i, name in enumerate(NOISE_KINDS)}

    # Years: inside the niche's slice; a drifted (reissue, compilation) year falls just outside it.
    lo, hi = scenes.leaf_range[s_leaf, 0], scenes.leaf_range[s_leaf, 1]
    year = lo + np.floor(rng.random(n) * (hi - lo + 1)).astype(np.int64)
    drift = rng.integers(1, 4, size=n)
    year = np.where(kind["year_drift"], np.where(rng.random(n) < 0.5, lo - drift, hi + drift), year)
    year = np.clip(year, 1945, 2024)

    # Genre: the leaf's path, or only its branch; a contradiction adds a leaf of another lineage.
    g_tag = np.where(kind["genre_branch"], genres.parent[g_leaf], g_leaf)
    other = genres.leaves[rng.integers(len(genres.leaves), size=n)]
    clash = kind["contradiction"] & (genres.root[other] != genres.root[g_leaf])
    genre_tags = [genres.path[g] for g in g_tag.tolist()]
    for i in np.flatnonzero(clash).tolist():
        genre_tags[i] = genre_tags[i] + tuple(x for x in genres.path[other[i]] if x not in genre_tags[i])

    # Scene tags: country; city; movement, or what the noise leaves of them.
    def full(m: int) -> tuple[int, ...]:
        mv = scenes.movements[m]
        return tuple(t for t in (mv.country_tag, mv.city_tag, mv.tag) if t is not None)

    full_tags = [full(m) for m in range(len(scenes.movements))]
    swap_to = movement_of[rng.integers(len(scenes.leaf_ids), size=n)]
    place_depth = rng.random(n) < 0.6
    extra_pick = rng.integers(1 << 30, size=n)
    scene_tags: list[tuple[int, ...]] = []
    movement = movement_of[s_leaf]
    kind_name = [NOISE_KINDS[x] for x in kinds.tolist()]
    for i in range(n):
        m = int(movement[i])
        what = kind_name[i]
        if what == "scene_empty":
            tags: tuple[int, ...] = ()
        elif what == "scene_place":
            mv = scenes.movements[m]
            place = (mv.country_tag, mv.city_tag) if place_depth[i] else (mv.country_tag,)
            tags = tuple(t for t in place if t is not None)
        elif what == "scene_swap":
            tags = full_tags[int(swap_to[i])]
        elif what == "scene_extra":
            mv = scenes.movements[m]
            nearby = [x for x in scenes.city_movements.get(mv.city_tag, ()) if x != m] if mv.city_tag else []
            pool = nearby or [x for x in range(len(scenes.movements)) if x != m]
            tags = (*full_tags[m], scenes.movements[pool[int(extra_pick[i]) % len(pool)]].tag)
        else:
            tags = full_tags[m]
        scene_tags.append(tags)

    # Sound: per-niche centres, per-track spread; a contradiction plays the other lineage's tempo.
    sounds = [vocab.SOUND[genres.titles[r]] for r in genres.root.tolist()]  # node -> its lineage's sound
    root = genres.root[g_leaf]
    leaf_bpm = np.array([_bpm_range(g) for g in range(len(genres.titles))], dtype=np.float64)
    bpm_lo, bpm_hi = leaf_bpm[g_leaf, 0], leaf_bpm[g_leaf, 1]
    centre = rng.random(k)
    bpm = bpm_lo + (bpm_hi - bpm_lo) * centre[niche] + rng.normal(0.0, 1.5, size=n)
    bpm = np.clip(bpm, bpm_lo, bpm_hi)
    clash_bpm = leaf_bpm[other, 0] + (leaf_bpm[other, 1] - leaf_bpm[other, 0]) * rng.random(n)
    bpm = np.round(np.where(clash, clash_bpm, bpm))
    no_bpm = np.array([s.no_bpm for s in sounds])
    bpm = np.where(rng.random(n) < no_bpm[g_leaf], np.nan, bpm)
    energy_range = np.array([s.energy for s in sounds], dtype=np.float64)
    e_centre = energy_range[g_leaf, 0] + (energy_range[g_leaf, 1] - energy_range[g_leaf, 0]) * centre[niche]
    energy = np.clip(np.round(e_centre + rng.normal(0.0, 0.8, size=n)), 1, 10).astype(np.int64)
    dur_range = np.array([s.duration for s in sounds], dtype=np.float64)
    duration = (dur_range[g_leaf, 0] + rng.random(n) * (dur_range[g_leaf, 1] - dur_range[g_leaf, 0])).astype(np.int64)
    key_note = rng.integers(len(vocab.KEYS), size=n)
    minor = rng.random(n) < 0.6

    # Descriptors: a signature per niche (two of its lineage, one shared), 1-3 per track, sometimes one more.
    root_of_niche = genres.root[niches.genre]
    signature = []
    for j in range(k):
        pool = sounds[root_of_niche[j]].descriptors
        first = rng.choice(len(pool), size=2, replace=False)
        shared = vocab.SHARED_DESCRIPTORS[int(rng.integers(len(vocab.SHARED_DESCRIPTORS)))]
        sig = [pool[first[0]], pool[first[1]]]
        signature.append(tuple(dict.fromkeys([*sig, shared])))
    how_many = rng.choice(3, size=n, p=[0.3, 0.45, 0.25]) + 1
    order = np.argsort(rng.random((n, 3)), axis=1)
    extra_desc = np.where(rng.random(n) < 0.12, rng.integers(1 << 30, size=n), -1)
    no_desc = rng.random(n) < P_NO_DESCRIPTORS

    # Artists: a pool per niche (size ~ tracks / 3), skewed so a few artists have many tracks; some
    # tracks borrow an artist of a neighbouring niche (same genre leaf, else same scene leaf).
    pool_size = np.maximum(1, np.ceil(counts / 3.0)).astype(np.int64)
    pool_start = np.concatenate(([0], np.cumsum(pool_size)[:-1]))
    neighbour = _neighbour_niches(niches, k)
    borrow = rng.random(n) < P_ARTIST_FROM_NEIGHBOUR
    source = np.where(borrow, neighbour[niche], niche)
    slot = np.floor(pool_size[source] * rng.random(n) ** 1.7).astype(np.int64)
    artist_raw = pool_start[source] + slot
    artist_niche = np.repeat(np.arange(k), pool_size)
    styles = [sounds[root_of_niche[j]].artist_style for j in artist_niche.tolist()]
    names = _unique_names(rng, styles)
    online_country = [vocab.ONLINE_COUNTRIES[int(x)]
                      for x in rng.integers(len(vocab.ONLINE_COUNTRIES), size=len(names))]
    artist_country = [scenes.movements[movement_of[niches.scene[j]]].country or online_country[a]
                      for a, j in enumerate(artist_niche.tolist())]

    # Labels: a few per movement.
    label_pool = _label_names(rng, 3 * len(scenes.movements))
    label_slot = np.floor(3 * rng.random(n) ** 1.5).astype(np.int64)
    label_idx = np.where(rng.random(n) < P_NO_LABEL, -1, movement * 3 + label_slot)

    titles = _titles(rng, n, np.array([sounds[r].mixes for r in root.tolist()]))
    extensions = rng.choice(3, size=n, p=[0.7, 0.25, 0.05])

    # Final order: by year, artist, title (as the real data), so ids do not reveal niches.
    order_ids = sorted(range(n), key=lambda i: (int(year[i]), names[artist_raw[i]].casefold(),
                                                 titles[i].casefold(), i))
    perm = np.array(order_ids, dtype=np.int64)
    name_order = sorted(range(len(names)), key=lambda a: (names[a].casefold(), a))
    rank = np.empty(len(names), dtype=np.int64)
    rank[name_order] = np.arange(len(names))

    def take(values: list[Any]) -> list[Any]:
        return [values[i] for i in order_ids]

    tracks = _Tracks(
        niche=niche[perm], year=year[perm], genre_tags=take(genre_tags), scene_tags=take(scene_tags),
        style=np.array([t[-1] for t in genre_tags], dtype=np.int64)[perm], artist=rank[artist_raw[perm]],
        artist_names=[names[a] for a in name_order],
    )
    desc_lists = []
    for i in order_ids:
        if no_desc[i]:
            desc_lists.append(())
            continue
        sig = signature[niche[i]]
        chosen = sorted(int(x) for x in order[i] if x < len(sig))[: how_many[i]]
        picked = [sig[x] for x in chosen]
        if extra_desc[i] >= 0:
            pool = sounds[root[i]].descriptors
            extra = pool[int(extra_desc[i]) % len(pool)]
            if extra not in picked:
                picked.append(extra)
        desc_lists.append(tuple(picked))
    _fill_columns(tracks, titles=take(titles), artist_raw=artist_raw[perm], names=names,
                  artist_country=artist_country, bpm=bpm[perm], key_note=key_note[perm], minor=minor[perm],
                  energy=energy[perm], duration=duration[perm], descriptors=desc_lists,
                  label=[label_pool[x] if x >= 0 else "" for x in label_idx[perm].tolist()],
                  extension=extensions[perm], clash=clash[perm])
    return tracks


def _bpm_range(node: int) -> tuple[int, int]:
    genres = _genres()
    title = genres.titles[node]
    if title in vocab.BPM_OVERRIDES:
        return vocab.BPM_OVERRIDES[title]
    return vocab.SOUND[genres.titles[genres.root[node]]].bpm


def _neighbour_niches(niches: _Niches, k: int) -> np.ndarray:
    """For each niche, another niche sharing its genre leaf (else its scene leaf, else itself)."""
    neighbour = np.arange(k, dtype=np.int64)
    for values in (niches.scene, niches.genre):  # genre last: it wins where both exist
        order = np.lexsort((np.arange(k), values))
        same_next = np.r_[values[order][1:] == values[order][:-1], False]
        same_prev = np.r_[False, values[order][1:] == values[order][:-1]]
        nxt = np.r_[order[1:], order[:1]]
        prv = np.r_[order[-1:], order[:-1]]
        neighbour[order[same_next]] = nxt[same_next]
        only_prev = same_prev & ~same_next
        neighbour[order[only_prev]] = prv[only_prev]
    return neighbour


def _fill_columns(tracks: _Tracks, *, titles: list[str], artist_raw: np.ndarray, names: list[str],
                  artist_country: list[str], bpm: np.ndarray, key_note: np.ndarray, minor: np.ndarray,
                  energy: np.ndarray, duration: np.ndarray, descriptors: list[tuple[str, ...]], label: list[str],
                  extension: np.ndarray, clash: np.ndarray) -> None:
    genres, scenes = _genres(), _scenes()
    n = len(titles)
    artists = [names[a] for a in artist_raw.tolist()]
    genre_lists = [[genres.titles[g] for g in tags] for tags in tracks.genre_tags]
    scene_lists = [[scenes.tags[t] for t in tags] for tags in tracks.scene_tags]
    country_tags = set()
    for _region, countries, _cities in vocab.SCENE_REGIONS:
        country_tags.update(countries)
    years = tracks.year.tolist()
    # A contradiction may also carry an era phrase a decade off (a tagger's slip).
    eras = [era_phrase(y + (10 if c and y % 2 else 0)) for y, c in zip(years, clash.tolist(), strict=True)]
    keys = [f"{vocab.KEYS[k]}{'m' if m else ''}" for k, m in zip(key_note.tolist(), minor.tolist(), strict=True)]
    bpm_text = ["" if np.isnan(b) else str(int(b)) for b in bpm.tolist()]
    # The release country is the artist's home; a track with no scene tags has no place info at all.
    countries = [artist_country[a] if tags else "" for a, tags in zip(artist_raw.tolist(), scene_lists, strict=True)]
    comments = []
    for i in range(n):
        parts = [f"Genre: {' / '.join(genre_lists[i])}"]
        if scene_lists[i]:
            shown = [t for t in scene_lists[i] if t not in country_tags] or scene_lists[i][:1]
            parts.append(f"Scene: {' / '.join(shown)}")
        if descriptors[i]:
            parts.append(f"Descriptors: {', '.join(descriptors[i])}")
        parts.append(f"Era: {eras[i]} ({years[i]})")
        parts.append(f"{bpm_text[i]} BPM {keys[i]}" if bpm_text[i] else keys[i])
        comments.append(" | ".join(parts))
    ext = ("flac", "mp3", "aiff")
    locations = []
    seen: set[str] = set()
    for i in range(n):
        base = f"Music/{safe_file_name(artists[i])}/{safe_file_name(titles[i])}"
        path, copy = f"{base}.{ext[extension[i]]}", 1
        while path.casefold() in seen:
            copy += 1
            path = f"{base} ({copy}).{ext[extension[i]]}"
        seen.add(path.casefold())
        locations.append(path)
    tracks.columns = {
        "track_id": list(range(1, n + 1)), "title": titles, "artist": artists, "year": years, "comment": comments,
        "genre": genre_lists, "scene_tags": scene_lists, "descriptors": [list(d) for d in descriptors], "era": eras,
        "bpm": bpm_text, "key": keys, "energy": energy.tolist(), "duration": duration.tolist(),
        "location": locations, "label": label, "country": countries,
    }


# --------------------------------------------------------------------------------------------- trees
class _Index:
    """Which tracks carry each tag code: rows grouped by code, so a filter's mask is a few slices."""

    def __init__(self, tag_lists: list[tuple[int, ...]], n_codes: int, n: int):
        lengths = np.fromiter((len(t) for t in tag_lists), dtype=np.int64, count=n)
        rows = np.repeat(np.arange(n, dtype=np.int64), lengths)
        codes = np.fromiter((c for t in tag_lists for c in t), dtype=np.int64, count=int(lengths.sum()))
        order = np.argsort(codes, kind="stable")
        self.rows, self.codes = rows[order], codes[order]
        self.bounds = np.searchsorted(self.codes, np.arange(n_codes + 1))
        self.n = n

    def mask(self, codes: Sequence[int]) -> np.ndarray:
        out = np.zeros(self.n, dtype=bool)
        for code in codes:
            out[self.rows[self.bounds[code]:self.bounds[code + 1]]] = True
        return out


def _build_tree(tree_type: str, specs: Sequence[dict[str, Any]], facet: str, index: _Index,
                code_of: dict[str, int], tracks: _Tracks, min_size: int) -> dict[str, Any]:
    genres = _genres()
    years = tracks.year
    n = len(years)

    def matches(filters: dict[str, Any]) -> np.ndarray:
        mask = index.mask([code_of[v] for v in filters[facet]])
        if "year_range" in filters:
            lo, hi = filters["year_range"]
            mask &= (years >= lo) & (years <= hi)
        return mask

    def describe(spec: dict[str, Any], rows: np.ndarray, kept_children: int) -> str:
        artists = tracks.artist[rows]
        counts = np.bincount(artists)
        top = np.argsort(-counts, kind="stable")[:3]
        top_names = ", ".join(tracks.artist_names[a] for a in top.tolist() if counts[a])
        yr = years[rows]
        most = int(np.argmax(np.bincount(yr - yr.min())) + yr.min())
        styles = np.bincount(tracks.style[rows], minlength=len(genres.titles))
        if spec["title"] in genres.by_title:  # a genre node's own title is no news
            styles[genres.by_title[spec["title"]]] = 0
        common = [genres.titles[s] for s in np.argsort(-styles, kind="stable")[:3].tolist() if styles[s]]
        figures = (f"{len(rows):,} tracks by {len(np.unique(artists)):,} artists, released {yr.min()}-{yr.max()} "
                   f"(most in {most}). Top artists: {top_names}")
        kind = spec["kind"]
        if kind == "root":
            return f"{spec['title']} lineage with {kept_children} style branches: {figures}; common styles: " \
                   f"{', '.join(common)}."
        if kind == "style":
            return f"{spec['title']}, under {spec['parent']}: {figures}."
        if kind == "region":
            return f"{spec['title']}, by city and movement: {figures}; common styles: {', '.join(common)}."
        if kind == "city":
            return f"The {spec['title']} scene: {figures}; common styles: {', '.join(common)}."
        if kind == "movement":
            return f"{spec['title']}, by era: {figures}; common styles: {', '.join(common)}."
        return f"{spec['title']}: {figures}; common styles: {', '.join(common)}."

    def build(spec: dict[str, Any], parent_mask: np.ndarray) -> dict[str, Any] | None:
        mask = parent_mask & matches(spec["filters"])
        rows = np.flatnonzero(mask)
        if len(rows) < min_size:
            return None
        children = [c for c in (build(child, mask) for child in spec["children"]) if c is not None]
        return {"id": spec["id"], "title": spec["title"], "description": describe(spec, rows, len(children)),
                "filters": spec["filters"], "track_ids": (rows + 1).tolist(), "children": children}

    everything = np.ones(n, dtype=bool)
    lineages = [node for node in (build(spec, everything) for spec in specs) if node is not None]
    if not lineages:
        raise ValueError(f"demo collection: the {tree_type} tree came out empty; use more tracks")
    digest = hashlib.sha256(json.dumps(lineages, sort_keys=True, ensure_ascii=False,
                                       separators=(",", ":")).encode("utf-8")).hexdigest()
    return {"id": f"{tree_type}-{digest[:8]}", "tree_type": tree_type, "created_at": CREATED_AT, "lineages": lineages}


# ------------------------------------------------------------------------------------------ serialise
def _json_value(value: Any, level: int) -> str:
    """The real data's layout: one-space indent, lists of scalars on one line, ``[]`` for a leaf."""
    pad = " " * (level + 1)
    if isinstance(value, dict):
        if not value:
            return "{}"
        items = [f"{pad}{json.dumps(k, ensure_ascii=False)}: {_json_value(v, level + 1)}" for k, v in value.items()]
        return "{\n" + ",\n".join(items) + "\n" + " " * level + "}"
    if isinstance(value, list):
        if not value:
            return "[]"
        if isinstance(value[0], dict):
            return "[\n" + ",\n".join(pad + _json_value(v, level + 1) for v in value) + "\n" + " " * level + "]"
        if all(type(v) is int for v in value):  # track ids: the bulk of the file, so no json.dumps per id
            return "[" + ", ".join(map(str, value)) + "]"
        return json.dumps(value, ensure_ascii=False)
    return json.dumps(value, ensure_ascii=False)


def tree_json(doc: dict[str, Any]) -> bytes:
    return (_json_value(doc, 0) + "\n").encode("utf-8")


def _csv_bytes(header: Sequence[str], rows: Any) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8")


# ---------------------------------------------------------------------------------------------- API
@dataclass(frozen=True)
class DemoCollection:
    """A generated collection: the tracks (as ``load_tracks`` returns them), both trees, the ground
    truth, and the exact bytes of every file ``write_demo_collection`` writes."""

    n_tracks: int
    seed: int
    tracks: pd.DataFrame
    genre_tree: dict[str, Any]
    scene_tree: dict[str, Any]
    ground_truth: pd.DataFrame
    files: dict[str, bytes]  # file name -> content


def generate_demo_collection(n_tracks: int = settings.DEMO_TRACKS, seed: int = settings.DEMO_SEED) -> DemoCollection:
    """Generate the demo collection in memory (pure and deterministic in ``(n_tracks, seed)``)."""
    if isinstance(n_tracks, bool) or not isinstance(n_tracks, int) or n_tracks < MIN_TRACKS:
        raise ValueError(f"n_tracks must be an integer >= {MIN_TRACKS}, got {n_tracks!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    genres, scenes = _genres(), _scenes()
    rng = np.random.default_rng(seed)
    niches = _plan_niches(rng)
    if n_tracks < REFERENCE_TRACKS:
        # A smaller collection covers fewer niches, not thinner ones: keep each niche's size realistic.
        wanted = max(4, round(len(niches.weight) * n_tracks / REFERENCE_TRACKS))
        keep = np.sort(rng.choice(len(niches.weight), size=wanted, replace=False,
                                  p=niches.weight / niches.weight.sum()))
        niches = _Niches(niches.genre[keep], niches.scene[keep], niches.weight[keep])
    counts = _allocate(niches.weight, n_tracks)
    tracks = _make_tracks(rng, niches, counts)
    # Below 2,000 tracks the threshold shrinks with the collection so a small demo still has leaves.
    min_size = max(2, min(MIN_NODE_TRACKS, n_tracks // 250))
    genre_tree = _build_tree("genre", _genre_specs(), "genre", _Index(tracks.genre_tags, len(genres.titles),
                             n_tracks), genres.by_title, tracks, min_size)
    scene_codes = {t: i for i, t in enumerate(scenes.tags)}
    scene_tree = _build_tree("scene", scenes.specs, "scene_tags", _Index(tracks.scene_tags, len(scenes.tags),
                             n_tracks), scene_codes, tracks, min_size)

    niche_ids = [f"{genres.ids[g]}__{scenes.leaf_ids[s]}" for g, s in zip(niches.genre, niches.scene, strict=True)]
    per_track = tracks.niche.tolist()
    truth_columns = {
        "track_id": list(range(1, n_tracks + 1)),
        "niche_id": [niche_ids[j] for j in per_track],
        "genre_leaf_id": [genres.ids[niches.genre[j]] for j in per_track],
        "scene_leaf_id": [scenes.leaf_ids[niches.scene[j]] for j in per_track],
    }
    cols = tracks.columns
    as_text = {c: ["; ".join(v) for v in cols[c]] for c in ("genre", "scene_tags", "descriptors")}
    table = [cols[c] if c not in as_text else as_text[c] for c in TRACK_COLUMNS]
    files = {
        FILES["tracks"]: _csv_bytes(TRACK_COLUMNS, zip(*table, strict=True)),
        FILES["genre_tree"]: tree_json(genre_tree),
        FILES["scene_tree"]: tree_json(scene_tree),
        FILES["ground_truth"]: _csv_bytes(list(truth_columns), zip(*truth_columns.values(), strict=True)),
    }
    frame = pd.DataFrame({c: cols[c] for c in TRACK_COLUMNS})
    frame["year"] = frame["year"].astype("Int64")
    for column in ("bpm", "energy", "duration"):
        frame[column] = pd.to_numeric(frame[column].replace("", np.nan)).astype("float64")
    return DemoCollection(n_tracks, seed, frame, genre_tree, scene_tree, pd.DataFrame(truth_columns), files)


def _manifest(collection: DemoCollection) -> dict[str, Any]:
    return {"generator": "collection_tree.demo", "version": GENERATOR_VERSION, "n_tracks": collection.n_tracks,
            "seed": collection.seed,
            "files": {name: {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
                      for name, data in collection.files.items()}}


def save_demo_collection(collection: DemoCollection, out_dir: str | Path) -> dict[str, Path]:
    """Write the files atomically; the manifest goes last, so a half-written folder never looks complete."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / MANIFEST).unlink(missing_ok=True)
    paths = {key: atomic_write_bytes(out / name, collection.files[name]) for key, name in FILES.items()}
    paths["manifest"] = atomic_write_bytes(out / MANIFEST, (json.dumps(_manifest(collection), indent=1) + "\n")
                                           .encode("utf-8"))
    return paths


def write_demo_collection(out_dir: str | Path, n_tracks: int = settings.DEMO_TRACKS,
                          seed: int = settings.DEMO_SEED) -> dict[str, Path]:
    """Generate and write ``tracks.csv``, ``genre_tree.json``, ``scene_tree.json``, ``ground_truth.csv``
    and the manifest into ``out_dir``; returns their paths by key."""
    return save_demo_collection(generate_demo_collection(n_tracks, seed), out_dir)


def is_complete(out_dir: str | Path, n_tracks: int = settings.DEMO_TRACKS, seed: int = settings.DEMO_SEED) -> bool:
    """Whether ``out_dir`` holds this generator version's collection for (n_tracks, seed), every file intact."""
    out = Path(out_dir)
    try:
        manifest = json.loads((out / MANIFEST).read_text(encoding="utf-8"))
        if (manifest.get("version"), manifest.get("n_tracks"), manifest.get("seed")) != (
                GENERATOR_VERSION, n_tracks, seed):
            return False
        for name in FILES.values():
            expected = manifest["files"][name]
            data = (out / name).read_bytes()
            if len(data) != expected["bytes"] or hashlib.sha256(data).hexdigest() != expected["sha256"]:
                return False
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return False
    return True


def input_paths(folder: Path) -> dict[str, Path]:
    """The three input files (``tracks``, ``genre_tree``, ``scene_tree``) of the demo collection in ``folder``."""
    return {name: Path(folder) / FILES[name] for name in settings.INPUTS}


def ensure_demo_collection(out_dir: Path, n_tracks: int = settings.DEMO_TRACKS,
                           seed: int = settings.DEMO_SEED) -> Path:
    """``out_dir`` holding a complete demo collection: reused when intact, else (re)generated.

    Concurrent callers (several assets resolving the inputs at once) need no lock: each file is
    replaced atomically and the output is deterministic, so they all write the same bytes."""
    out = Path(out_dir)
    if not is_complete(out, n_tracks, seed):
        write_demo_collection(out, n_tracks, seed)
    return out


def collection_stats(collection: DemoCollection, min_tracks: int = SeedParams.min_tracks) -> dict[str, int]:
    """The figures the demo is tuned for: leaves per tree, seed clusters (phase 1) and tracks in none."""
    seeds = build_seed_clusters(collection.genre_tree, collection.scene_tree, min_tracks)
    in_seed = {int(t) for ids in seeds["track_ids"].tolist() for t in ids}
    return {
        "tracks": collection.n_tracks,
        "genre_leaves": len(collect_leaves(collection.genre_tree)),
        "scene_leaves": len(collect_leaves(collection.scene_tree)),
        "seed_clusters": len(seeds),
        "tracks_in_no_seed": collection.n_tracks - len(in_seed),
        "artists": int(collection.tracks["artist"].nunique()),
        "niches": int(collection.ground_truth["niche_id"].nunique()),
    }
