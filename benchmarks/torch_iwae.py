"""A plain, careful PyTorch reference of jvae's 1-layer IWAE training step (for speed ratios).

Same network and loss as ``jvae.models.iwae_mlp(1)`` with ``jvae.bounds.iwae``:

- encoder 784-200-200 (tanh) with linear heads ``mu`` and ``log sigma`` (50 each),
  :math:`\\sigma = \\exp(\\log\\sigma)`;
- K reparameterised draws stacked into the batch, ``[K*B, 50]``;
- Bernoulli decoder 50-200-200-784 (tanh), logits;
- :math:`\\log w = \\log p(x|z) + \\log p(z) - \\log q(z|x)`, loss
  :math:`-\\frac1B \\sum_b \\log \\frac1K \\sum_k w_{kb}`;
- Adam (lr 1e-3, betas 0.9/0.999, eps 1e-4), fused where the build supports it;
- dynamic binarisation of each batch (``torch.bernoulli``), as
  ``jvae.training.train.make_train_step``.

Careful choices: ``(z - mu) / sigma`` is ``eps`` exactly, so ``log q`` uses ``eps`` (same value
and same reparameterised gradient); the Bernoulli term is ``-BCEWithLogits`` (one fused kernel);
``set_to_none`` zeroing; no Python work per step besides the module calls.

Run ``python benchmarks/torch_iwae.py --k 50 --steps 50`` for a standalone steps/s figure.
"""

from __future__ import annotations

import argparse
import math
import time

import torch
import torch.nn.functional as F
from torch import nn

LOG_2PI = math.log(2.0 * math.pi)


class IWAE(nn.Module):
    """784-200-200-50 Gaussian encoder, 50-200-200-784 Bernoulli decoder (tanh)."""

    def __init__(self, data_dim: int = 784, hidden: int = 200, latent: int = 50):
        super().__init__()
        self.enc = nn.Sequential(
            nn.Linear(data_dim, hidden), nn.Tanh(), nn.Linear(hidden, hidden), nn.Tanh()
        )
        self.mean = nn.Linear(hidden, latent)
        self.log_scale = nn.Linear(hidden, latent)
        self.dec = nn.Sequential(
            nn.Linear(latent, hidden),
            nn.Tanh(),
            nn.Linear(hidden, hidden),
            nn.Tanh(),
            nn.Linear(hidden, data_dim),
        )
        self.latent = latent

    def loss(self, x: torch.Tensor, k: int) -> torch.Tensor:
        """Negative IWAE bound averaged over the batch; ``x`` is ``[B, D]`` binary."""
        b = x.shape[0]
        h = self.enc(x)
        mu, log_scale = self.mean(h), self.log_scale(h)
        eps = torch.randn(k, b, self.latent, device=x.device)
        z = mu + torch.exp(log_scale) * eps  # [K, B, d]
        logits = self.dec(z.reshape(k * b, self.latent))  # [K*B, D]
        log_px = -F.binary_cross_entropy_with_logits(logits, x.repeat(k, 1), reduction="none").sum(
            -1
        )
        log_pz = -0.5 * (z.square() + LOG_2PI).sum(-1)
        log_qz = (-0.5 * LOG_2PI - log_scale - 0.5 * eps.square()).sum(-1)
        log_w = log_px.view(k, b) + log_pz - log_qz  # [K, B]
        bound = torch.logsumexp(log_w, 0) - math.log(k)
        return -bound.mean()


def make_optimizer(model: nn.Module) -> torch.optim.Optimizer:
    """Adam eps 1e-4: fused kernel if this build has it on the model's device, else foreach."""
    try:
        return torch.optim.Adam(
            model.parameters(), lr=1e-3, betas=(0.9, 0.999), eps=1e-4, fused=True
        )
    except (RuntimeError, TypeError):
        return torch.optim.Adam(
            model.parameters(), lr=1e-3, betas=(0.9, 0.999), eps=1e-4, foreach=True
        )


def make_step(model: IWAE, opt: torch.optim.Optimizer, k: int):
    """``step(batch[B, D] grey levels) -> loss tensor``: one Adam step."""

    def step(batch: torch.Tensor) -> torch.Tensor:
        x = torch.bernoulli(batch)
        opt.zero_grad(set_to_none=True)
        loss = model.loss(x, k)
        loss.backward()
        opt.step()
        return loss

    return step


def setup(k: int, threads: int = 2, seed: int = 0, device: str = "cpu"):
    """``(step, model)`` for K samples, with ``threads`` intra-op threads, on ``device``."""
    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    model = IWAE().to(device)
    return make_step(model, make_optimizer(model), k), model


def run_steps(step, data: torch.Tensor, batch_size: int, steps: int) -> float:
    """Runs ``steps`` steps over ``data`` (cycling batches); returns seconds taken."""
    n = data.shape[0] // batch_size
    t0 = time.perf_counter()
    for i in range(steps):
        j = i % n
        loss = step(data[j * batch_size : (j + 1) * batch_size])
    float(loss.detach())
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--k", type=int, default=1)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    args = parser.parse_args()
    step, _ = setup(args.k, args.threads, device=args.device)
    data = torch.rand(60 * args.batch, 784, device=args.device)
    run_steps(step, data, args.batch, 5)  # warm-up
    dt = run_steps(step, data, args.batch, args.steps)
    print(f"torch {torch.__version__} K={args.k} B={args.batch}: {args.steps / dt:.1f} steps/s")


if __name__ == "__main__":
    main()
