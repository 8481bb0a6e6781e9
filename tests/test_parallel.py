"""Data parallelism: 8 fake CPU devices and two local processes agree with one device.

XLA_FLAGS must be set before jax is imported, so the distributed checks run in subprocesses
(``tests/_workers.py``) with the XLA optimisation level lowered to keep compiles short.
"""

from __future__ import annotations

import json
import pathlib

import _workers
import numpy as np
import pytest


@pytest.fixture(scope="module")
def eight_devices(tmp_path_factory: pytest.TempPathFactory) -> dict:
    out = tmp_path_factory.mktemp("sharding") / "result.json"
    _workers.finish(_workers.start("sharding", str(out), devices=8))
    return json.loads(out.read_text())


def test_sharded_loss_and_gradients_equal_single_device(eight_devices: dict) -> None:
    single, sharded = eight_devices["loss"]
    np.testing.assert_allclose(sharded, single, rtol=1e-6)
    assert eight_devices["grad_rel_err"] < 1e-5
    assert eight_devices["grad_shardings"] == ["P()"]  # gradients come back replicated


def test_sharded_epoch_compiles_once_and_matches_one_device(eight_devices: dict) -> None:
    assert eight_devices["epoch_cache_size"] == 1  # three calls, one executable
    assert eight_devices["epoch_step"] == 12  # 3 epochs of 64 // 16 steps
    assert eight_devices["epoch_all_reduce"]  # the batch really is split over devices
    assert eight_devices["epoch_shardings"] == ["P()"]
    assert eight_devices["epoch_mesh_devices"] == [8]
    assert eight_devices["epoch_rel_err"] < 1e-5


def test_k_sharded_bound_matches_dataset_bound(eight_devices: dict) -> None:
    assert eight_devices["eval_mesh"] == {"data": 2, "samples": 4}
    # Exact posterior: every log-weight is log p(x), whatever the draws.
    assert eight_devices["exact_plain_err"] < 1e-4
    assert eight_devices["exact_sharded_err"] < 1e-4
    # Worse q: a real gap to log p(x), and the two estimators agree within Monte Carlo error.
    assert eight_devices["worse_gap"] > 0.05
    assert abs(eight_devices["worse_mean_diff"]) < 4 * eight_devices["worse_diff_stderr"]


@pytest.mark.slow
def test_two_processes_train_like_one(tmp_path: pathlib.Path) -> None:
    """Two processes x 2 devices (gloo collectives), one global batch of 24 split four ways,
    the same checkpoints and metrics as one process on one device."""
    port = str(_workers.free_port())
    out = tmp_path / "two.npz"
    procs = [
        _workers.start("train", str(out), str(tmp_path / "two"), str(i), "2", port, devices=2)
        for i in range(2)
    ]
    for proc in procs:
        _workers.finish(proc)
    _workers.train(str(tmp_path / "one.npz"), str(tmp_path / "one"), "0", "1", "0")
    one, two = np.load(tmp_path / "one.npz"), np.load(out)
    assert sorted(one) == sorted(two)
    for name in one:
        np.testing.assert_allclose(two[name], one[name], atol=1e-4, err_msg=name)
    logs = [(tmp_path / run / "metrics.jsonl").read_text().splitlines() for run in ("one", "two")]
    assert len(logs[0]) == len(logs[1]) == 2  # process 1 wrote nothing
    for a, b in zip(*logs, strict=True):
        np.testing.assert_allclose(json.loads(b)["loss"], json.loads(a)["loss"], rtol=1e-5)
    assert sorted(p.name for p in (tmp_path / "two" / "checkpoints").iterdir()) == ["10", "20"]
