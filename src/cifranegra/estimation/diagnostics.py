"""Convergence diagnostics for MCMC draws, and applicability checks shared by the Bayesian families.

R-hat and effective sample size follow Vehtari, Gelman, Simpson, Carpenter & Bürkner (2021), "Rank-
normalization, folding, and localization: an improved R-hat for assessing convergence of MCMC",
Bayesian Analysis 16(2): split chains, rank-normalize, then the classic Gelman–Rubin ratio; the
effective sample size uses Geyer's (1992) initial monotone sequence on the chains' combined
autocorrelation. These are what Stan and ArviZ report, so our numbers are comparable with theirs.
"""

from __future__ import annotations

import math

import numpy as np

from cifranegra.errors import InputError, ModelError
from cifranegra.estimation._special import beta_ppf, norm_ppf  # scipy.special's import costs 0.1 s
from cifranegra.estimation.histories import CaptureHistories

RHAT_THRESHOLD = 1.01


def _as_chains(draws: np.ndarray) -> np.ndarray:
    x = np.asarray(draws, dtype=float)
    if x.ndim == 1:
        x = x[None, :]
    if x.ndim != 2:
        raise InputError("draws must be a (chains, draws) array")
    return x


def _split(x: np.ndarray) -> np.ndarray:
    n = x.shape[1]
    half = n // 2
    if half < 2:
        return x
    return np.concatenate([x[:, :half], x[:, n - half :]], axis=0)


def _average_ranks(flat: np.ndarray) -> np.ndarray:
    """Ranks 1..n with ties given their average rank, as ``scipy.stats.rankdata(method="average")``
    computes them (NaN anywhere gives all NaN, as its default policy does)."""
    if flat.size and np.isnan(flat).any():
        return np.full(flat.size, np.nan)
    order = np.argsort(flat, kind="mergesort")
    s = flat[order]
    first = np.r_[True, s[1:] != s[:-1]]
    dense = np.cumsum(first)
    count = np.r_[np.flatnonzero(first), first.size]
    ranks = np.empty(flat.size)
    ranks[order] = 0.5 * (count[dense] + count[dense - 1] + 1)
    return ranks


def _rank_normalize(x: np.ndarray) -> np.ndarray:
    flat = x.ravel()
    ranks = _average_ranks(flat)
    z = norm_ppf((ranks - 3.0 / 8.0) / (flat.size + 1.0 / 4.0))
    return np.asarray(z.reshape(x.shape))


def _rhat_raw(x: np.ndarray) -> float:
    m, n = x.shape
    if n < 2:
        return math.nan
    means = x.mean(axis=1)
    w = x.var(axis=1, ddof=1).mean()
    b = n * means.var(ddof=1) if m > 1 else 0.0
    if w <= 0:
        return math.nan if b <= 0 else math.inf
    var_plus = (n - 1) / n * w + b / n
    return float(math.sqrt(var_plus / w))


def rhat(draws: np.ndarray) -> float:
    """Rank-normalized split R-hat (max of bulk and folded tail); 1.0 means chains agree."""
    x = _as_chains(draws)
    if np.all(x == x.flat[0]):
        return 1.0
    s = _split(x)
    bulk = _rhat_raw(_rank_normalize(s))
    med = np.median(x)
    tail = _rhat_raw(_rank_normalize(np.abs(s - med)))
    return float(np.nanmax([bulk, tail]))


def _autocov(y: np.ndarray) -> np.ndarray:
    n = y.size
    yc = y - y.mean()
    size = 1 << math.ceil(math.log2(2 * n))
    f = np.fft.rfft(yc, size)
    ac = np.fft.irfft(f * np.conj(f), size)[:n]
    return np.asarray(ac / n)


def _ess_raw(x: np.ndarray) -> float:
    m, n = x.shape
    if n < 4:
        return float(m * n)
    acov = np.stack([_autocov(x[i]) for i in range(m)])
    chain_var = acov[:, 0] * n / (n - 1.0)
    w = chain_var.mean()
    var_plus = w * (n - 1.0) / n
    if m > 1:
        var_plus += x.mean(axis=1).var(ddof=1)
    if var_plus <= 0:
        return float(m * n)
    rho = 1.0 - (w - acov.mean(axis=0)) / var_plus
    rho[0] = 1.0
    # Geyer's initial positive and monotone sequence over pairs of lags
    t = 0
    pair_sums: list[float] = []
    while t + 1 < n:
        p = rho[t] + rho[t + 1]
        if p <= 0:
            break
        if pair_sums and p > pair_sums[-1]:
            p = pair_sums[-1]
        pair_sums.append(p)
        t += 2
    tau = -1.0 + 2.0 * sum(pair_sums)
    tau = max(tau, 1.0 / math.log10(m * n + 10))
    return float(m * n / tau)


def ess(draws: np.ndarray) -> float:
    """Bulk effective sample size (rank-normalized split chains)."""
    x = _as_chains(draws)
    if np.all(x == x.flat[0]):
        return float(x.size)
    return _ess_raw(_rank_normalize(_split(x)))


def ess_tail(draws: np.ndarray, prob: float = 0.05) -> float:
    """Tail effective sample size: min ESS of the indicators of the ``prob`` and ``1-prob``
    quantiles."""
    x = _as_chains(draws)
    out = []
    for q in (prob, 1 - prob):
        ind = (x <= np.quantile(x, q)).astype(float)
        if np.all(ind == ind.flat[0]):
            out.append(float(x.size))
        else:
            out.append(_ess_raw(_split(ind)))
    return float(min(out))


def mcse_quantile(draws: np.ndarray, prob: float = 0.5) -> float:
    """Monte Carlo standard error of a quantile (Vehtari et al. 2021, section 4.3)."""
    x = _as_chains(draws)
    ind = (x <= np.quantile(x, prob)).astype(float)
    s = x.size
    e = float(s) if np.all(ind == ind.flat[0]) else _ess_raw(_split(ind))
    a = np.array([beta_ppf(q, e * prob + 1, e * (1 - prob) + 1) for q in (0.1586553, 0.8413447)])
    sx = np.sort(x.ravel())
    idx = np.clip((a * s).astype(int), 0, s - 1)
    return float((sx[idx[1]] - sx[idx[0]]) / 2)


# ------------------------------------------------------------------ applicability of a method
def require_usable(
    histories: CaptureHistories,
    method: str,
    *,
    min_lists: int,
    max_lists: int | None = None,
    alternatives: str = "",
    too_many: str = "",
) -> None:
    """Raise a clear error when ``method`` cannot be applied to these capture histories.

    Checked: number of lists, lists with nobody on them, and no overlap at all between lists (then
    nothing identifies the number never seen). ``alternatives`` is the advice for too few lists,
    ``too_many`` for too many.
    """
    k = histories.n_lists
    alt = f"; {alternatives}" if alternatives else ""
    if k < min_lists:
        raise InputError(f"method {method!r} needs at least {min_lists} lists, got {k}{alt}")
    if max_lists is not None and k > max_lists:
        more = f"; {too_many}" if too_many else ""
        raise InputError(f"method {method!r} supports at most {max_lists} lists, got {k}{more}")
    if histories.observed == 0:
        raise InputError(f"method {method!r}: the capture histories are empty (no one observed)")
    sizes = histories.list_size_counts()
    empty = [str(name) for name, v in sizes.items() if v == 0]
    if empty:
        raise InputError(
            f"method {method!r}: list(s) {', '.join(repr(e) for e in empty)} have no one on "
            "them; drop "
            "them before estimating (--lists names the lists to keep; CaptureHistories.select_lists in Python)"
        )
    masks = np.arange(2**k)
    on_two = np.array([bin(int(m)).count("1") >= 2 for m in masks])
    if histories.counts[on_two].sum() == 0:
        raise ModelError(
            f"method {method!r}: no one appears on two lists, so the lists carry no information "
            "about the people none of them saw; check the record linkage, or report the observed "
            "count only"
        )
