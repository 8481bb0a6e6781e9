"""Figures lay out what they are given: every example shown beside its reconstruction."""

from __future__ import annotations

import numpy as np
import pytest

from jvae.reports import figures


@pytest.mark.parametrize("n, columns, shown", [(3, 3, 3), (8, 8, 8), (20, 8, 16), (50, 8, 32)])
def test_reconstruction_rows_alternate_data_and_reconstruction(n, columns, shown):
    data = np.arange(n, dtype=np.float32)[:, None]
    recon = -data
    images, cols = figures.reconstruction_rows(data, recon)
    assert cols == columns and len(images) == 2 * shown
    rows = images[:, 0].reshape(-1, 2, columns)  # (data row, reconstruction row) pairs
    np.testing.assert_array_equal(rows[:, 1], -rows[:, 0])
    np.testing.assert_array_equal(rows[:, 0].reshape(-1), np.arange(shown))


def test_reconstructions_of_a_few_colour_images_are_saved(tmp_path):
    rng = np.random.default_rng(0)
    data = rng.uniform(size=(3, 4, 5, 3)).astype(np.float32)
    figures.save_reconstructions(data, data[::-1], tmp_path / "r.png", "r", (4, 5, 3))
    assert (tmp_path / "r.png").stat().st_size > 0
    with pytest.raises(ValueError, match="at least one example"):
        figures.reconstruction_rows(data[:0], data[:0])
