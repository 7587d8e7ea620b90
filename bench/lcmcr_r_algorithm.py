"""R LCMCR's sampler written again from its description, for the Netherlands question (issue #17).

An independent check, not part of the package: the blocked Gibbs scan of CRAN LCMCR 0.4.14's
``NPLCM_CR_Basic_Freq`` as its source reads (read, not copied), in its order — latent-class counts of
each observed pattern (multinomial), capture probabilities (beta), stick-breaking weights (on the log
scale, from log-gamma variates), the unseen count given the parameters (negative binomial, its prior
p(N) ∝ 1/N, redrawn while above ``cap_factor`` × n − n as R does at 20 n), the unseen people's
classes (multinomial), then the concentration α (gamma) — and its start: every class's capture
probability at the list's share of the observed people, class weights 0.225 × 4 and the rest spread
evenly, α = 0.3 / K held fixed through 500 warm-up sweeps, then classes ordered by weight. ``start``
``"dispersed"`` starts instead from capture probabilities ~ Beta(1, 3) and sticks from the prior,
to ask whether R's start decides where its chains end up.

    python bench/lcmcr_r_algorithm.py --chains 8 --seed 1 [--start dispersed] [--burn-in 100000 --thin 100]
    for s in 1 2 3 4 5 6; do python bench/lcmcr_r_algorithm.py --seed $s --save ned_r_$s.npy; done
    python bench/lcmcr_r_algorithm.py --summarise ned_r_*.npy

``--summarise`` pools saved runs: the chains that stayed in the main region (under 1% of their draws
below ``--low``), their medians' mean and standard deviation (a single chain's Monte Carlo spread,
which a single chain's effective sample size does not show), and the pooled median of every chain's
draws at or above ``--low``.

Prints each chain's median of N and its effective sample size (one chain, as coda's figure for R is),
and the pooled median, 95% interval and R-hat (cifranegra's rank
normalised split R-hat). Numba-compiled; a chain of R's 1.1 M sweeps takes about 20 s here.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import numba
import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))


@numba.njit(cache=True)
def _log_gamma_variate(a: float) -> float:
    """log of a Gamma(a, 1) variate, accurate for small a (log G(a) = log G(a + 1) + log(U) / a)."""
    if a < 1.0:
        return math.log(np.random.gamma(a + 1.0, 1.0)) + math.log(1.0 - np.random.random()) / a
    return math.log(np.random.gamma(a, 1.0))


@numba.njit(cache=True)
def _multinomial(n: int, p: np.ndarray, out: np.ndarray) -> None:
    """out ~ Multinomial(n, p / sum(p)) by successive binomials."""
    total = 0.0
    for k in range(p.size):
        total += p[k]
    left = n
    rest = total
    for k in range(p.size):
        if left == 0 or rest <= 0.0:
            out[k] = 0
            continue
        q = min(max(p[k] / rest, 0.0), 1.0)
        x = np.random.binomial(left, q) if k < p.size - 1 else left
        out[k] = x
        left -= x
        rest -= p[k]


@numba.njit(cache=True)
def _scan(cells, freq, n, lam, nu, log_nu, alpha, n0, count0, czk, cap, update_alpha, a_alpha, b_alpha,  # type: ignore[no-untyped-def]
          probs, row, count):
    """One sweep in R's order; ``probs``, ``row`` and ``count`` are scratch arrays of length K."""
    n_pat, n_lists = cells.shape
    k = nu.size
    # 1. classes of the observed people, pattern by pattern
    for m in range(n_pat):
        for c in range(k):
            pr = nu[c]
            for j in range(n_lists):
                pr *= lam[j, c] if cells[m, j] == 1 else 1.0 - lam[j, c]
            probs[c] = pr
        _multinomial(freq[m], probs, row)
        for c in range(k):
            czk[m, c] = row[c]
    # 2. capture probabilities
    for j in range(n_lists):
        for c in range(k):
            ones = 0
            zeros = count0[c]
            for m in range(n_pat):
                if cells[m, j] == 1:
                    ones += czk[m, c]
                else:
                    zeros += czk[m, c]
            lam[j, c] = np.random.beta(1.0 + ones, 1.0 + zeros)
    # 3. stick-breaking weights on the log scale
    for c in range(k):
        count[c] = count0[c]
        for m in range(n_pat):
            count[c] += czk[m, c]
    acc_n = 0
    acc_log = 0.0
    for c in range(k - 1):
        acc_n += count[c]
        g1 = _log_gamma_variate(1.0 + count[c])
        g2 = _log_gamma_variate(alpha + (n0 + n - acc_n))
        mx = max(g1, g2)
        ls = mx + math.log(math.exp(g1 - mx) + math.exp(g2 - mx))
        log_nu[c] = g1 - ls + acc_log
        acc_log += g2 - ls
        nu[c] = math.exp(log_nu[c])
    log_nu[k - 1] = acc_log
    nu[k - 1] = math.exp(acc_log)
    # 4-5. the unseen count given the parameters, redrawn above the cap
    p0 = 0.0
    for c in range(k):
        pr = nu[c]
        for j in range(n_lists):
            pr *= 1.0 - lam[j, c]
        probs[c] = pr
        p0 += pr
    while True:
        n0 = np.random.negative_binomial(n, 1.0 - p0)
        if cap < 0 or n0 <= cap:
            break
    # 6. the unseen people's classes
    _multinomial(n0, probs, count0)
    # 7. the concentration
    if update_alpha:
        alpha = np.random.gamma(a_alpha + k - 1.0, 1.0 / (b_alpha - log_nu[k - 1]))
    return alpha, n0


@numba.njit(cache=True)
def r_chain(cells, freq, k, a_alpha, b_alpha, burn_in, samples, thin, seed, cap_factor, r_start):  # type: ignore[no-untyped-def]
    """One chain; returns the draws of N (every ``thin``-th sweep after ``burn_in``)."""
    np.random.seed(seed)
    n_pat, n_lists = cells.shape
    n = 0
    for m in range(n_pat):
        n += freq[m]
    cap = int(math.floor(cap_factor * n)) - n if cap_factor > 0 else -1  # noqa: RUF046 (numba's floor)
    lam = np.empty((n_lists, k))
    nu = np.empty(k)
    log_nu = np.empty(k)
    count0 = np.zeros(k, dtype=np.int64)
    czk = np.zeros((n_pat, k), dtype=np.int64)
    n0 = 0
    probs, row, count = np.empty(k), np.empty(k, dtype=np.int64), np.empty(k, dtype=np.int64)
    if r_start:
        for j in range(n_lists):
            s = 0
            for m in range(n_pat):
                if cells[m, j] == 1:
                    s += freq[m]
            for c in range(k):
                lam[j, c] = s / n
        for c in range(k):
            nu[c] = 0.225 if c < 4 else 0.1 / (k - 4)
            log_nu[c] = math.log(nu[c])
        alpha = 0.3 / k
        for _ in range(500):
            alpha, n0 = _scan(cells, freq, n, lam, nu, log_nu, alpha, n0, count0, czk, cap, False, a_alpha, b_alpha,
                              probs, row, count)
        order = np.argsort(-nu)
        lam[:, :] = lam[:, order].copy()
        nu[:] = nu[order].copy()
        log_nu[:] = log_nu[order].copy()
        count0[:] = count0[order].copy()
    else:
        for j in range(n_lists):
            for c in range(k):
                lam[j, c] = np.random.beta(1.0, 3.0)
        alpha = max(np.random.gamma(a_alpha, 1.0 / b_alpha), 1e-3)
        acc = 0.0
        for c in range(k - 1):
            v = min(np.random.beta(1.0, alpha), 1.0 - 1e-12)
            log_nu[c] = math.log(v) + acc
            acc += math.log1p(-v)
        log_nu[k - 1] = acc
        for c in range(k):
            nu[c] = math.exp(log_nu[c])
    out = np.empty(samples, dtype=np.int64)
    saved = 0
    for it in range(burn_in + samples * thin):
        alpha, n0 = _scan(cells, freq, n, lam, nu, log_nu, alpha, n0, count0, czk, cap, True, a_alpha, b_alpha,
                          probs, row, count)
        if it >= burn_in and (it - burn_in) % thin == thin - 1:
            out[saved] = n + n0
            saved += 1
    return out


def summarise(paths: list[Path], low: float) -> None:
    chains = np.vstack([np.load(p) for p in paths]).astype(float)
    share_low = (chains < low).mean(axis=1)
    main_meds = np.array([np.median(c[c >= low]) if (c >= low).any() else np.nan for c in chains])
    clean = main_meds[share_low < 0.01]
    above = np.concatenate([c[c >= low] for c in chains])
    print(f"{len(chains)} chains from {len(paths)} runs; {np.mean(share_low):.1%} of all draws below {low:,.0f}")
    print(f"chains with under 1% of draws below {low:,.0f}: {len(clean)}; their medians {clean.min():,.0f}-"
          f"{clean.max():,.0f}, mean {clean.mean():,.0f}, sd {clean.std(ddof=1):,.0f}")
    print("  sorted: " + ", ".join(f"{v:,.0f}" for v in np.sort(clean)))
    print(f"every chain's draws at or above {low:,.0f}, pooled: median {np.median(above):,.0f} "
          f"[{np.quantile(above, 0.025):,.0f}, {np.quantile(above, 0.975):,.0f}]")


def main() -> None:
    from bench_bayes import load
    from cifranegra.estimation.diagnostics import ess, rhat

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--table", default="SparseMSE_Ned.csv")
    ap.add_argument("--chains", type=int, default=8)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--start", choices=("r", "dispersed"), default="r")
    ap.add_argument("--classes", type=int, default=10)
    ap.add_argument("--burn-in", type=int, default=100_000)
    ap.add_argument("--samples", type=int, default=10_000)
    ap.add_argument("--thin", type=int, default=100)
    ap.add_argument("--cap-factor", type=float, default=21.0, help="N <= floor(c n), as R's redraws at n0 <= 20 n")
    ap.add_argument("--low", type=float, default=90_000,
                    help="count each chain's draws below this (the Netherlands' low region: docs/bayesian.md)")
    ap.add_argument("--save", type=Path, help="write the draws (chains x samples) to this .npy file")
    ap.add_argument("--summarise", type=Path, nargs="+", help="pool saved .npy runs instead of sampling")
    args = ap.parse_args()
    if args.summarise:
        summarise(args.summarise, args.low)
        return
    h = load(args.table)
    cells = np.ascontiguousarray(h.pattern_matrix()).astype(np.int64)
    freq = np.ascontiguousarray(h.counts[h.masks()]).astype(np.int64)
    draws = []
    for c in range(args.chains):
        t0 = time.perf_counter()
        d = r_chain(cells, freq, args.classes, 0.25, 0.25, args.burn_in, args.samples, args.thin,
                    args.seed * 1000 + c, args.cap_factor, args.start == "r")
        draws.append(d)
        print(f"chain {c}: median {np.median(d):,.0f}, ESS {ess(d[None, :].astype(float)):,.0f}, "
              f"{np.mean(d < args.low):.1%} of draws below {args.low:,.0f} ({time.perf_counter() - t0:.0f} s)",
              flush=True)
    arr = np.asarray(draws, dtype=float)
    if args.save:
        np.save(args.save, arr)
    flat = arr.ravel()
    lo, med, hi = np.quantile(flat, [0.025, 0.5, 0.975])
    print(f"start {args.start}, seed {args.seed}: chain medians "
          + ", ".join(f"{np.median(d):,.0f}" for d in draws)
          + f"; pooled {med:,.0f} [{lo:,.0f}, {hi:,.0f}], R-hat {rhat(arr):.3f}")


if __name__ == "__main__":
    main()
