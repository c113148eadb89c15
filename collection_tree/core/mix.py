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
        straight, half, double = ratio, ratio / 2.0, ratio * 2.0
        step = np.minimum(np.minimum(np.maximum(straight, 1.0 / straight), np.maximum(half, 1.0 / half)),
                          np.maximum(double, 1.0 / double)) - 1.0
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
        steps = tempo_step(bpm[:, None], bpm[None, :])
        ok = harmonic_compatible(keys[:, None], keys[None, :]) & (steps <= tolerance + 1e-9)  # = compatible()
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
        self._scan: tuple[np.ndarray, ...] | None = None

    def scan_buffers(self) -> tuple[np.ndarray, ...]:
        """What every 2-opt round of this playlist reuses (see ``_best_reversal``): the placement
        matrix with mirrored columns, a zero-padded copy, its skewed view, the running sums' buffer
        (a zero first row: the sum before the first track) followed by the running sums of the current
        placements (a zero first), and where the copy's flat form holds the placement of the track at
        position k at position k."""
        if self._scan is None:
            n = self.n
            mirrored = np.zeros((n, 3 * n - 2))
            row, column = mirrored.strides
            skewed = np.lib.stride_tricks.as_strided(mirrored, shape=(n, 2 * n - 1), strides=(row + column, column))
            k = np.arange(n)
            self._scan = (np.ascontiguousarray(self.place[:, ::-1]), mirrored, skewed,
                          np.zeros((n + 1) * (2 * n - 1) + n + 1), k * (3 * n - 2) + 2 * n - 2 - k)
        return self._scan

    def path_edges(self, padded: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The edge matrix in path order, flattened (row and column k are ``padded[k]``: the path
        between two virtual ends), and its adjacent edges (k: ``padded[k]`` -> ``padded[k + 1]``)."""
        ordered = self.edge.take(padded, axis=0).take(padded, axis=1).ravel()
        return ordered, ordered.take(np.arange(self.n + 1) * (self.n + 3) + 1)

    def cost(self, path: np.ndarray) -> float:
        return float(self.edge[path[:-1], path[1:]].sum() + self.place[path, np.arange(self.n)].sum())

    def costs(self, paths: np.ndarray) -> np.ndarray:
        """Costs of many paths at once (rows of ``paths``)."""
        return self.edge[paths[:, :-1], paths[:, 1:]].sum(axis=1) + self.place[paths, np.arange(self.n)].sum(axis=1)


def _greedy(obj: _Objective, start: int) -> np.ndarray:
    n = obj.n
    edge, place = obj.edge[:, :n], obj.place.T  # [track, next track], [position, track]
    path = [start]
    taken = np.zeros(n)  # inf once placed: adding 0.0 leaves the free tracks' scores as they are
    taken[start] = np.inf
    for position in range(1, n):
        score = edge[path[-1]] + place[position]
        score += taken
        nxt = int(score.argmin())
        path.append(nxt)
        taken[nxt] = np.inf
    return np.array(path, dtype=np.int64)


def _frozen(*arrays: np.ndarray) -> tuple[np.ndarray, ...]:
    for array in arrays:
        array.setflags(write=False)
    return arrays


# Index grids kept per playlist size: leaves of all sizes come in any order, and 32 sizes were rebuilt
# over and over. Every size from 8 to 150 tracks takes ~85 MB (2-opt ~43, relocation ~40).
GRID_CACHE = 256


@lru_cache(maxsize=GRID_CACHE)
def _reversal_grid(n: int) -> tuple[np.ndarray, ...]:
    """What every 2-opt scan of an n-track path indexes by (built once per size, not per round): the
    segments (i < j); for each the flat positions of the four edges that change in the path-ordered
    edge matrix (``_Objective.path_edges``); and the flat positions in the running-sums buffer
    (``_Objective.scan_buffers``) of the reversed segment's placements up to its last track and
    before its first, and of its current placements up to its last track and before its first."""
    i, j = np.triu_indices(n, k=1)
    column = 2 * n - 2 - (i + j)  # the skewed column holding anti-diagonal i + j
    width, side = 2 * n - 1, n + 2
    current = (n + 1) * width  # where the running sums of the current placements start
    # edges: (left, b), (a, right), (left, a), (b, right) with left = padded[i], a = path[i] = padded[i + 1] ...
    edges = np.stack([i * side + j + 1, (i + 1) * side + j + 2, i * (side + 1) + 1, (j + 1) * (side + 1) + 1])
    # placements: the segment reversed (running sums to its last track and before its first), as it is
    sums = np.stack([(j + 1) * width + column, i * width + column, current + j + 1, current + i])
    return _frozen(i, j, edges, sums)


def _best_reversal(obj: _Objective, path: np.ndarray) -> tuple[float, int, int]:
    """The 2-opt move (reverse ``path[i..j]``) that lowers the cost most: (delta, i, j)."""
    n = obj.n
    padded = np.concatenate([[n], path, [n]])
    i, j, edge_at, sum_at = _reversal_grid(n)
    ordered, _ = obj.path_edges(padded)
    # edge(left, b) + edge(a, right) - edge(left, a) - edge(b, right), left = padded[i], a = path[i] ...
    four = ordered.take(edge_at)
    edges = four[0] + four[1] - four[2] - four[3]
    # Placement: the track at position k moves to i + j - k, so a segment's new cost is a sum along
    # an anti-diagonal of place[path[k], m] (k + m = i + j). Mirrored and zero-padded, the matrix's
    # anti-diagonals are the columns of a strided view (row k shifted by k); running sums down them
    # give every segment at once (the same terms added in the same order as summing each one).
    # place[path] is [current position k, position m]; only its mirrored copy is needed.
    reversed_place, mirrored, skewed, running, current = obj.scan_buffers()
    mirrored[:, n - 1:2 * n - 1] = reversed_place.take(path, axis=0)  # the zero padding around it never changes
    width = 2 * n - 1
    skewed.cumsum(axis=0, out=running[width:(n + 1) * width].reshape(n, width))  # after the zero row
    mirrored.ravel().take(current).cumsum(out=running[(n + 1) * width + 1:])  # place[path[k], k]
    four = running.take(sum_at)
    new = four[0] - four[1]  # before the first track: the zero row
    delta = edges + new - (four[2] - four[3])
    best = int(delta.argmin())
    return float(delta[best]), int(i[best]), int(j[best])


RELOCATION_WINDOW = 1e-6  # moves whose local delta lies this close to the best are costed in full


@lru_cache(maxsize=GRID_CACHE)
def _relocation_grid(n: int) -> tuple[np.ndarray, ...]:
    """What every relocation scan of an n-track path indexes by (built once per size): the moves
    (i, j), i != j, in (i, j) order, and the flat positions of the values each one reads."""
    i, j = np.nonzero(~np.eye(n, dtype=bool))
    side = n + 2  # the path-ordered edge matrix: the path between two virtual ends
    rest_left = np.where(j <= i, j, j + 1)  # rest[j - 1] in padded positions (rest: the path without i)
    rest_right = np.where(j < i, j + 1, j + 2)  # rest[j]
    moved = i + 1  # the moving track, in padded positions
    added = (rest_left * side + moved, moved * side + rest_right, rest_left * side + rest_right)
    ordered = np.arange(n + 2)
    around = ordered[:n] * side + ordered[2:]  # [k]: padded[k] -> padded[k + 2], around position k
    k = np.arange(n)
    shifts = (k[1:] * n + k[:-1], k[:-1] * n + k[1:], k * n + k)  # [k + 1, k], [k, k + 1], [k, k]
    return _frozen(i, j, *added, around, i < j, np.maximum(i, j), np.minimum(i, j), i * n + j, i * n + i, *shifts)


def _relocation_deltas(obj: _Objective, path: np.ndarray) -> np.ndarray:
    """The cost change of moving the track at position i to position j, for the moves of
    ``_relocation_grid``, from the edges and places that change (O(1) per move, where the full cost
    of each candidate path is O(n))."""
    n = obj.n
    padded = np.concatenate([[n], path, [n]])  # the virtual end node costs nothing
    (i, _, left_x, x_right, left_right, around, forward, high, low, to_j, to_i,
     back_one, on_one, stay) = _relocation_grid(n)
    ordered, adjacent = obj.path_edges(padded)
    # out of its place: its two edges give way to one joining its neighbours (per position, then per move)
    removed = (adjacent[:-1] + adjacent[1:] - ordered.take(around)).take(i)
    # into the rest (the path without position i) between rest[j - 1] and rest[j]
    added = ordered.take(left_x) + ordered.take(x_right) - ordered.take(left_right)
    # places: the tracks between shift by one towards i, the moved one lands on j
    flat = obj.place.take(path, axis=0).ravel()  # [current position, position]
    here = flat.take(stay)
    left = np.concatenate([[0.0], (flat.take(back_one) - here[1:]).cumsum()])  # left[k]: 1..k
    right = np.concatenate([[0.0], (flat.take(on_one) - here[:-1]).cumsum()])  # right[k]: 0..k-1
    shifted = np.where(forward, left.take(high) - left.take(low), right.take(high) - right.take(low))
    return added - removed + shifted + flat.take(to_j) - flat.take(to_i)


def _best_relocation(obj: _Objective, path: np.ndarray) -> tuple[float, int, int]:
    """The move of one track from position i to position j (the others shift by one) that lowers
    the cost most: (delta, i, j), as the full cost of every candidate path gives it (the first of
    equal moves in (i, j) order). Local deltas find the few moves near the best; only those are
    costed in full, so the choice and its delta are the full evaluation's."""
    n = obj.n
    local = _relocation_deltas(obj, path)
    near = np.flatnonzero(local <= local.min() + RELOCATION_WINDOW)
    moves_i, moves_j = _relocation_grid(n)[:2]
    i, j = moves_i[near], moves_j[near]
    positions = np.arange(n)[None, :]
    # path[i] inserted at position j of the rest (the path without position i): position p holds
    # rest[p] before j and rest[p - 1] after it, and rest[q] is path[q] before i and path[q + 1] after
    source = np.clip(np.where(positions < j[:, None], positions, positions - 1), 0, n - 2)
    candidates = path[source + (source >= i[:, None])]
    candidates[np.arange(len(i)), j] = path[i]
    delta = obj.costs(candidates) - obj.cost(path)
    best = int(delta.argmin())
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
