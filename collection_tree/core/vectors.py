"""Cluster summaries as vectors: the words and lineages of a summary as weighted features, TF-IDF
(scikit-learn), L2-normalised rows so cosine similarity is a dot product.

Summaries are plain dicts (``title``, ``description``, ``genre_context``, ``scene_context``,
``track_count``) so the offline solvers, which see only a payload, and the phases use the same code.
Deterministic: same input, same vectors; nothing downloaded.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy import sparse

from collection_tree.core.tfidf import l2_rows

if TYPE_CHECKING:
    from sklearn.feature_extraction import DictVectorizer
    from sklearn.feature_extraction.text import TfidfTransformer

_WORD = re.compile(r"[^\W\d_]+(?:['’&-][^\W\d_]+)*", re.UNICODE)  # words, no digits (years say little here)
_STOP_TEXT = """
a an and are as at by for from in into is it its of on or the their this to under with without
track tracks artist artists song songs released most top common styles style lineage branches
playlist playlists cluster clusters collection music
"""
STOPWORDS = frozenset(_STOP_TEXT.split())
# Feature weights: lineage prefixes carry the taxonomy, title words what a curator called it.
W_ROOT, W_BRANCH, W_TITLE, W_TEXT = 3.0, 3.0, 2.0, 1.0


def context_parts(context: Any) -> list[str]:
    """``"Rock > Metal > Nu-Metal"`` -> ``["Rock", "Metal", "Nu-Metal"]`` (a bare title is one part)."""
    return [p.strip() for p in str(context or "").split(">") if p.strip()]


def words(text: Any) -> list[str]:
    out: list[str] = []
    for word in _WORD.findall(str(text or "").casefold()):
        if word in STOPWORDS or len(word) < 2:
            continue
        out.append(word)
        if "-" in word:  # "pop-punk" also counts as "pop" and "punk"
            out.extend(p for p in word.split("-") if len(p) > 1 and p not in STOPWORDS)
    return out


def summary_features(summary: Mapping[str, Any]) -> Counter[str]:
    """Title words, description words, the genre/scene lineage prefixes as whole features
    (``g0:rock``, ``g1:rock>metal``) and the lineage words."""
    feats: Counter[str] = Counter()
    for word in words(summary.get("title")):
        feats["w:" + word] += W_TITLE
    for word in words(summary.get("description")):
        feats["w:" + word] += W_TEXT
    for prefix, key in (("g", "genre_context"), ("s", "scene_context")):
        parts = context_parts(summary.get(key))
        if parts:
            feats[f"{prefix}0:{parts[0].casefold()}"] += W_ROOT
        if len(parts) > 1:
            feats[f"{prefix}1:{parts[0].casefold()}>{parts[1].casefold()}"] += W_BRANCH
        for part in parts:
            for word in words(part):
                feats["w:" + word] += W_TEXT
    return feats


def text_features(text: str) -> Counter[str]:
    """Free text (a category's name and description) in the same word space as the summaries."""
    return Counter("w:" + w for w in words(text))


def normalise_rows(matrix: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return np.divide(matrix, norms, out=np.zeros_like(matrix, dtype=np.float64), where=norms > 0)


@dataclass(frozen=True)
class Vectoriser:
    """Weighted feature dicts -> TF-IDF rows (term weight ``1 + log(w)`` from 1 up, ``w`` below; smooth
    IDF; L2 norm)."""

    dicts: DictVectorizer
    tfidf: TfidfTransformer

    @classmethod
    def fit(cls, docs: Sequence[Mapping[str, float]], min_df: int = 2) -> Vectoriser:
        """Features seen in at least ``min_df`` documents (a feature of one document links nothing);
        when that leaves nothing, every feature."""
        df: Counter[str] = Counter()
        for doc in docs:
            df.update(f for f, w in doc.items() if w > 0)
        kept = {f for f, n in df.items() if n >= min_df} or set(df) or {"-"}
        from sklearn.feature_extraction import DictVectorizer  # scikit-learn is imported where it runs (core.tfidf)
        from sklearn.feature_extraction.text import TfidfTransformer

        dicts = DictVectorizer(sort=True).fit([{f: 1.0 for f in sorted(kept)}])
        tfidf = TfidfTransformer(sublinear_tf=False, smooth_idf=True).fit(dicts.transform(_clean(docs, kept)))
        return cls(dicts, tfidf)

    def transform(self, docs: Sequence[Mapping[str, float]]) -> np.ndarray:
        return normalise_rows(np.asarray(self.transform_sparse(docs).todense(), dtype=np.float64))

    def transform_sparse(self, docs: Sequence[Mapping[str, float]]) -> sparse.csr_matrix:
        """The rows as a sparse matrix (TF-IDF, L2-normalised)."""
        kept = set(self.dicts.vocabulary_)
        return l2_rows(sparse.csr_matrix(self.tfidf.transform(self.dicts.transform(_clean(docs, kept)))))


def _clean(docs: Sequence[Mapping[str, float]], kept: set[str]) -> list[dict[str, float]]:
    return [{f: _damped(w) for f, w in doc.items() if f in kept and w > 0} for doc in docs]


def _damped(weight: float) -> float:
    return 1.0 + math.log(weight) if weight >= 1 else float(weight)


def embed(summaries: Sequence[Mapping[str, Any]]) -> tuple[Vectoriser, np.ndarray]:
    docs = [summary_features(s) for s in summaries]
    vectoriser = Vectoriser.fit(docs)
    return vectoriser, vectoriser.transform(docs)
