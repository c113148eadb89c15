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

* **Scale.** The vocabulary (``demo_taxonomy``) grows with the collection: up to 6,303 tracks it is the
  base one; above, more sub-genres, cities, scenes, eras and labels, so the number of niches (and of
  seed clusters) grows about as N^0.9 and a seed cluster holds 20-30 tracks at every size. Per-track
  work is vectorised or a single pass, and trees are built from each node's rows (not one mask per
  node), so a million tracks take tens of seconds.

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
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from itertools import islice
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from collection_tree import demo_vocab as vocab
from collection_tree import settings
from collection_tree.core.arrays import sorted_unique
from collection_tree.core.atomic import atomic_write_bytes
from collection_tree.core.inputs import collect_leaves, split_facet
from collection_tree.demo_taxonomy import (  # noqa: F401 (slug, era_slices: part of this module's interface)
    REFERENCE_TRACKS,
    Genres,
    Vocabulary,
    Words,
    era_slices,
    slug,
    vocabulary,
)
from collection_tree.phases.seed_clusters import SeedParams, build_seed_clusters

# 2: the vocabulary grows above the reference size (collections up to it are byte-identical to 1's).
GENERATOR_VERSION = 2  # bump whenever the output for a given (n_tracks, seed) changes
CREATED_AT = "2026-11-24T00:00:00Z"  # fixed so rebuilds are byte-identical
MIN_NODE_TRACKS = 8  # as the real data: smaller tree nodes are dropped
MIN_TRACKS = 50
FILES = {"tracks": "tracks.csv", "genre_tree": "genre_tree.json", "scene_tree": "scene_tree.json",
         "ground_truth": "ground_truth.csv"}
MANIFEST = "demo_manifest.json"
TRACK_COLUMNS = ("track_id", "title", "artist", "year", "comment", "genre", "scene_tags", "descriptors", "era",
                 "bpm", "key", "energy", "duration", "location", "label", "country")
TRUTH_COLUMNS = ("track_id", "niche_id", "genre_leaf_id", "scene_leaf_id")

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
TRACKS_PER_ARTIST = 3.0  # artist pool of a niche: its tracks / this (at the reference size)
ARTIST_GROWTH = 0.15  # a larger catalogue holds more of each artist's tracks: x N^0.15 above the reference


def _genre_specs(genres: Genres) -> list[dict[str, Any]]:
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


def _plan_niches(rng: np.random.Generator, voc: Vocabulary) -> _Niches:
    genres, scenes = voc.genres, voc.scenes
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


def _artist_name(u: np.ndarray, style: str, words: Words) -> str:
    """One artist name from eight uniform draws (vectorised upstream: one row of draws per artist)."""
    def word(pool: Sequence[str], j: int) -> str:
        return pool[int(u[j] * len(pool))]

    first, last, stage = word(words.first_names, 0), word(words.last_names, 1), word(words.stage_words, 2)
    adj, noun = word(words.adjectives, 3), word(words.nouns, 4)
    person = f"{first} {last}"
    form = int(u[7] * _ARTIST_FORMS[style])
    if style == "electronic":
        return (person, stage, f"DJ {first}", f"{stage} {noun}", f"{adj} {noun}",
                f"{stage} & {word(words.stage_words, 5)}", f"{first} {stage}")[form]
    if style == "band":
        return (f"The {adj} {_plural(noun)}", f"{adj} {noun}", person, f"{noun} {word(words.nouns, 5)}", stage)[form]
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


def _unique_names(rng: np.random.Generator, styles: Sequence[str], words: Words) -> list[str]:
    draws = rng.random((len(styles), 8))
    names: list[str] = []
    seen: set[str] = set()
    for i, style in enumerate(styles):
        name = _artist_name(draws[i], style, words)
        attempt = 0
        while name.casefold() in seen:  # rare: redraw from the same stream, then number it
            attempt += 1
            name = _artist_name(rng.random(8), style, words) if attempt < 20 else f"{name} {attempt}"
        seen.add(name.casefold())
        names.append(name)
    return names


def _label_names(rng: np.random.Generator, count: int, words: Words) -> list[str]:
    names: list[str] = []
    seen: set[str] = set()
    pool = words.stage_words + words.nouns
    while len(names) < count:
        word = _pick(rng, pool)
        form = int(rng.integers(3))
        name = (f"{word} {_pick(rng, vocab.LABEL_SUFFIXES)}" if form == 0 else
                f"{_pick(rng, words.adjectives)} {word} {_pick(rng, vocab.LABEL_SUFFIXES)}" if form == 1 else
                f"{word}{_pick(rng, words.nouns).lower()}")
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
    adj = rng.integers(len(vocab.ADJECTIVES), size=n).tolist()
    noun = rng.integers(len(vocab.NOUNS), size=(n, 2))
    noun1, noun2 = noun[:, 0].tolist(), noun[:, 1].tolist()
    verb = rng.integers(len(vocab.VERBS), size=n).tolist()
    form = rng.choice(len(_TITLE_FORMS), size=n, p=_TITLE_WEIGHTS).tolist()
    number = rng.integers(2, 13, size=n).tolist()
    mix = np.where(mixes & (rng.random(n) < 0.22), rng.integers(len(vocab.MIXES), size=n), -1).tolist()
    a, ns, v, mixes_text = vocab.ADJECTIVES, vocab.NOUNS, vocab.VERBS, vocab.MIXES
    out: list[str] = []
    for i in range(n):
        title = _TITLE_FORMS[form[i]].format(a=a[adj[i]], n1=ns[noun1[i]], n2=ns[noun2[i]], v=v[verb[i]],
                                             num=number[i])
        out.append(f"{title} ({mixes_text[mix[i]]})" if mix[i] >= 0 else title)
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


def _scene_tags(voc: Vocabulary, movement: np.ndarray, kind: dict[str, np.ndarray], swap_to: np.ndarray,
                place_depth: np.ndarray, extra_pick: np.ndarray) -> list[tuple[int, ...]]:
    """Scene tags per track: country; city; movement, or what the noise leaves of them."""
    scenes = voc.scenes
    moves = scenes.movements

    def tags(*codes: int | None) -> tuple[int, ...]:
        return tuple(t for t in codes if t is not None)

    full_tags = [tags(mv.country_tag, mv.city_tag, mv.tag) for mv in moves]
    out = [full_tags[m] for m in movement.tolist()]
    for i in np.flatnonzero(kind["scene_empty"]).tolist():
        out[i] = ()
    for i in np.flatnonzero(kind["scene_place"]).tolist():
        mv = moves[movement[i]]
        out[i] = tags(mv.country_tag, mv.city_tag) if place_depth[i] else tags(mv.country_tag)
    for i in np.flatnonzero(kind["scene_swap"]).tolist():
        out[i] = full_tags[int(swap_to[i])]
    # A second movement: another of the same city, else any other movement.
    # (Tag code 0, the first city, falls to "any other movement" as in generator version 1, so collections
    # up to the reference size stay byte-identical.)
    nearby = [tuple(x for x in scenes.city_movements.get(mv.city_tag, ()) if x != m) if mv.city_tag else ()
              for m, mv in enumerate(moves)]
    for i in np.flatnonzero(kind["scene_extra"]).tolist():
        m = int(movement[i])
        if nearby[m]:
            other = nearby[m][int(extra_pick[i]) % len(nearby[m])]
        else:  # the j-th of all movements but m
            j = int(extra_pick[i]) % (len(moves) - 1)
            other = j + (j >= m)
        out[i] = (*full_tags[m], moves[other].tag)
    return out


def _make_tracks(rng: np.random.Generator, niches: _Niches, counts: np.ndarray, voc: Vocabulary) -> _Tracks:
    genres, scenes = voc.genres, voc.scenes
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

    swap_to = movement_of[rng.integers(len(scenes.leaf_ids), size=n)]
    place_depth = rng.random(n) < 0.6
    extra_pick = rng.integers(1 << 30, size=n)
    movement = movement_of[s_leaf]
    scene_tags = _scene_tags(voc, movement, kind, swap_to, place_depth, extra_pick)

    # Sound: per-niche centres, per-track spread; a contradiction plays the other lineage's tempo.
    sounds = genres.sound
    root = genres.root[g_leaf]
    leaf_bpm = genres.bpm
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

    # Descriptors: a signature per niche (two of its lineage, one shared), the first 1-3 of it per track,
    # sometimes one more of the lineage.
    root_of_niche = genres.root[niches.genre]
    signature = []
    for j in range(k):
        pool = sounds[root_of_niche[j]].descriptors
        first = rng.choice(len(pool), size=2, replace=False)
        shared = vocab.SHARED_DESCRIPTORS[int(rng.integers(len(vocab.SHARED_DESCRIPTORS)))]
        sig = [pool[first[0]], pool[first[1]]]
        signature.append(tuple(dict.fromkeys([*sig, shared])))
    how_many = rng.choice(3, size=n, p=[0.3, 0.45, 0.25]) + 1
    rng.random((n, 3))  # drawn for a per-track order of the signature; taking its first entries needs none
    extra_desc = np.where(rng.random(n) < 0.12, rng.integers(1 << 30, size=n), -1)
    no_desc = rng.random(n) < P_NO_DESCRIPTORS

    # Artists: a pool per niche (size ~ tracks / 3, more tracks per artist in a larger catalogue), skewed
    # so a few artists have many tracks; some tracks borrow an artist of a neighbouring niche (same genre
    # leaf, else same scene leaf).
    per_artist = TRACKS_PER_ARTIST * max(1.0, n / REFERENCE_TRACKS) ** ARTIST_GROWTH
    pool_size = np.maximum(1, np.ceil(counts / per_artist)).astype(np.int64)
    pool_start = np.concatenate(([0], np.cumsum(pool_size)[:-1]))
    neighbour = _neighbour_niches(niches, k)
    borrow = rng.random(n) < P_ARTIST_FROM_NEIGHBOUR
    source = np.where(borrow, neighbour[niche], niche)
    slot = np.floor(pool_size[source] * rng.random(n) ** 1.7).astype(np.int64)
    artist_raw = pool_start[source] + slot
    artist_niche = np.repeat(np.arange(k), pool_size)
    styles = [sounds[root_of_niche[j]].artist_style for j in artist_niche.tolist()]
    names = _unique_names(rng, styles, voc.words)
    online_country = [vocab.ONLINE_COUNTRIES[int(x)]
                      for x in rng.integers(len(vocab.ONLINE_COUNTRIES), size=len(names))]
    artist_country = [scenes.movements[movement_of[niches.scene[j]]].country or online_country[a]
                      for a, j in enumerate(artist_niche.tolist())]

    # Labels: a few per movement.
    label_pool = _label_names(rng, 3 * len(scenes.movements), voc.words)
    label_slot = np.floor(3 * rng.random(n) ** 1.5).astype(np.int64)
    label_idx = np.where(rng.random(n) < P_NO_LABEL, -1, movement * 3 + label_slot)

    titles = _titles(rng, n, np.array([s.mixes for s in sounds])[root])
    extensions = rng.choice(3, size=n, p=[0.7, 0.25, 0.05])

    # Final order: by year, artist, title (as the real data), so ids do not reveal niches. Names are
    # unique case-insensitively, so an artist's rank by name orders as its name does.
    name_order = sorted(range(len(names)), key=lambda a: (names[a].casefold(), a))
    rank = np.empty(len(names), dtype=np.int64)
    rank[name_order] = np.arange(len(names))
    _, title_rank = np.unique(np.array([t.casefold() for t in titles]), return_inverse=True)
    perm = np.lexsort((np.arange(n), title_rank.reshape(-1), rank[artist_raw], year))
    order_ids = perm.tolist()

    def take(values: list[Any]) -> list[Any]:
        return [values[i] for i in order_ids]

    tracks = _Tracks(
        niche=niche[perm], year=year[perm], genre_tags=take(genre_tags), scene_tags=take(scene_tags),
        style=np.array([t[-1] for t in genre_tags], dtype=np.int64)[perm], artist=rank[artist_raw[perm]],
        artist_names=[names[a] for a in name_order],
    )
    desc_lists = []
    niche_of, how, extra_of, none_of = niche.tolist(), how_many.tolist(), extra_desc.tolist(), no_desc.tolist()
    root_list = root.tolist()
    for i in order_ids:
        if none_of[i]:
            desc_lists.append(())
            continue
        picked = signature[niche_of[i]][: how[i]]
        if extra_of[i] >= 0:
            pool = sounds[root_list[i]].descriptors
            extra = pool[extra_of[i] % len(pool)]
            if extra not in picked:
                picked = (*picked, extra)
        desc_lists.append(picked)
    _fill_columns(tracks, voc, titles=take(titles), artist_raw=artist_raw[perm], names=names,
                  artist_country=artist_country, bpm=bpm[perm], key_note=key_note[perm], minor=minor[perm],
                  energy=energy[perm], duration=duration[perm], descriptors=desc_lists,
                  label=[label_pool[x] if x >= 0 else "" for x in label_idx[perm].tolist()],
                  extension=extensions[perm], clash=clash[perm])
    return tracks


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


def _joined(tag_lists: list[tuple[int, ...]], words: Sequence[str], sep: str) -> list[str]:
    """Each tuple of codes as its words joined by ``sep``, joining every distinct tuple once."""
    memo: dict[tuple[int, ...], str] = {}
    out = []
    for tags in tag_lists:
        text = memo.get(tags)
        if text is None:
            text = memo[tags] = sep.join(words[t] for t in tags)
        out.append(text)
    return out


def _fill_columns(tracks: _Tracks, voc: Vocabulary, *, titles: list[str], artist_raw: np.ndarray, names: list[str],
                  artist_country: list[str], bpm: np.ndarray, key_note: np.ndarray, minor: np.ndarray,
                  energy: np.ndarray, duration: np.ndarray, descriptors: list[tuple[str, ...]], label: list[str],
                  extension: np.ndarray, clash: np.ndarray) -> None:
    genres, scenes = voc.genres, voc.scenes
    n = len(titles)
    raw = artist_raw.tolist()
    artists = [names[a] for a in raw]
    genre_text = _joined(tracks.genre_tags, genres.titles, "; ")
    genre_comment = _joined(tracks.genre_tags, genres.titles, " / ")
    scene_text = _joined(tracks.scene_tags, scenes.tags, "; ")
    # The comment names the places below the country (just the country when that is all there is).
    country_codes = {i for i, t in enumerate(scenes.tags) if t in scenes.countries}
    shown = {tags: tuple(t for t in tags if t not in country_codes) or tags[:1] for tags in set(tracks.scene_tags)}
    scene_comment = _joined([shown[tags] for tags in tracks.scene_tags], scenes.tags, " / ")
    years = tracks.year.tolist()
    # A contradiction may also carry an era phrase a decade off (a tagger's slip).
    shifted = tracks.year + np.where(clash & (tracks.year % 2 == 1), 10, 0)
    first_year = int(shifted.min())
    era_of = [era_phrase(y) for y in range(first_year, int(shifted.max()) + 1)]
    eras = [era_of[y - first_year] for y in shifted.tolist()]
    key_names = [f"{name}{suffix}" for name in vocab.KEYS for suffix in ("", "m")]
    keys = [key_names[x] for x in (key_note * 2 + minor).tolist()]
    bpm_text = ["" if b != b else str(int(b)) for b in bpm.tolist()]
    # The release country is the artist's home; a track with no scene tags has no place info at all.
    countries = [artist_country[a] if tags else "" for a, tags in zip(raw, tracks.scene_tags, strict=True)]
    comments = []
    for i in range(n):
        parts = [f"Genre: {genre_comment[i]}"]
        if scene_comment[i]:
            parts.append(f"Scene: {scene_comment[i]}")
        if descriptors[i]:
            parts.append(f"Descriptors: {', '.join(descriptors[i])}")
        parts.append(f"Era: {eras[i]} ({years[i]})")
        parts.append(f"{bpm_text[i]} BPM {keys[i]}" if bpm_text[i] else keys[i])
        comments.append(" | ".join(parts))
    ext = ("flac", "mp3", "aiff")
    safe: dict[str, str] = {}

    def safe_name(text: str) -> str:
        out = safe.get(text)
        if out is None:
            out = safe[text] = safe_file_name(text)
        return out

    locations = []
    seen: set[str] = set()
    for artist, title, e in zip(artists, titles, extension.tolist(), strict=True):
        base = f"Music/{safe_name(artist)}/{safe_name(title)}"
        path, copy = f"{base}.{ext[e]}", 1
        while path.casefold() in seen:
            copy += 1
            path = f"{base} ({copy}).{ext[e]}"
        seen.add(path.casefold())
        locations.append(path)
    tracks.columns = {
        "track_id": list(range(1, n + 1)), "title": titles, "artist": artists, "year": years, "comment": comments,
        "genre": genre_text, "scene_tags": scene_text, "descriptors": ["; ".join(d) for d in descriptors],
        "era": eras, "bpm": bpm_text, "key": keys, "energy": energy.tolist(), "duration": duration.tolist(),
        "location": locations, "label": label, "country": countries,
    }


# --------------------------------------------------------------------------------------------- trees
class _Index:
    """Which tracks carry each tag code: rows grouped by code (ascending within a code)."""

    def __init__(self, tag_lists: list[tuple[int, ...]], n_codes: int, n: int):
        lengths = np.fromiter((len(t) for t in tag_lists), dtype=np.int64, count=n)
        rows = np.repeat(np.arange(n, dtype=np.int64), lengths)
        codes = np.fromiter((c for t in tag_lists for c in t), dtype=np.int64, count=int(lengths.sum()))
        order = np.argsort(codes, kind="stable")
        self.rows, self.codes = rows[order], codes[order]
        self.bounds = np.searchsorted(self.codes, np.arange(n_codes + 1))
        self.n = n

    def rows_of(self, codes: Sequence[int]) -> np.ndarray:
        """The sorted rows carrying any of the codes."""
        parts = [self.rows[self.bounds[code]:self.bounds[code + 1]] for code in codes]
        if len(parts) == 1:
            return parts[0]
        return sorted_unique(np.concatenate(parts)) if parts else np.empty(0, dtype=np.int64)


def _top(values: np.ndarray, drop: int | None = None, count: int = 3) -> list[int]:
    """The ``count`` most frequent values, ties to the smallest (``drop`` never counts)."""
    uniques, counts = np.unique(values, return_counts=True)
    if drop is not None:
        counts[uniques == drop] = 0
    top = np.argsort(-counts, kind="stable")[:count]
    return [int(uniques[j]) for j in top.tolist() if counts[j]]


def _build_tree(tree_type: str, specs: Sequence[dict[str, Any]], facet: str, index: _Index,
                code_of: dict[str, int], tracks: _Tracks, min_size: int, genres: Genres) -> dict[str, Any]:
    """Each node holds the tracks of its parent that match its filters; work grows with the nodes'
    sizes, not with nodes x tracks."""
    years = tracks.year

    def describe(spec: dict[str, Any], rows: np.ndarray, kept_children: int) -> str:
        artists = tracks.artist[rows]
        top_names = ", ".join(tracks.artist_names[a] for a in _top(artists))
        yr = years[rows]
        most = int(np.argmax(np.bincount(yr - yr.min())) + yr.min())
        own = genres.by_title.get(spec["title"])  # a genre node's own title is no news
        common = [genres.titles[s] for s in _top(tracks.style[rows], drop=own)]
        figures = (f"{len(rows):,} tracks by {len(pd.unique(artists)):,} artists, released {yr.min()}-{yr.max()} "
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

    def build(spec: dict[str, Any], parent_rows: np.ndarray | None) -> dict[str, Any] | None:
        filters = spec["filters"]
        rows = index.rows_of([code_of[v] for v in filters[facet]])
        if parent_rows is not None:
            rows = np.intersect1d(parent_rows, rows, assume_unique=True)
        if "year_range" in filters:
            lo, hi = filters["year_range"]
            rows = rows[(years[rows] >= lo) & (years[rows] <= hi)]
        if len(rows) < min_size:
            return None
        children = [c for c in (build(child, rows) for child in spec["children"]) if c is not None]
        return {"id": spec["id"], "title": spec["title"], "description": describe(spec, rows, len(children)),
                "filters": filters, "track_ids": (rows + 1).tolist(), "children": children}

    lineages = [node for node in (build(spec, None) for spec in specs) if node is not None]
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


CSV_CHUNK_ROWS = 50_000  # rows encoded at a time, so a million-track file never sits in memory as text too


def _csv_bytes(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> bytes:
    chunks: list[bytes] = []
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    rows = iter(rows)
    while True:
        batch = list(islice(rows, CSV_CHUNK_ROWS))
        writer.writerows(batch)
        chunks.append(buffer.getvalue().encode("utf-8"))
        buffer.seek(0)
        buffer.truncate()
        if len(batch) < CSV_CHUNK_ROWS:
            return b"".join(chunks)


# ---------------------------------------------------------------------------------------------- API
@dataclass(frozen=True)
class DemoCollection:
    """A generated collection: both trees, the exact bytes of every file ``write_demo_collection``
    writes, and figures; the tracks (as ``load_tracks`` returns them) and the ground truth are read
    from those bytes on first use."""

    n_tracks: int
    seed: int
    genre_tree: dict[str, Any]
    scene_tree: dict[str, Any]
    files: dict[str, bytes]  # file name -> content
    artists: int
    niches: int

    @cached_property
    def tracks(self) -> pd.DataFrame:
        frame = pd.read_csv(io.BytesIO(self.files[FILES["tracks"]]), dtype=str, keep_default_na=False)
        frame["track_id"] = frame["track_id"].astype("int64")
        frame["year"] = pd.to_numeric(frame["year"]).astype("Int64")
        for column in ("genre", "scene_tags", "descriptors"):
            frame[column] = [split_facet(v) for v in frame[column].tolist()]
        for column in ("bpm", "energy", "duration"):
            frame[column] = pd.to_numeric(frame[column].replace("", np.nan)).astype("float64")
        return frame

    @cached_property
    def ground_truth(self) -> pd.DataFrame:
        frame = pd.read_csv(io.BytesIO(self.files[FILES["ground_truth"]]), dtype=str, keep_default_na=False)
        frame["track_id"] = frame["track_id"].astype("int64")
        return frame


def generate_demo_collection(n_tracks: int = settings.DEMO_TRACKS, seed: int = settings.DEMO_SEED) -> DemoCollection:
    """Generate the demo collection in memory (pure and deterministic in ``(n_tracks, seed)``)."""
    if isinstance(n_tracks, bool) or not isinstance(n_tracks, int) or n_tracks < MIN_TRACKS:
        raise ValueError(f"n_tracks must be an integer >= {MIN_TRACKS}, got {n_tracks!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    voc = vocabulary(n_tracks)
    genres, scenes = voc.genres, voc.scenes
    rng = np.random.default_rng(seed)
    niches = _plan_niches(rng, voc)
    if n_tracks < REFERENCE_TRACKS:
        # A smaller collection covers fewer niches, not thinner ones: keep each niche's size realistic.
        wanted = max(4, round(len(niches.weight) * n_tracks / REFERENCE_TRACKS))
        keep = np.sort(rng.choice(len(niches.weight), size=wanted, replace=False,
                                  p=niches.weight / niches.weight.sum()))
        niches = _Niches(niches.genre[keep], niches.scene[keep], niches.weight[keep])
    counts = _allocate(niches.weight, n_tracks)
    tracks = _make_tracks(rng, niches, counts, voc)
    # Below 2,000 tracks the threshold shrinks with the collection so a small demo still has leaves.
    min_size = max(2, min(MIN_NODE_TRACKS, n_tracks // 250))
    genre_tree = _build_tree("genre", _genre_specs(genres), "genre", _Index(tracks.genre_tags, len(genres.titles),
                             n_tracks), genres.by_title, tracks, min_size, genres)
    scene_codes = {t: i for i, t in enumerate(scenes.tags)}
    scene_tree = _build_tree("scene", scenes.specs, "scene_tags", _Index(tracks.scene_tags, len(scenes.tags),
                             n_tracks), scene_codes, tracks, min_size, genres)

    niche_ids = [f"{genres.ids[g]}__{scenes.leaf_ids[s]}" for g, s in zip(niches.genre, niches.scene, strict=True)]
    genre_ids = [genres.ids[g] for g in niches.genre.tolist()]
    scene_ids = [scenes.leaf_ids[s] for s in niches.scene.tolist()]
    per_track = tracks.niche.tolist()
    truth_rows = ((i, niche_ids[j], genre_ids[j], scene_ids[j]) for i, j in enumerate(per_track, start=1))
    cols = tracks.columns
    files = {
        FILES["tracks"]: _csv_bytes(TRACK_COLUMNS, zip(*(cols[c] for c in TRACK_COLUMNS), strict=True)),
        FILES["genre_tree"]: tree_json(genre_tree),
        FILES["scene_tree"]: tree_json(scene_tree),
        FILES["ground_truth"]: _csv_bytes(TRUTH_COLUMNS, truth_rows),
    }
    artists = len(pd.unique(tracks.artist))
    niches_used = len({niche_ids[j] for j in sorted_unique(tracks.niche).tolist()})
    return DemoCollection(n_tracks, seed, genre_tree, scene_tree, files, artists, niches_used)


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


def resolved_inputs(given: dict[str, str], demo_folder: Path) -> dict[str, Path]:
    """The three input files a build reads: ``given`` (the configured ones: all three or none), else the
    demo collection's in ``demo_folder``, generated when missing."""
    if not given:
        return input_paths(ensure_demo_collection(demo_folder))
    missing = [name for name in settings.INPUTS if name not in given]
    if missing:
        raise ValueError("set all three inputs or none (demo collection); missing: "
                         + ", ".join(settings.Settings.env_name(m) for m in missing))
    return {k: Path(v) for k, v in given.items()}


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
        "artists": collection.artists,
        "niches": collection.niches,
    }
