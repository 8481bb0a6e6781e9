"""What MNIST's grey-level scale is worth on a trained model's test NLL: the test set as the
pickle stores it (each pixel's byte b as b / 256) against the original files' b / 255 (the IWAE
paper's code), binarised with the same uniform draws, so that the two test sets differ only
where a draw falls between b / 256 and b / 255 (a full stroke, b = 255, is 1 in the second and
binarised to 0 once in 256 draws in the first). The difference of L_K is then paired image by
image, with its standard error over the images.

    python -m experiments.iwae_table.grey_levels runs/iwae_table/paper/mnist_l1_iwae_k1 \\
        --k 1 5000 --out experiments/iwae_table/results/paper/grey_levels.json
"""

from __future__ import annotations

import argparse
import json
import pathlib
import time
from typing import Any

import jax
import numpy as np

from jvae.data.binarize import static_binarize
from jvae.data.spec import DataSpec
from jvae.diagnostics import nll
from jvae.run.evaluate import load_run
from jvae.run.experiment import training_budget


def grey_level_worth(
    folder: str | pathlib.Path, ks: tuple[int, ...], data_dir: str | None = None, seed: int = 0
) -> dict[str, Any]:
    """``{'passes', 'differing_pixels_per_image', ..., 'L<k>': {stored, rescaled, diff, se,
    seconds}}``: the mean test L_K of the run's model on the test set binarised at b / 256
    and at b / 255 (the same draws, ``static_binarize(..., seed)``), and their paired
    difference (b / 255 minus b / 256) with its standard error."""
    spec, model, params = load_run(folder)
    if spec.data.dataset != "mnist":
        raise ValueError(f"{folder} was trained on {spec.data.dataset!r}, not on MNIST.")
    tests = {
        scale: static_binarize(DataSpec("mnist", mnist_scale=scale).load(data_dir)["test"], seed)
        for scale in (256, 255)
    }
    out: dict[str, Any] = {
        "run": str(folder),
        "passes": training_budget(folder)["passes"],
        "trained_on_mnist_scale": spec.data.mnist_scale,
        "differing_pixels_per_image": float(
            np.mean(np.sum(tests[256] != tests[255], axis=tuple(range(1, tests[256].ndim))))
        ),
        "only_zero_to_one": bool(np.all(tests[255] >= tests[256])),
        "test_images": len(tests[256]),
    }
    key = jax.random.PRNGKey(1)
    for k in ks:
        t0 = time.perf_counter()
        stored, rescaled = (nll.dataset_bound(model, params, key, tests[s], k) for s in (256, 255))
        diff = rescaled - stored
        out[f"L{k}"] = {
            "stored": float(np.mean(stored)),
            "rescaled": float(np.mean(rescaled)),
            "diff": float(np.mean(diff)),
            "se": float(np.std(diff, ddof=1) / np.sqrt(len(diff))),
            "seconds": round(time.perf_counter() - t0, 1),
        }
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", help="a trained MNIST run's results folder")
    parser.add_argument("--k", type=int, nargs="+", default=[1, 5000], help="L_K to compare")
    parser.add_argument("--data-dir", help="dataset folder (default: ../shared/data)")
    parser.add_argument("--out", help="write the JSON here too")
    args = parser.parse_args(argv)
    result = grey_level_worth(args.folder, tuple(args.k), args.data_dir)
    text = json.dumps(result, indent=2)
    if args.out:
        pathlib.Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        pathlib.Path(args.out).write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
