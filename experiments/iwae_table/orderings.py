"""The IWAE paper's orderings read off a table, ours beside the paper's own.

Burda et al. (2015) draw four claims from their table 1: the test NLL falls as k grows, IWAE
beats the VAE for k > 1, IWAE keeps more active units, and 2 stochastic layers beat 1. Each
claim is a set of comparisons between two cells (the one that should be better, then the other);
this lists every comparison whose two cells are finished, with our numbers and the paper's on
the same cells. The paper does not keep every one itself (its Omniglot VAE is 0.18 nats worse at
k=50 than at k=5), which is why its column is there.
"""

from __future__ import annotations

from collections.abc import Iterable

Key = tuple[str, int, int, str]  # (dataset, layers, k, model)

NLL_FALLS_WITH_K = "NLL falls with k"
IWAE_BEATS_VAE = "IWAE beats the VAE"
MORE_ACTIVE_UNITS = "more active units with IWAE"
TWO_LAYERS_BEAT_ONE = "2 layers beat 1"


def comparisons(keys: Iterable[Key]) -> list[tuple[str, Key, Key]]:
    """``(claim, should-be-better cell, other cell)`` for every comparison the claims make among
    ``keys``: consecutive finished k per (dataset, layers, model); VAE against IWAE at each
    k > 1; 1 layer against 2 at each (dataset, k, model), the shared k=1 run once."""
    cells = set(keys)
    out: list[tuple[str, Key, Key]] = []
    for d, layers, model in sorted({(d, l, m) for d, l, _, m in cells}):
        ks = sorted(k for dd, ll, k, m in cells if (dd, ll, m) == (d, layers, model))
        out += [
            (NLL_FALLS_WITH_K, (d, layers, big, model), (d, layers, small, model))
            for small, big in zip(ks, ks[1:])
        ]
    for d, layers, k in sorted({key[:3] for key in cells}):
        if k > 1 and (d, layers, k, "vae") in cells and (d, layers, k, "iwae") in cells:
            pair = (d, layers, k, "iwae"), (d, layers, k, "vae")
            out += [(IWAE_BEATS_VAE, *pair), (MORE_ACTIVE_UNITS, *pair)]
    for d, layers, k, model in sorted(cells):
        if layers == 2 and (d, 1, k, model) in cells and not (k == 1 and model == "vae"):
            out.append((TWO_LAYERS_BEAT_ONE, (d, 2, k, model), (d, 1, k, model)))
    return out


def value(cell: dict | tuple[float, str]) -> tuple[float, int]:
    """``(NLL, active units summed over layers)`` of our row JSON or the paper's
    ``(NLL, "21+5")``."""
    if isinstance(cell, tuple):
        return cell[0], sum(map(int, cell[1].split("+")))
    return cell["nll"], sum(cell["active_units"])


def holds(claim: str, better: tuple[float, int], other: tuple[float, int]) -> bool:
    """Whether ``better`` beats ``other`` under ``claim``, each ``(nll, active units)``: a
    strictly lower NLL, or strictly more active units for :data:`MORE_ACTIVE_UNITS`."""
    if claim == MORE_ACTIVE_UNITS:
        return better[1] > other[1]
    return better[0] < other[0]


def _label(claim: str, better: Key, other: Key) -> str:
    d, layers, k, model = better
    depth = f"{layers} layer{'s' if layers > 1 else ''}"
    if claim == NLL_FALLS_WITH_K:
        return f"{d}, {depth}, {model.upper()}: k={other[2]} → {k}"
    if claim == TWO_LAYERS_BEAT_ONE:
        name = "k=1" if k == 1 else f"{model.upper()} k={k}"
        return f"{d}, {name}: 1 → 2 layers"
    return f"{d}, {depth}, k={k}: VAE → IWAE"


def markdown(rows: dict[Key, dict], paper: dict[Key, tuple[float, str]]) -> list[str]:
    """The orderings section for the finished cells ``rows`` (key -> row JSON), the paper's
    table 1 ``paper`` (key -> (NLL, active units)) beside; empty when no comparison is
    possible."""
    found = comparisons(rows)
    if not found:
        return []

    def shown(claim: str, before: tuple[float, int], after: tuple[float, int]) -> str:
        if claim == MORE_ACTIVE_UNITS:
            return f"{before[1]} → {after[1]}"
        return f"{before[0]:.2f} → {after[0]:.2f} ({after[0] - before[0]:+.2f})"

    lines = [
        "## The paper's orderings",
        "",
        "Every comparison behind the paper's four claims whose two cells are finished here "
        "(from the cell that should be worse to the one that should be better; active units "
        "summed over layers), ours beside the paper's table 1 on the same cells. Each of ours "
        "is one seed: a margin of about 0.1 nats or less is not resolved (two seeds of one "
        "model differ by 0.06 in `results/cpu/differences/table.md`).",
        "",
        "| claim | comparison | ours | holds | paper | holds |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    tally = {"ours": 0, "paper": 0}
    for claim, better, other in found:
        cells = []
        for who, table in (("ours", rows), ("paper", paper)):
            ok = holds(claim, value(table[better]), value(table[other]))
            tally[who] += ok
            cells += [
                shown(claim, value(table[other]), value(table[better])),
                "yes" if ok else "**no**",
            ]
        lines.append(f"| {claim} | {_label(claim, better, other)} | " + " | ".join(cells) + " |")
    lines += [
        "",
        f"Holding: ours {tally['ours']} of {len(found)}, the paper's {tally['paper']} of "
        f"{len(found)}.",
        "",
    ]
    return lines
