"""TF-IDF weighting and L2 row normalisation of sparse rows, as scikit-learn computes them
(``TfidfTransformer(smooth_idf=True)`` and ``preprocessing.normalize``), without importing it.

Importing scikit-learn takes about 0.7 s (it imports ``scipy.stats``), in every process that touches
the similarity model: an update, which uses only these two formulas, paid it on every run. The
clustering that needs scikit-learn (k-means, Ward, SVD) imports it where it runs. The arithmetic
follows scikit-learn's step for step (the idf in the counts' dtype, each row's sum of squares added in
double precision in row order, each value divided by the root), so the results are the same to the
bit; ``test_similarity.py`` compares the two.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp


def l2_rows(matrix: sp.spmatrix) -> sp.csr_matrix:
    """A copy of ``matrix`` (CSR) with each non-empty row scaled to unit L2 norm."""
    rows = sp.csr_matrix(matrix, copy=True)
    data = rows.data
    owner = np.repeat(np.arange(rows.shape[0]), np.diff(rows.indptr))
    # bincount adds in entry order in double precision, as scikit-learn's row loop does
    norms = np.sqrt(np.bincount(owner, weights=data * data, minlength=rows.shape[0]))
    scale = norms[owner]
    nonzero = scale != 0.0
    data[nonzero] = data[nonzero] / scale[nonzero]
    return rows


def tfidf_rows(counts: sp.spmatrix) -> sp.csr_matrix:
    """Counts (documents x terms) weighted by the smoothed inverse document frequency,
    ``ln((1 + n) / (1 + df)) + 1``, then each row L2-normalised."""
    rows = sp.csr_matrix(counts, dtype=counts.dtype if counts.dtype in (np.float32, np.float64) else np.float64,
                         copy=True)
    df = np.bincount(rows.indices, minlength=rows.shape[1]).astype(rows.dtype) + 1.0
    idf = np.full_like(df, rows.shape[0] + 1, dtype=rows.dtype)
    idf /= df
    np.log(idf, out=idf)
    idf += 1.0
    rows.data *= idf[rows.indices]
    return l2_rows(rows)
