"""Mix order: which tracks a DJ can play one after another, and an order of a playlist that does it.

Two tracks are *compatible* when they are harmonically compatible on the Camelot wheel (the same key,
+-1 on the same letter, or the relative major/minor: same number, other letter) and their tempos are
within a tolerance (6% by default: what a pitch fader covers), half and double time included.

:func:`mix_order` finds a path through a playlist that maximises compatible transitions and, second,
follows an energy arc (warm-up, peak at about 70% of the set, release). It is deterministic: a greedy
start (or every permutation for tiny playlists), then steepest-descent 2-opt and single-track
relocation on the whole objective, each step's candidate moves evaluated at once with numpy.

Keys are read in musical notation (``Am``, ``F#``, ``Bbm``, ``C# minor``), Camelot (``8A``, ``08b``)
or Open Key (``1m``, ``6d``); anything else counts as unknown. Pure functions, no I/O.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Iterable
from functools import lru_cache

import numpy as np

UNKNOWN = -1
# Pitch classes of note names; a flat or sharp suffix moves them by one semitone.
_NOTES = {"c": 0, "d": 2, "e": 4, "f": 5, "g": 7, "a": 9, "b": 11}
_MUSICAL = re.compile(r"^([a-g])\s*(#|♯|b|♭|sharp|flat)?\s*(m|min|minor|maj|major|moll|dur)?$")
_CAMELOT = re.compile(r"^0?([1-9]|1[0-2])\s*([ab])$")
_OPEN_KEY = re.compile(r"^0?([1-9]|1[0-2])\s*([md])$")

ARC_PEAK = 0.7  # where the energy arc peaks, as a share of the set


# --------------------------------------------------------------------------------------------- keys
def _code(number: int, major: bool) -> int:
    """Camelot ``number`` (1-12) and letter (A minor, B major) as one int in 0..23."""
    return (number - 1) * 2 + int(major)


@lru_cache(maxsize=4096)
def camelot_code(key: str) -> int:
    """The Camelot code (0..23, see :func:`camelot_label`) of one key string, or ``UNKNOWN``."""
    text = " ".join(str(key).strip().casefold().split())
    if not text:
        return UNKNOWN
    if match := _CAMELOT.match(text):
        return _code(int(match.group(1)), match.group(2) == "b")
    if match := _OPEN_KEY.match(text):  # Open Key 1d = C major = 8B, 1m = A minor = 8A
        return _code((int(match.group(1)) + 6) % 12 + 1, match.group(2) == "d")
    if match := _MUSICAL.match(text):
        note, accidental, mode = match.groups()
        pitch = _NOTES[note] + {"#": 1, "♯": 1, "sharp": 1, "b": -1, "♭": -1, "flat": -1}.get(accidental or "", 0)
        minor = mode in ("m", "min", "minor", "moll")
        major_pitch = (pitch + 3) % 12 if minor else pitch % 12  # a minor key sits with its relative major
        return _code((7 * major_pitch + 7) % 12 + 1, not minor)
    return UNKNOWN


def camelot_codes(keys: Iterable[object]) -> np.ndarray:
    """Camelot codes of many keys (``UNKNOWN`` for missing or unreadable ones)."""
    return np.array([UNKNOWN if not isinstance(k, str) else camelot_code(k) for k in keys], dtype=np.int64)


def camelot_label(code: int) -> str:
    """``8A`` for a code; empty for ``UNKNOWN``."""
    return "" if code < 0 else f"{code // 2 + 1}{'B' if code % 2 else 'A'}"


# ------------------------------------------------------------------------------------ compatibility
def harmonic_compatible(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Element-wise: the same key, +-1 on the same letter, or the relative major/minor."""
    known = (a >= 0) & (b >= 0)
    number_a, number_b = a // 2, b // 2
    step = (number_a - number_b) % 12
    same_letter = (a % 2) == (b % 2)
    return known & ((same_letter & ((step == 0) | (step == 1) | (step == 11))) | (~same_letter & (step == 0)))


def tempo_step(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Element-wise relative tempo difference of ``a`` and ``b``, measured from the slower one
    (``128/120 - 1``), the smallest of straight, half and double time; symmetric; ``inf`` where a
    tempo is unknown."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = b / a
        folded = np.stack([ratio, ratio / 2.0, ratio * 2.0])
        step = np.maximum(folded, 1.0 / folded).min(axis=0) - 1.0
    return np.where(np.isfinite(step) & (a > 0) & (b > 0), step, np.inf)


def compatible(bpm_a: np.ndarray, key_a: np.ndarray, bpm_b: np.ndarray, key_b: np.ndarray,
               tolerance: float) -> np.ndarray:
    """Element-wise: harmonically compatible and within ``tolerance`` of each other's tempo."""
    return harmonic_compatible(key_a, key_b) & (tempo_step(bpm_a, bpm_b) <= tolerance + 1e-9)


def transition_flags(bpm: np.ndarray, keys: np.ndarray, tolerance: float) -> np.ndarray:
    """For tracks in play order: whether each adjacent pair (n - 1 of them) is compatible."""
    bpm, keys = np.asarray(bpm, dtype=np.float64), np.asarray(keys)
    return compatible(bpm[:-1], keys[:-1], bpm[1:], keys[1:], tolerance)


def mixable(bpm: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """Tracks that can be judged at all: a positive tempo and a readable key."""
    bpm = np.asarray(bpm, dtype=np.float64)
    return np.isfinite(bpm) & (bpm > 0) & (np.asarray(keys) >= 0)


# ------------------------------------------------------------------------------------------ solver
def energy_targets(energy: np.ndarray, n: int) -> np.ndarray:
    """The energy wanted at each of ``n`` positions: the playlist's own energies, low to high up to
    ``ARC_PEAK`` of the set, then released to about its median."""
    known = energy[np.isfinite(energy)]
    if not known.size:
        return np.zeros(n)
    x = np.linspace(0.0, 1.0, n) if n > 1 else np.zeros(1)
    rise = 0.05 + 0.9 * np.minimum(x / ARC_PEAK, 1.0)
    quantile = np.where(x <= ARC_PEAK, rise, 0.95 - 0.45 * (x - ARC_PEAK) / (1.0 - ARC_PEAK))
    return np.quantile(known, quantile)


class _Objective:
    """Cost of a play order: 1 per incompatible transition, plus small terms for tempo jumps and for
    the distance of each track's energy from the arc's target at its position."""

    def __init__(self, bpm: np.ndarray, keys: np.ndarray, energy: np.ndarray, tolerance: float,
                 energy_weight: float, tempo_weight: float):
        n = len(bpm)
        ok = compatible(bpm[:, None], keys[:, None], bpm[None, :], keys[None, :], tolerance)
        steps = tempo_step(bpm[:, None], bpm[None, :])
        smooth = np.minimum(np.where(np.isfinite(steps), steps, 1.0) / max(tolerance, 1e-6), 3.0)
        edge = (~ok).astype(np.float64) + tempo_weight * smooth
        np.fill_diagonal(edge, 0.0)
        # A virtual node (index n) at both ends of the path costs nothing: the path has free ends.
        self.edge = np.zeros((n + 1, n + 1))
        self.edge[:n, :n] = edge
        targets = energy_targets(energy, n)
        self.place = energy_weight * np.abs(np.nan_to_num(energy, nan=0.0)[:, None] - targets[None, :])
        self.place[~np.isfinite(energy), :] = 0.0  # a track without energy fits anywhere
        self.n = n

    def cost(self, path: np.ndarray) -> float:
        return float(self.edge[path[:-1], path[1:]].sum() + self.place[path, np.arange(self.n)].sum())

    def costs(self, paths: np.ndarray) -> np.ndarray:
        """Costs of many paths at once (rows of ``paths``)."""
        return self.edge[paths[:, :-1], paths[:, 1:]].sum(axis=1) + self.place[paths, np.arange(self.n)].sum(axis=1)


def _greedy(obj: _Objective, start: int) -> np.ndarray:
    n = obj.n
    path = [start]
    free = np.ones(n, dtype=bool)
    free[start] = False
    for position in range(1, n):
        score = obj.edge[path[-1], :n] + obj.place[:, position]
        score[~free] = np.inf
        nxt = int(np.argmin(score))
        path.append(nxt)
        free[nxt] = False
    return np.array(path, dtype=np.int64)


@lru_cache(maxsize=32)
def _reversal_grid(n: int) -> tuple[np.ndarray, ...]:
    """What every 2-opt scan of an n-track path indexes by (built once per size, not per round): the
    segments (i < j), and for each the flat positions in the running sums of the placement matrix's
    skewed diagonals (see ``_best_reversal``) of its last track and of the track before it."""
    i, j = np.triu_indices(n, k=1)
    column = 2 * n - 2 - (i + j)  # the skewed column holding anti-diagonal i + j
    width = 2 * n - 1
    grid = (i, j, j * width + column, np.maximum(i - 1, 0) * width + column, i > 0)
    for array in grid:
        array.setflags(write=False)
    return grid


def _best_reversal(obj: _Objective, path: np.ndarray) -> tuple[float, int, int]:
    """The 2-opt move (reverse ``path[i..j]``) that lowers the cost most: (delta, i, j)."""
    n = obj.n
    padded = np.concatenate([[n], path, [n]])
    i, j, at_j, before_i, i_positive = _reversal_grid(n)
    left, right, a, b = padded[i], padded[j + 2], path[i], path[j]
    edges = obj.edge[left, b] + obj.edge[a, right] - obj.edge[left, a] - obj.edge[b, right]
    # Placement: the track at position k moves to i + j - k, so a segment's new cost is a sum along
    # an anti-diagonal of place[path[k], m] (k + m = i + j). Mirrored and zero-padded, the matrix's
    # anti-diagonals are the columns of a strided view (row k shifted by k); running sums down them
    # give every segment at once (the same terms added in the same order as summing each one).
    place = obj.place[path]  # [current position k, position m]
    mirrored = np.zeros((n, 3 * n - 2))
    mirrored[:, n - 1:2 * n - 1] = place[:, ::-1]
    skewed = np.lib.stride_tricks.as_strided(mirrored, shape=(n, 2 * n - 1),
                                             strides=(mirrored.strides[0] + mirrored.strides[1], mirrored.strides[1]))
    sums = skewed.cumsum(axis=0).ravel()
    diag = np.concatenate([[0.0], np.diagonal(place).cumsum()])
    new = sums[at_j] - np.where(i_positive, sums[before_i], 0.0)
    delta = edges + new - (diag[j + 1] - diag[i])
    best = int(np.argmin(delta))
    return float(delta[best]), int(i[best]), int(j[best])


RELOCATION_WINDOW = 1e-6  # moves whose local delta lies this close to the best are costed in full


def _relocation_deltas(obj: _Objective, path: np.ndarray, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """The cost change of moving the track at position i to position j, from the edges and places
    that change (O(1) per move, where the full cost of each candidate path is O(n))."""
    n = obj.n
    padded = np.concatenate([[n], path, [n]])  # the virtual end node costs nothing
    edge, place = obj.edge, obj.place
    x = path[i]
    # out of its place: its two edges give way to one joining its neighbours
    removed = edge[padded[i + 1 - 1], x] + edge[x, padded[i + 2]] - edge[padded[i], padded[i + 2]]
    # into the rest (the path without position i) between rest[j - 1] and rest[j]
    rest_left = np.where(j <= i, padded[j], padded[j + 1])  # rest[j - 1], padded
    rest_right = np.where(j < i, padded[j + 1], padded[j + 2])  # rest[j], padded
    added = edge[rest_left, x] + edge[x, rest_right] - edge[rest_left, rest_right]
    # places: the tracks between shift by one towards i, the moved one lands on j
    positions = np.arange(n)
    here = place[path, positions]
    left = np.concatenate([[0.0], np.cumsum(place[path[1:], positions[:-1]] - here[1:])])  # left[k]: 1..k
    right = np.concatenate([[0.0], np.cumsum(place[path[:-1], positions[1:]] - here[:-1])])  # right[k]: 0..k-1
    shifted = np.where(i < j, left[np.maximum(j, i)] - left[np.minimum(j, i)],
                       right[np.maximum(i, j)] - right[np.minimum(i, j)])
    return added - removed + shifted + place[x, j] - place[x, i]


def _best_relocation(obj: _Objective, path: np.ndarray) -> tuple[float, int, int]:
    """The move of one track from position i to position j (the others shift by one) that lowers
    the cost most: (delta, i, j), as the full cost of every candidate path gives it (the first of
    equal moves in (i, j) order). Local deltas find the few moves near the best; only those are
    costed in full, so the choice and its delta are the full evaluation's."""
    n = obj.n
    i, j = np.nonzero(~np.eye(n, dtype=bool))
    local = _relocation_deltas(obj, path, i, j)
    near = np.flatnonzero(local <= local.min() + RELOCATION_WINDOW)
    i, j = i[near], j[near]
    rest = np.array([np.delete(path, k) for k in i])  # rest[m]: the path without position i[m]
    positions = np.arange(n)[None, :]
    source = np.clip(np.where(positions < j[:, None], positions, positions - 1), 0, n - 2)
    candidates = np.take_along_axis(rest, source, axis=1)  # path[i] inserted at position j of rest
    candidates[np.arange(len(i)), j] = path[i]
    delta = obj.costs(candidates) - obj.cost(path)
    best = int(np.argmin(delta))
    return float(delta[best]), int(i[best]), int(j[best])


EXACT_MAX = 7  # every permutation is tried up to this size (5,040 orders)
RELOCATE_MAX = 120  # single-track relocation is O(n^3) in memory; bigger playlists use 2-opt alone


def mix_order(bpm: np.ndarray, keys: np.ndarray, energy: np.ndarray | None = None, *, tolerance: float = 0.06,
              energy_weight: float = 0.03, tempo_weight: float = 0.02, max_rounds: int = 2000) -> np.ndarray:
    """A play order (a permutation of ``range(len(bpm))``) with as many compatible transitions as the
    solver finds, then a smooth tempo and an energy arc. ``keys`` are Camelot codes
    (:func:`camelot_codes`), ``energy`` any scale (NaN: unknown). Deterministic."""
    bpm = np.asarray(bpm, dtype=np.float64)
    keys = np.asarray(keys, dtype=np.int64)
    n = len(bpm)
    energy = np.full(n, np.nan) if energy is None else np.asarray(energy, dtype=np.float64)
    if n <= 2:
        return np.argsort(np.nan_to_num(energy, nan=0.0), kind="stable") if n == 2 else np.arange(n)
    obj = _Objective(bpm, keys, energy, tolerance, energy_weight, tempo_weight)
    if n <= EXACT_MAX:
        perms = np.array(list(itertools.permutations(range(n))), dtype=np.int64)
        return perms[int(np.argmin(obj.costs(perms)))]
    start_energy = np.nan_to_num(energy, nan=np.inf)
    start = int(np.lexsort((np.arange(n), np.nan_to_num(bpm, nan=np.inf), start_energy))[0])
    path = _greedy(obj, start)
    cost = obj.cost(path)
    for _ in range(max_rounds):
        delta, i, j = _best_reversal(obj, path)
        if delta < -1e-9:
            candidate = path.copy()
            candidate[i:j + 1] = path[i:j + 1][::-1]
        elif n <= RELOCATE_MAX and (move := _best_relocation(obj, path))[0] < -1e-9:
            _, i, j = move
            candidate = np.insert(np.delete(path, i), j, path[i])
        else:
            break
        new_cost = obj.cost(candidate)
        if new_cost >= cost - 1e-9:  # rounding: never accept a move that does not really improve
            break
        path, cost = candidate, new_cost
    return path


def compatible_share(flags: np.ndarray) -> float | None:
    """Share of compatible transitions, or None when there is no transition."""
    return None if len(flags) == 0 else round(float(np.mean(flags)), 4)


def summary_label(values: Iterable[float]) -> str:
    """``"118-126"`` for a range of numbers (rounded), or empty."""
    finite = [v for v in values if isinstance(v, int | float) and math.isfinite(v)]
    if not finite:
        return ""
    lo, hi = round(min(finite)), round(max(finite))
    return str(lo) if lo == hi else f"{lo}-{hi}"
