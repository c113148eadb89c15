"""``sorted_unique`` gives exactly what ``np.unique`` gives (values, order, dtype)."""

import numpy as np
import pytest

from collection_tree.core.arrays import sorted_unique


@pytest.mark.parametrize("values", [
    np.array([], dtype=np.int64),
    np.array([5], dtype=np.int64),
    np.array([3, 1, 3, 2, 1, -7, 2**40], dtype=np.int64),
    np.random.default_rng(1).integers(0, 50, 10_000).astype(np.int32),  # few distinct among many
    np.random.default_rng(2).integers(-10**9, 10**9, 20_000),  # mostly distinct
    np.array([[4, 2], [2, 9]], dtype=np.int64),  # any shape, flattened as np.unique does
])
def test_sorted_unique_is_np_unique(values):
    got, expected = sorted_unique(values), np.unique(values)
    assert got.dtype == expected.dtype
    np.testing.assert_array_equal(got, expected)
