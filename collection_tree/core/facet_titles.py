"""Shelf titles that name what most of a group's tracks share (categories and their sections).

A title is up to three of the group's own facet values ("Metal", "Hard Rock") and, when they do not
reach enough of the tracks on their own, the lineage root most tracks carry ("Rock"). Candidates
are scored like a search result:

- coverage: share of the group's tracks that carry the root or one of the values (the title fits
  them: they carry its words);
- share and precision of the values alone: how much of the group they describe, and how much of
  what they describe in the whole collection (or parent group) sits in this group, so a title tells
  the group apart from its neighbours instead of naming the lineage every sibling shares.

Among titles reaching ``coverage`` (of at most ``max_words`` words, never already taken) the one
with the best F-measure of share and precision wins, then fewer words; when none reaches it, the
best coverage. Deterministic: candidates and ties are ordered by value.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from collection_tree.core.curation import MAX_TITLE_WORDS, title_word_count

MAX_VALUES = 3
CANDIDATES = 12
MIN_VALUE_SHARE = 0.05
UNDER_ROOT = 0.9


@dataclass(frozen=True)
class ShelfTitle:
    title: str
    values: tuple[str, ...]
    root: str  # "" when the title does without it
    coverage: float  # share of the group's tracks carrying the root or a value
    share: float  # share carrying one of the values
    precision: float  # of the tracks carrying a value (collection-wide, summed per value), share in the group

    def as_payload(self) -> dict[str, object]:
        return {"title": self.title, "fits_share": round(self.coverage, 2)}


def join_names(names: Sequence[str], last: str = "&") -> str:
    names = [n for n in names if n]
    if len(names) <= 1:
        return "".join(names)
    return ", ".join(names[:-1]) + f" {last} " + names[-1]


def pair_name(first: str, second: str) -> str:
    """Two names joined, a shared last word said once: "Latin Pop" + "Teen Pop" -> "Latin & Teen Pop"."""
    a, b = first.split(), second.split()
    if len(a) > 1 and len(b) > 1 and a[-1].casefold() == b[-1].casefold():
        return f"{' '.join(a[:-1])} & {' '.join(b[:-1])} {a[-1]}"
    return f"{first} & {second}"


def render(values: Sequence[str], root: str = "", under_root: bool = True) -> str:
    """``["Metal", "Hardcore"]`` -> "Metal & Hardcore"; with a root its values do not already name:
    "Rock: Metal & Hardcore" when the values' tracks carry the root too, else the root leads the list
    ("Synth & Wave, Modern Classical and EBM")."""
    said = any(v.split()[-1].casefold() == root.casefold() for v in values) if root else False
    if root and not under_root and not said:
        return render([root, *values])
    if any("&" in v for v in values):  # "Synth & Wave and Deep House", not "Synth & Wave & Deep House"
        body = join_names(list(values), last="and")
    else:
        body = pair_name(*values) if len(values) == 2 else join_names(list(values))
    if not root:
        return body
    if said:
        return body  # "Metal & Hard Rock" already says Rock
    return f"{root}: {body}" if body else root


def shelf_title(track_values: Sequence[Iterable[str]], collection_counts: Mapping[str, int], *,
                roots: Iterable[str] = (), taken: Iterable[str] = (), coverage: float = 0.9,
                max_words: int = MAX_TITLE_WORDS, show_root: bool = True) -> ShelfTitle | None:
    """The best title for a group whose tracks carry ``track_values`` (each track's facet values, as
    displayed), against ``collection_counts`` (value -> tracks carrying it in the whole collection, or
    in the parent group). ``roots``: lineage roots, which may only complete a title (``show_root``
    False: completes its coverage without being printed, as a section's parent already says it).
    None when the tracks carry no values."""
    rows = [list(dict.fromkeys(v for v in values if v)) for values in track_values]
    n = len(rows)
    if n == 0:
        return None
    counts: Counter[str] = Counter(v for row in rows for v in row)
    if not counts:
        return None
    root_set = {r.casefold() for r in roots}
    taken_set = {t.strip().casefold() for t in taken}
    ranked = sorted(counts, key=lambda v: (-counts[v], v))
    root = next((v for v in ranked if v.casefold() in root_set and counts[v] * 2 >= n), "")
    pool = [v for v in ranked if v != root and counts[v] >= MIN_VALUE_SHARE * n][:CANDIDATES]
    if not pool:
        pool = [root] if root else ranked[:1]
        root = ""
    row_sets = [set(row) for row in rows]
    masks = {v: np.fromiter((v in row for row in row_sets), dtype=bool, count=n)
             for v in pool + ([root] if root else [])}
    # a value "under" the root: nearly all of its tracks carry the root too ("Metal" under "Rock")
    under = {v: bool(root) and float((masks[v] & masks[root]).sum()) >= UNDER_ROOT * float(masks[v].sum())
             for v in pool}
    covers = {(a, b) for a in pool for b in pool if a != b and not np.any(masks[a] & ~masks[b])}
    best: tuple[tuple, ShelfTitle] | None = None
    for size in range(1, MAX_VALUES + 1):
        for combo in itertools.combinations(pool, size):
            if any(pair in covers for pair in itertools.permutations(combo, 2)):
                continue  # a value whose tracks another value already covers adds only words
            covered = np.logical_or.reduce([masks[v] for v in combo])
            share = float(covered.mean())
            spread = sum(max(collection_counts.get(v, 0), counts[v]) for v in combo)
            precision = float(covered.sum()) / spread if spread else 0.0
            f_measure = 2 * share * precision / (share + precision) if share + precision > 0 else 0.0
            for with_root in (False, True) if root else (False,):
                total = float((covered | masks[root]).mean()) if with_root else share
                title = render(combo, root if with_root and show_root else "", all(under[v] for v in combo))
                words = title_word_count(title)
                if words > max_words or title.casefold() in taken_set or (with_root and total <= share):
                    continue
                key = (total >= coverage, f_measure if total >= coverage else total,
                       -words if total >= coverage else f_measure, total, title)
                if best is None or key > best[0]:
                    best = (key, ShelfTitle(title, combo, root if with_root else "", total, share, precision))
    return best[1] if best else None
