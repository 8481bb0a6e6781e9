"""``jvae surgery`` and ``jvae posterior-figure``: the lecture's diagnostics of a trained model,
ELBO surgery over the training images (:mod:`jvae.diagnostics.surgery`) and the q_EW density
images of a 2-D latent (:mod:`jvae.diagnostics.importance_resampling`)."""

from __future__ import annotations

import argparse
import pathlib
import sys
from collections.abc import Callable, Sequence
from typing import Any

import jax
import numpy as np

from jvae.cli.common import guarded

SURGERY_FILE = "surgery.json"
FIGURE_FILE = "posterior_qew.png"


def _images(spec: Any, split: str, data_dir: str | None) -> np.ndarray:
    """All images of ``split`` (no validation carve-out, no subset); training images are
    statically binarised (seed 0), test images already are."""
    from jvae import data as data_lib
    from jvae.run.train import load_arrays

    full = spec.replace(validation=0, patience=0, train_subset=0, test_subset=0)
    images = load_arrays(full, data_dir)[split]
    return data_lib.static_binarize(images, seed=0) if split == "train" else images


def _checked_run(workdir: str | pathlib.Path, check: Callable[[Any], None]) -> tuple:
    """``(config, model, params)`` of a results folder, after ``check(model)`` has passed on
    the model its config describes (so a wrong model is refused before any restoring)."""
    from jvae.run.evaluate import load_run
    from jvae.run.spec import RunSpec
    from jvae.run.train import build_model

    path = pathlib.Path(workdir) / "config.json"
    if path.exists():  # else load_run says what is missing
        check(build_model(RunSpec.from_json(path.read_text())))
    return load_run(workdir)


def checkpoint_surgery(
    workdir: str | pathlib.Path,
    rng_key: jax.Array,
    n: int = 0,
    num_samples: int = 2,
    batch_size: int = 500,
    chunk_size: int = 512,
    data_dir: str | None = None,
) -> dict[str, Any]:
    """ELBO surgery of a ``jvae train`` results folder over its first ``n`` training images
    (0: all), statically binarised; the result of
    :func:`jvae.diagnostics.surgery.elbo_surgery` with the run's description added."""
    from jvae.diagnostics.surgery import check_surgery_model, elbo_surgery

    spec, model, params = _checked_run(workdir, check_surgery_model)
    data = _images(spec, "train", data_dir)
    if n < 0 or n > len(data):
        raise ValueError(f"--n must lie in 1..{len(data)} (0: all training images); got {n}.")
    data = data[:n] if n else data
    result = elbo_surgery(model, params, rng_key, data, num_samples, batch_size, chunk_size)
    result["run"] = {
        "workdir": str(workdir),
        "model": spec.objective.model,
        "k": spec.objective.k,
        "prior": spec.model.prior,
        "latent_size": model.latent_sizes[0],
        "preset": spec.preset,
        "data": f"first {len(data)} training images of {spec.data.dataset}, statically binarised",
    }
    return result


def checkpoint_posterior_figure(
    workdir: str | pathlib.Path,
    rng_key: jax.Array,
    out: str | pathlib.Path,
    num_images: int = 4,
    ks: Sequence[int] = (1, 5, 50),
    resolution: int = 80,
    num_inner: int = 1000,
    data_dir: str | None = None,
) -> pathlib.Path:
    """The q_EW figure of a results folder with a 2-D latent, for its first ``num_images``
    test images; returns the PNG's path."""
    from jvae.diagnostics.importance_resampling import check_2d_latent, model_posterior_panels
    from jvae.reports.posterior_figure import save_posterior_figure

    spec, model, params = _checked_run(workdir, check_2d_latent)
    images = _images(spec, "test", data_dir)[:num_images]
    panels = model_posterior_panels(model, params, rng_key, images, ks, resolution, num_inner)
    title = (
        f"{spec.objective.model.upper()} k={spec.objective.k}, prior {spec.model.prior}, 2-D "
        "latent: true posterior, "
        f"q and q_EW (importance resampling from K draws of q)"
    )
    return save_posterior_figure(panels, out, title, images, model.event_shape)


def add_parsers(subparsers: Any) -> None:
    """Adds ``surgery`` and ``posterior-figure`` to an ``argparse`` sub-parser collection."""
    p = subparsers.add_parser(
        "surgery",
        help="ELBO = reconstruction - mutual information - marginal KL, over training images",
        description="ELBO surgery (Hoffman & Johnson 2016) of a results folder's model over its "
        "first N training images: writes WORKDIR/surgery.json and prints the decomposition.",
    )
    p.add_argument("--workdir", required=True, help="results folder of `jvae train`")
    p.add_argument("--n", type=int, default=0, help="training images (default 0: all)")
    p.add_argument("--samples", type=int, default=2, help="draws per example (>= 2)")
    p.add_argument("--batch-size", type=int, default=500, help="examples per jitted call")
    p.add_argument("--chunk-size", type=int, default=512, help="mixture components per step")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--data-dir", help="dataset folder (default: $JVAE_DATA_DIR or ../shared/data)")
    p.add_argument("--out", help=f"output JSON (default WORKDIR/{SURGERY_FILE})")
    p.set_defaults(handler=run_surgery)
    f = subparsers.add_parser(
        "posterior-figure",
        help="density images of p(z|x), q and q_EW (K = 1, 5, 50) for a 2-D latent",
        description="For a results folder whose model has one 2-D latent: density images of "
        "the true posterior, q and the importance-resampled q_EW for a few test images "
        f"(WORKDIR/{FIGURE_FILE}).",
    )
    f.add_argument("--workdir", required=True, help="results folder of `jvae train`")
    f.add_argument("--images", type=int, default=4, help="test images, one row each")
    f.add_argument("--ks", type=int, nargs="+", default=[1, 5, 50], help="K of the q_EW panels")
    f.add_argument("--resolution", type=int, default=80, help="grid points per axis")
    f.add_argument("--inner", type=int, default=1000, help="sets of K-1 draws per density")
    f.add_argument("--seed", type=int, default=0)
    f.add_argument("--data-dir", help="dataset folder (default: $JVAE_DATA_DIR or ../shared/data)")
    f.add_argument("--out", help=f"output PNG (default WORKDIR/{FIGURE_FILE})")
    f.set_defaults(handler=run_posterior_figure)


def run_surgery(args: argparse.Namespace) -> int:
    """``jvae surgery``: prints the decomposition; exit status 0, or 2 on errors."""
    from jvae.reports.surgery import format_decomposition, write_surgery

    def go() -> int:
        result = checkpoint_surgery(
            args.workdir,
            jax.random.PRNGKey(args.seed),
            args.n,
            args.samples,
            args.batch_size,
            args.chunk_size,
            args.data_dir,
        )
        path = write_surgery(result, args.out or pathlib.Path(args.workdir) / SURGERY_FILE)
        print(format_decomposition(result))
        print(f"written to {path} ({result['seconds']:.1f} s)", file=sys.stderr)
        return 0

    return guarded(go)


def run_posterior_figure(args: argparse.Namespace) -> int:
    """``jvae posterior-figure``: writes the PNG; exit status 0, or 2 on errors."""

    def go() -> int:
        if args.images < 1 or args.resolution < 2 or args.inner < 1 or min(args.ks) < 1:
            raise ValueError("need --images >= 1, --resolution >= 2, --inner >= 1 and K >= 1.")
        path = checkpoint_posterior_figure(
            args.workdir,
            jax.random.PRNGKey(args.seed),
            args.out or pathlib.Path(args.workdir) / FIGURE_FILE,
            args.images,
            args.ks,
            args.resolution,
            args.inner,
            args.data_dir,
        )
        print(f"q_EW figure written to {path}")
        return 0

    return guarded(go)
