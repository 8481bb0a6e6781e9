"""The cost of annealed importance sampling per example, its scaling with T and with chains, and
AIS against importance sampling at equal decoder evaluations.

Models: the linear-Gaussian model with an imperfect q (exact log p(x)) and, with ``--workdir``,
a trained MNIST model (``jvae train --preset smoke --model vae --k 1 --workdir W``), on its
first test images (statically binarised as in training).

Cost: one jitted call per configuration (compiled once for every T, timed warm), wall and
process CPU seconds per example, and per gradient evaluation. Equal evaluations: AIS with C
chains at T costs ``C (T - 1 + W - 1)(L + 1)`` gradient evaluations per example (W pilot
levels, L leapfrog steps; each a decoder pass forward and back); importance sampling L_K is
given the same number K of decoder passes (forward only, so about a third of the compute).

    python benchmarks/bench_ais.py                                  # linear-Gaussian only
    python benchmarks/bench_ais.py --workdir runs/ais_probe_full --examples 20
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(ROOT))

from common import command, describe, machine, timed, write  # noqa: E402

from jvae.diagnostics import ais, nll, tightness  # noqa: E402


def load_mnist(workdir: str, examples: int, data_dir: str | None):
    """``(model, params, x [N, 784])`` of a trained run, whichever loader this tree has."""
    try:
        from jvae.run.evaluate import load_run
    except ImportError:  # the older run layer
        from jvae.run.experiment import load_run
    spec, model, params = load_run(workdir)
    from jvae.data import load_dataset

    test = load_dataset("mnist", data_dir)["test"]
    from jvae.data.binarize import static_binarize

    x = static_binarize(np.asarray(test[:examples], np.float32).reshape(examples, -1))
    return model, params, np.asarray(x, np.float32)


def cost_rows(model, params, x, steps, chains, batch, log) -> list[dict]:
    """Warm wall/CPU seconds per example of AIS at each (T, C)."""
    rows = []
    for c in chains:
        options = ais.AISOptions(num_chains=c)
        evaluate = ais.make_ais(model, options)
        xb = jnp.asarray(x[:batch])
        key = jax.random.PRNGKey(0)
        evaluate(params, key, xb, 2).log_px.block_until_ready()  # compile once for every T
        for t in steps:

            def call(t=t, evaluate=evaluate, key=key, xb=xb):
                evaluate(params, key, xb, t).log_px.block_until_ready()

            wall, cpu = timed(call)
            evals = ais.gradient_evaluations(t, c, options.leapfrog_steps, options.warmup_steps)
            row = {
                "chains": c,
                "steps": t,
                "wall_per_example_s": wall / batch,
                "cpu_per_example_s": cpu / batch,
                "gradient_evaluations": evals,
                "us_per_gradient_evaluation": 1e6 * wall / batch / max(evals, 1),
            }
            rows.append(row)
            log(
                f"C={c} T={t}: {row['wall_per_example_s'] * 1e3:.1f} ms/example "
                f"({row['us_per_gradient_evaluation']:.2f} us per gradient evaluation)"
            )
    return rows


def equal_cost_rows(model, params, x, steps, chains, exact, log, max_k) -> list[dict]:
    """AIS at T against L_K with K = AIS's evaluations, on the same examples."""
    options = ais.AISOptions(num_chains=chains)
    rows = []
    for t in steps:
        res = ais.dataset_ais(model, params, jax.random.PRNGKey(1), x, t, options, batch_size=50)
        evals = max(ais.gradient_evaluations(t, chains, 10, options.warmup_steps), chains)
        k = min(evals, max_k)
        holder = {}

        def bound(k=k, holder=holder):
            holder["v"] = nll.dataset_bound(
                model=model, params=params, rng_key=jax.random.PRNGKey(2), data=x, num_samples=k
            )

        wall_is, _ = timed(bound)
        iwae = holder["v"]
        row = {
            "steps": t,
            "evaluations": evals,
            "ais_mean": float(np.mean(res["log_px"])),
            "ais_seconds": float(res["seconds"]),
            "k": k,
            "iwae_mean": float(np.mean(iwae)),
            "iwae_seconds": wall_is,
            "ais_minus_iwae": float(np.mean(res["log_px"] - iwae)),
            "ais_minus_iwae_se": float(np.std(res["log_px"] - iwae, ddof=1) / np.sqrt(len(x))),
        }
        if exact is not None:
            row["ais_true_gap"] = float(np.mean(exact - res["log_px"]))
            row["iwae_true_gap"] = float(np.mean(exact - iwae))
        rows.append(row)
        log(
            f"T={t} ({evals} evaluations): AIS {row['ais_mean']:.3f}, L_{k} "
            f"{row['iwae_mean']:.3f}, AIS - L_K {row['ais_minus_iwae']:.3f} "
            f"± {row['ais_minus_iwae_se']:.3f}"
        )
    return rows


def markdown(payload: dict) -> str:
    lines = [
        "# AIS: cost per example and AIS against importance sampling",
        "",
        f"`{payload['command']}`",
        "",
        f"Machine: {payload['machine']}. Wall times are warm (compiled once for every T); the "
        "machine was shared with other jobs, so treat absolute times as upper bounds and the "
        "ratios as the result.",
        "",
    ]
    for name, part in payload["models"].items():
        lines += [
            f"## {name}",
            "",
            "| C | T | ms / example (wall) | CPU ms / example | "
            "gradient evals / example | µs / gradient eval |",
            "| --- |" * 6,
        ]
        lines[-1] = "|" + " --- |" * 6
        for r in part["cost"]:
            lines.append(
                f"| {r['chains']} | {r['steps']} | {r['wall_per_example_s'] * 1e3:.1f} | "
                f"{r['cpu_per_example_s'] * 1e3:.1f} | {r['gradient_evaluations']} | "
                f"{r['us_per_gradient_evaluation']:.2f} |"
            )
        exact = any("ais_true_gap" in r for r in part["equal"])
        head = ["T", "evaluations", "AIS", "K", "L_K", "AIS − L_K", "AIS s", "L_K s"]
        head += ["log p − AIS", "log p − L_K"] if exact else []
        lines += [
            "",
            "At equal decoder evaluations (AIS s: wall seconds of the pass, the first T "
            "including compilation; L_K s include compiling each K) "
            f"({part['equal_examples']} examples, {part['equal_chains']} chains):",
            "",
            "| " + " | ".join(head) + " |",
            "|" + " --- |" * len(head),
        ]
        for r in part["equal"]:
            cells = [
                str(r["steps"]),
                str(r["evaluations"]),
                f"{r['ais_mean']:.3f}",
                str(r["k"]),
                f"{r['iwae_mean']:.3f}",
                f"{r['ais_minus_iwae']:.3f} ± {r['ais_minus_iwae_se']:.3f}",
                f"{r['ais_seconds']:.1f}",
                f"{r['iwae_seconds']:.1f}",
            ]
            if exact:
                cells += [f"{r['ais_true_gap']:.4f}", f"{r['iwae_true_gap']:.4f}"]
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", help="a trained MNIST run (else linear-Gaussian only)")
    parser.add_argument("--data-dir")
    parser.add_argument("--examples", type=int, default=20, help="MNIST examples")
    parser.add_argument("--steps", default="10,100,1000", help="T of the cost table")
    parser.add_argument("--chains", default="4,16,64", help="C of the cost table")
    parser.add_argument("--equal-steps", default="1,10,100", help="T of the equal-cost table")
    parser.add_argument("--max-k", type=int, default=100_000, help="largest K of L_K")
    parser.add_argument("--skip-linear-gaussian", action="store_true")
    parser.add_argument("--name", default="ais_cost")
    args = parser.parse_args()
    steps = [int(t) for t in args.steps.split(",")]
    chains = [int(c) for c in args.chains.split(",")]
    equal_steps = [int(t) for t in args.equal_steps.split(",")]

    def log(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    payload = {"command": command(), "machine": describe(machine()), "models": {}}
    if not args.skip_linear_gaussian:
        model, params = tightness.imperfect_linear_gaussian(jax.random.PRNGKey(3))
        x, exact = tightness.linear_gaussian_data(jax.random.PRNGKey(4), params, 100)
        log("linear-Gaussian (16-D data, 8 latents, imperfect q)")
        payload["models"]["linear-Gaussian (16-D x, 8-D z, imperfect q)"] = {
            "cost": cost_rows(model, params, x, steps, chains, 100, log),
            "equal": equal_cost_rows(
                model, params, x, equal_steps + [1000], 16, exact, log, args.max_k
            ),
            "equal_examples": 100,
            "equal_chains": 16,
        }
    if args.workdir:
        model, params, x = load_mnist(args.workdir, args.examples, args.data_dir)
        log(f"MNIST model {args.workdir}")
        payload["models"][f"MNIST VAE ({args.workdir})"] = {
            "cost": cost_rows(model, params, x, steps, chains, len(x), log),
            "equal": equal_cost_rows(model, params, x, equal_steps, 16, None, log, args.max_k),
            "equal_examples": len(x),
            "equal_chains": 16,
        }
    write(args.name, payload, markdown(payload))


if __name__ == "__main__":
    main()
