"""Compiled inner loop of the LCMCR Gibbs sampler (numba; see :mod:`.lcmcr` for the model).

People with the same capture pattern are exchangeable given the parameters, so their latent classes
are drawn together as one multinomial per pattern: the cost of a sweep is patterns × classes ×
lists, not people × classes × lists as in the individual-level sampler of the R package. Each chain
seeds numba's own generator from its seed and runs in one thread without the GIL, so chains run in
parallel threads and a chain's numbers depend only on its seed.
"""

from __future__ import annotations

import math

import numba
import numpy as np


@numba.njit(cache=True, nogil=True)
def _multinomial(n: int, p: np.ndarray, out: np.ndarray, order: np.ndarray) -> None:
    """``out`` ← Multinomial(n, p) by sequential binomials (p sums to 1), largest cells first so
    that the count left over runs out after a few cells (empty latent classes cost nothing)."""
    k = p.size
    for i in range(k):  # insertion sort, descending
        j = i
        while j > 0 and p[order[j - 1]] < p[i]:
            order[j] = order[j - 1]
            j -= 1
        order[j] = i
        out[i] = 0
    remaining = n
    rest = 1.0
    for r in range(k - 1):
        if remaining <= 0 or rest <= 0.0:
            break
        i = order[r]
        q = p[i] / rest
        if q >= 1.0:
            out[i] = remaining
            remaining = 0
            break
        if q > 0.0:
            x = np.random.binomial(remaining, q)
            out[i] = x
            remaining -= x
        rest -= p[i]
    if remaining > 0:
        out[order[k - 1]] += remaining


@numba.njit(cache=True, nogil=True)
def _beta(a: float, b: float) -> float:
    """Beta(a, b) draw; exact closed forms when a or b is 1 (empty classes, lists that caught no one
    or everyone in a class: most draws), numpy's gamma-ratio method otherwise."""
    if a == 1.0:
        u = 1.0 - np.random.random()  # in (0, 1]
        return -math.expm1(math.log(u) / b)
    if b == 1.0:
        u = 1.0 - np.random.random()
        return math.exp(math.log(u) / a)
    return np.random.beta(a, b)


@numba.njit(cache=True, nogil=True)
def _sweep(
    patterns: np.ndarray,
    pcounts: np.ndarray,
    n_obs: int,
    k: int,
    a_alpha: float,
    b_alpha: float,
    alpha_fixed: float,
    collapsed_moves: int,
    adapt: bool,
    lam: np.ndarray,
    log_pi: np.ndarray,
    state: np.ndarray,
    width: np.ndarray,
    n_k: np.ndarray,
    s_jk: np.ndarray,
    log_lam: np.ndarray,
    log_1m: np.ndarray,
    w: np.ndarray,
    m: np.ndarray,
    order: np.ndarray,
    m0: np.ndarray,
    n_obs_k: np.ndarray,
    stats: np.ndarray,
) -> int:
    """One Gibbs sweep in place over (lam, log_pi, state = [alpha, alpha step]); returns n0.

    ``n_k`` holds the class sizes (observed + unobserved) of this sweep on return."""
    n_pat, n_lists = patterns.shape
    alpha = state[0]
    for j in range(n_lists):
        for c in range(k):
            log_lam[j, c] = math.log(lam[j, c])
            log_1m[j, c] = math.log1p(-lam[j, c])
    for c in range(k):
        n_k[c] = 0
        for j in range(n_lists):
            s_jk[j, c] = 0
    # 1. latent classes of the observed, one multinomial per capture pattern
    for p in range(n_pat):
        mx = -np.inf
        for c in range(k):
            lw = log_pi[c]
            for j in range(n_lists):
                if patterns[p, j]:
                    lw += log_lam[j, c]
                else:
                    lw += log_1m[j, c]
            w[c] = lw
            if lw > mx:
                mx = lw
        tot = 0.0
        for c in range(k):
            w[c] = math.exp(w[c] - mx)
            tot += w[c]
        for c in range(k):
            w[c] /= tot
        if pcounts[p] <= 4:  # a few people: one categorical draw each is cheaper
            for c in range(k):
                m[c] = 0
            for _person in range(pcounts[p]):
                u = np.random.random()
                c = 0
                cum = w[0]
                while u > cum and c < k - 1:
                    c += 1
                    cum += w[c]
                m[c] += 1
        else:
            _multinomial(pcounts[p], w, m, order)
        for c in range(k):
            if m[c] > 0:
                n_k[c] += m[c]
                for j in range(n_lists):
                    if patterns[p, j]:
                        s_jk[j, c] += m[c]
    # 2. the unobserved: n0 | rest ~ NegBin(n_obs, 1 - pi0) (prior p(N) ∝ 1/N), then their
    # classes
    seen = 0.0
    for c in range(k):
        lz = 0.0
        for j in range(n_lists):
            lz += log_1m[j, c]
        w[c] = math.exp(log_pi[c] + lz)  # P(class c and never seen)
        seen += math.exp(log_pi[c]) * (-math.expm1(lz))
    unseen = 0.0
    for c in range(k):
        unseen += w[c]
    if seen <= 0.0:
        seen = 1e-300
    rate = np.random.gamma(float(n_obs), unseen / seen) if n_obs > 0 else 0.0
    n0 = np.random.poisson(rate) if rate > 0 else 0
    for c in range(k):
        n_obs_k[c] = n_k[c]
        m0[c] = 0
    if n0 > 0:
        for c in range(k):
            w[c] /= unseen
        _multinomial(n0, w, m0, order)
    # 2b. collapsed Metropolis moves on the unobserved count of each class
    for _sweep in range(collapsed_moves):
        for c in range(k):
            step = math.ceil(width[c])
            delta = np.random.randint(-step, step + 1)
            if delta == 0:
                continue
            new = m0[c] + delta
            if new < 0:
                accepted = False
            else:
                accepted = _log_ratio_accept(c, m0[c], new, n_obs, n0, n_obs_k, m0, s_jk, alpha, k, n_lists)
            if accepted:
                n0 += new - m0[c]
                m0[c] = new
            if adapt:
                width[c] *= 1.05 if accepted else 0.97
                if width[c] < 1.0:
                    width[c] = 1.0
            else:
                stats[0] += 1
                if accepted:
                    stats[1] += 1
    for c in range(k):
        n_k[c] = n_obs_k[c] + m0[c]
    # 2c. collapsed move on the concentration: log-scale random walk with the stick-breaking
    # weights integrated out (they are drawn afresh below given the new alpha)
    if alpha_fixed <= 0 and collapsed_moves > 0:
        prop = alpha * math.exp(state[1] * np.random.standard_normal())
        lr = _log_alpha_target(prop, n_k, k, a_alpha, b_alpha) - _log_alpha_target(alpha, n_k, k, a_alpha, b_alpha)
        ok = lr >= 0.0 or math.log(np.random.random()) < lr
        if ok:
            alpha = prop
        if adapt:
            state[1] *= 1.02 if ok else 0.99
    # 3. item-response probabilities
    for j in range(n_lists):
        for c in range(k):
            x = _beta(1.0 + s_jk[j, c], 1.0 + n_k[c] - s_jk[j, c])
            lam[j, c] = min(max(x, 1e-300), 1.0 - 1e-15)
    # 4. stick-breaking weights
    tail = 0
    for c in range(k):
        tail += n_k[c]
    acc = 0.0
    sum_log1m = 0.0
    for c in range(k):
        tail -= n_k[c]
        if c < k - 1:
            vc = _beta(1.0 + n_k[c], alpha + tail)
            vc = min(max(vc, 1e-300), 1.0 - 1e-15)
            log_pi[c] = math.log(vc) + acc
            l1 = math.log1p(-vc)
            acc += l1
            sum_log1m += l1
        else:
            log_pi[c] = acc
    # 5. concentration
    if alpha_fixed <= 0:
        alpha = np.random.gamma(a_alpha + k - 1, 1.0 / (b_alpha - sum_log1m))
        if alpha < 1e-10:
            alpha = 1e-10
    state[0] = alpha
    return n0


@numba.njit(cache=True, nogil=True)
def _init_state(
    n_lists: int,
    k: int,
    a_alpha: float,
    b_alpha: float,
    alpha_fixed: float,
    n_obs: int,
    lam: np.ndarray,
    log_pi: np.ndarray,
    state: np.ndarray,
    width: np.ndarray,
    crowded: bool,
) -> None:
    """Overdispersed starts, two kinds (chains alternate between them, so R-hat compares both).

    ``crowded``: every class equally likely and capture probabilities uniform, alpha = 1: the first
    sweep spreads people over all classes and the chain merges classes down (Gibbs samplers for
    mixtures merge easily but rarely split: a chain started with one class can stay there).
    Otherwise ``sparse``: capture probabilities ~ Beta(1, 3) (a large N first), alpha from its prior
    (median about 0.07 with Gamma(0.25, 0.25): few classes), sticks ~ Beta(1, alpha)."""
    for j in range(n_lists):
        for c in range(k):
            lam[j, c] = np.random.random() if crowded else np.random.beta(1.0, 3.0)
    if crowded:
        alpha = alpha_fixed if alpha_fixed > 0 else 1.0
        for c in range(k):
            log_pi[c] = -math.log(k)
    else:
        alpha = alpha_fixed if alpha_fixed > 0 else max(np.random.gamma(a_alpha, 1.0 / b_alpha), 1e-3)
        acc = 0.0
        for c in range(k):
            v = min(np.random.beta(1.0, alpha), 1.0 - 1e-12) if c < k - 1 else 1.0
            log_pi[c] = math.log(v) + acc if c < k - 1 else acc
            if c < k - 1:
                acc += math.log1p(-v)
    state[0] = alpha
    state[1] = 0.5
    for c in range(k):
        width[c] = max(1.0, 0.01 * n_obs)


@numba.njit(cache=True, nogil=True)
def _pattern_loglik(patterns: np.ndarray, lam: np.ndarray, log_pi: np.ndarray, out: np.ndarray) -> None:
    """out[p] = log P(pattern p | theta) - log P(seen | theta): the conditional likelihood terms."""
    n_pat, n_lists = patterns.shape
    k = log_pi.size
    seen = 0.0
    for c in range(k):
        lz = 0.0
        for j in range(n_lists):
            lz += math.log1p(-lam[j, c])
        seen += math.exp(log_pi[c]) * (-math.expm1(lz))
    log_seen = math.log(max(seen, 1e-300))
    for p in range(n_pat):
        mx = -np.inf
        tmp = np.empty(k)
        for c in range(k):
            lw = log_pi[c]
            for j in range(n_lists):
                if patterns[p, j]:
                    lw += math.log(lam[j, c])
                else:
                    lw += math.log1p(-lam[j, c])
            tmp[c] = lw
            if lw > mx:
                mx = lw
        tot = 0.0
        for c in range(k):
            tot += math.exp(tmp[c] - mx)
        out[p] = mx + math.log(tot) - log_seen


@numba.njit(cache=True, nogil=True)
def run_chain(
    patterns: np.ndarray,
    counts: np.ndarray,
    n_classes: int,
    a_alpha: float,
    b_alpha: float,
    burn_in: int,
    samples: int,
    thin: int,
    seed: int,
    alpha_fixed: float,
    collapsed_moves: int,
    crowded: bool,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, float, float]:
    """One chain of the truncated stick-breaking latent-class sampler (Manrique-Vallier 2016).

    ``patterns`` (P × J, 0/1) are the observed capture patterns. ``counts`` (R × P) holds the people
    per pattern for each of R replicas: row 0 the data, rows 1.. the same data with counts scaled down
    (data tempering: each replica is the exact posterior of its own smaller table, so its chain
    moves more freely). After every sweep, neighbouring replicas propose to swap their parameters
    (Metropolis on the product space; exact). With R = 1 this is the plain chain.
    Returns ``(n_draws, alpha_draws, occupied_draws, acceptance, swap_rate)`` for replica 0; draws
    have length ``samples`` (every ``thin``-th sweep after ``burn_in``). ``alpha_fixed > 0`` holds
    the concentration fixed. ``collapsed_moves`` Metropolis sweeps per iteration move the number of
    unobserved people in each class with that class's capture probabilities and the stick-breaking
    weights integrated out (0 gives the plain Gibbs sampler of the paper).
    """
    np.random.seed(seed)
    n_rep, n_pat = counts.shape
    n_lists = patterns.shape[1]
    k = n_classes
    n_obs = np.zeros(n_rep, dtype=np.int64)
    for r in range(n_rep):
        for p in range(n_pat):
            n_obs[r] += counts[r, p]
    lam = np.empty((n_rep, n_lists, k))
    log_pi = np.empty((n_rep, k))
    state = np.empty((n_rep, 2))
    width = np.empty((n_rep, k))
    for r in range(n_rep):
        _init_state(n_lists, k, a_alpha, b_alpha, alpha_fixed, n_obs[r], lam[r], log_pi[r], state[r], width[r], crowded)
    n_k = np.zeros(k, dtype=np.int64)
    s_jk = np.zeros((n_lists, k), dtype=np.int64)
    log_lam = np.empty((n_lists, k))
    log_1m = np.empty((n_lists, k))
    w = np.empty(k)
    m = np.empty(k, dtype=np.int64)
    order = np.empty(k, dtype=np.int64)
    m0 = np.zeros(k, dtype=np.int64)
    n_obs_k = np.zeros(k, dtype=np.int64)
    stats = np.zeros(2, dtype=np.int64)
    scratch_stats = np.zeros(2, dtype=np.int64)
    ll_a = np.empty(n_pat)
    ll_b = np.empty(n_pat)
    out_n = np.empty(samples, dtype=np.int64)
    out_alpha = np.empty(samples)
    out_occ = np.empty(samples, dtype=np.int64)
    n_swap = 0
    n_swap_acc = 0
    total = burn_in + samples * thin
    saved = 0
    for it in range(total):
        adapt = it < burn_in
        n0 = 0
        occ = 0
        for r in range(n_rep - 1, -1, -1):
            st = stats if r == 0 else scratch_stats
            n0r = _sweep(
                patterns,
                counts[r],
                n_obs[r],
                k,
                a_alpha,
                b_alpha,
                alpha_fixed,
                collapsed_moves,
                adapt,
                lam[r],
                log_pi[r],
                state[r],
                width[r],
                n_k,
                s_jk,
                log_lam,
                log_1m,
                w,
                m,
                order,
                m0,
                n_obs_k,
                st,
            )
            if r == 0:
                n0 = n0r
                for c in range(k):
                    if n_k[c] > 0:
                        occ += 1
        # swaps between neighbouring replicas (even/odd pairs alternately)
        if n_rep > 1:
            for r in range(it % 2, n_rep - 1, 2):
                _pattern_loglik(patterns, lam[r], log_pi[r], ll_a)
                _pattern_loglik(patterns, lam[r + 1], log_pi[r + 1], ll_b)
                lr = 0.0
                for p in range(n_pat):
                    lr += (counts[r, p] - counts[r + 1, p]) * (ll_b[p] - ll_a[p])
                n_swap += 1
                if lr >= 0.0 or math.log(np.random.random()) < lr:
                    n_swap_acc += 1
                    for j in range(n_lists):
                        for c in range(k):
                            tmp = lam[r, j, c]
                            lam[r, j, c] = lam[r + 1, j, c]
                            lam[r + 1, j, c] = tmp
                    for c in range(k):
                        tmp = log_pi[r, c]
                        log_pi[r, c] = log_pi[r + 1, c]
                        log_pi[r + 1, c] = tmp
                    tmp = state[r, 0]
                    state[r, 0] = state[r + 1, 0]
                    state[r + 1, 0] = tmp
        if it >= burn_in and (it - burn_in) % thin == thin - 1:
            out_n[saved] = n_obs[0] + n0
            out_alpha[saved] = state[0, 0]
            out_occ[saved] = occ
            saved += 1
    acc_rate = stats[1] / stats[0] if stats[0] > 0 else math.nan
    swap_rate = n_swap_acc / n_swap if n_swap > 0 else math.nan
    return out_n, out_alpha, out_occ, acc_rate, swap_rate


@numba.njit(cache=True, nogil=True)
def _log_f(
    c: int,
    mc: int,
    n_obs: int,
    n0_other: int,
    n_obs_k: np.ndarray,
    m0: np.ndarray,
    s_jk: np.ndarray,
    alpha: float,
    k: int,
    n_lists: int,
) -> float:
    """log p(m_c | other classes' unobserved counts, observed classes, alpha), up to a constant,
    with class c's capture probabilities and all stick-breaking weights integrated out; prior p(N)
    ∝ 1/N."""
    big_n = n_obs + n0_other + mc
    out = math.lgamma(big_n) - math.lgamma(mc + 1.0)
    nc = n_obs_k[c] + mc
    for j in range(n_lists):
        out += math.lgamma(1.0 + nc - s_jk[j, c])
    out -= n_lists * math.lgamma(2.0 + nc)
    # stick-breaking marginal: prod over classes c' < K-1 of B(1 + n_c', alpha + T_c')
    tail = 0.0
    for cc in range(k - 1, -1, -1):
        ncc = n_obs_k[cc] + (mc if cc == c else m0[cc])
        if cc < k - 1 and cc <= c:
            out += math.lgamma(1.0 + ncc) + math.lgamma(alpha + tail) - math.lgamma(1.0 + ncc + alpha + tail)
        tail += ncc
    return out


@numba.njit(cache=True, nogil=True)
def _log_ratio_accept(
    c: int,
    old: int,
    new: int,
    n_obs: int,
    n0: int,
    n_obs_k: np.ndarray,
    m0: np.ndarray,
    s_jk: np.ndarray,
    alpha: float,
    k: int,
    n_lists: int,
) -> bool:
    other = n0 - old
    lr = _log_f(c, new, n_obs, other, n_obs_k, m0, s_jk, alpha, k, n_lists) - _log_f(
        c, old, n_obs, other, n_obs_k, m0, s_jk, alpha, k, n_lists
    )
    return lr >= 0.0 or math.log(np.random.random()) < lr


@numba.njit(cache=True, nogil=True)
def _log_alpha_target(alpha: float, n_k: np.ndarray, k: int, a: float, b: float) -> float:
    """log p(alpha | class sizes) with the sticks integrated out, plus log alpha (log-scale
    walk)."""
    out = a * math.log(alpha) - b * alpha
    tail = 0.0
    for c in range(k - 1, -1, -1):
        if c < k - 1:
            out += math.log(alpha) + math.lgamma(alpha + tail) - math.lgamma(1.0 + n_k[c] + alpha + tail)
        tail += n_k[c]
    return out
