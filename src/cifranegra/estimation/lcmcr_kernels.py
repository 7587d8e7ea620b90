"""Compiled inner loop of the LCMCR Gibbs sampler (numba; see :mod:`.lcmcr` for the model).

People with the same capture pattern are exchangeable given the parameters, so their latent classes
are drawn together as one multinomial per pattern: the cost of a sweep is patterns × classes ×
lists, not people × classes × lists as in the individual-level sampler of the R package. Each chain
carries its own xoshiro256+ generator and seeds numba's generator (used for the starting point and
the Poisson draw) from its seed, and runs in one thread without the GIL, so chains run in parallel
threads and a chain's numbers depend only on its seed.

Speed (CPU per sweep, measured in bench/bench_bayes.py --only sweep): the own generator and
Marsaglia–Tsang gammas replaced numba's per-call generator (about 10 ns a uniform) in the beta,
gamma, binomial (inversion for small means, BTRS otherwise), categorical and Metropolis draws; class
weights per pattern are plain products (log scale only on underflow); the multinomials visit the
classes in one order per sweep; the collapsed move evaluates only the terms of its ratio that change;
normals by the ziggurat; gammas and betas inlined at numba's IR level (5-9% a sweep for about 3 s
more compile time, once: the kernels are cached); the scale move (default) keeps the pattern
probabilities it needs current and hands them to the class step. The label swaps (default) cost
about 0.3 µs each; the Hamiltonian move's gradient loops put the classes innermost (the branch on
the capture pattern hoisted out of them), about 1 µs a leapfrog step at K* = 10, computing the log
target only at the ends of the trajectory.
"""

from __future__ import annotations

import math

import numpy as np

from cifranegra._numba import load as _load_numba

numba = _load_numba()

# ---------------------------------------------------------------------------------- generator
# numba's np.random costs about 10 ns a uniform (its per-thread state is looked up on every call);
# the sampler draws tens of uniforms, gammas and betas per sweep, so the chain carries its own
# xoshiro256+ state (Blackman & Vigna 2021; 4 uint64 words, seeded by splitmix64 from the chain
# seed): about 1 ns a uniform. Only the Poisson draw of the unseen count and the starting point
# still use numba's generator, seeded from the same chain seed, so a chain depends on its seed only.


@numba.njit(cache=True, nogil=True)
def seed_state(seed: int) -> np.ndarray:
    """xoshiro256+ state from an integer seed (splitmix64 expansion, as its authors advise)."""
    s = np.empty(4, dtype=np.uint64)
    x = np.uint64(seed) + np.uint64(0x9E3779B97F4A7C15)
    for i in range(4):
        x = x + np.uint64(0x9E3779B97F4A7C15)
        z = x
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        s[i] = z ^ (z >> np.uint64(31))
    return s


@numba.njit(cache=True, nogil=True, inline="always")
def _next64(s: np.ndarray) -> np.uint64:
    """Raw 64-bit output of xoshiro256+ (its lowest 3 bits are weak: callers skip them)."""
    result = s[0] + s[3]
    t = s[1] << np.uint64(17)
    s[2] ^= s[0]
    s[3] ^= s[1]
    s[1] ^= s[2]
    s[0] ^= s[3]
    s[2] ^= t
    s[3] = (s[3] << np.uint64(45)) | (s[3] >> np.uint64(19))
    return result


@numba.njit(cache=True, nogil=True, inline="always")
def _u01(s: np.ndarray) -> float:
    """Uniform on [0, 1) with 53 random bits (xoshiro256+; its weak low bits are dropped)."""
    return float(_next64(s) >> np.uint64(11)) * (1.0 / 9007199254740992.0)


def _ziggurat_tables(layers: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """Layer edges x_0 > x_1 = r > ... > x_layers = 0 of the normal ziggurat (Marsaglia & Tsang 2000,
    "The ziggurat method for generating random variables", J. Stat. Softw. 5(8)) and exp(-x^2/2) at
    each edge. Each layer, and the base strip with the tail beyond r, has area v; x_0 = v / f(r) is
    the base strip's width as a rectangle. r and v for 256 layers are those of the paper."""
    r, v = 3.6541528853610088, 0.00492867323399
    x = np.empty(layers + 1)
    x[0] = v / math.exp(-0.5 * r * r)
    x[1] = r
    for i in range(1, layers - 1):
        x[i + 1] = math.sqrt(-2.0 * math.log(v / x[i] + math.exp(-0.5 * x[i] * x[i])))
    x[layers] = 0.0
    return x, np.exp(-0.5 * x * x)


_ZIG_X, _ZIG_F = _ziggurat_tables()
_ZIG_R = 3.6541528853610088


@numba.njit(cache=True, nogil=True)
def _normal(s: np.ndarray) -> float:
    """Standard normal by the ziggurat (Marsaglia & Tsang 2000): one 64-bit draw and a table
    comparison in about 99% of calls; bits 56-63 pick the layer, bits 3-55 give a signed uniform."""
    while True:
        b = _next64(s)
        i = int(b >> np.uint64(56))
        u = (float((b >> np.uint64(3)) & np.uint64(0x1FFFFFFFFFFFFF)) - 4503599627370496.0) * (
            1.0 / 4503599627370496.0
        )  # in [-1, 1)
        x = u * _ZIG_X[i]
        if abs(x) < _ZIG_X[i + 1]:
            return x
        if i == 0:  # the tail beyond r (Marsaglia 1964)
            while True:
                xt = -math.log(1.0 - _u01(s)) / _ZIG_R
                yt = -math.log(1.0 - _u01(s))
                if 2.0 * yt >= xt * xt:
                    return _ZIG_R + xt if u > 0.0 else -(_ZIG_R + xt)
        # the wedge between the layer's rectangle and the curve
        if _ZIG_F[i] + _u01(s) * (_ZIG_F[i + 1] - _ZIG_F[i]) < math.exp(-0.5 * x * x):
            return x


@numba.njit(cache=True, nogil=True, inline="always")
def _gamma(s: np.ndarray, a: float) -> float:
    """Gamma(a, 1): Marsaglia & Tsang (2000) for a >= 1; for a < 1, Gamma(a + 1) * U^(1/a)."""
    boost = 1.0
    if a < 1.0:
        boost = math.exp(math.log(1.0 - _u01(s)) / a)
        a += 1.0
    d = a - 1.0 / 3.0
    c = 1.0 / math.sqrt(9.0 * d)
    while True:
        x = _normal(s)
        v = 1.0 + c * x
        if v <= 0.0:
            continue
        v = v * v * v
        u = 1.0 - _u01(s)  # (0, 1]
        x2 = x * x
        if u < 1.0 - 0.0331 * x2 * x2 or math.log(u) < 0.5 * x2 + d * (1.0 - v + math.log(v)):
            return d * v * boost


@numba.njit(cache=True, nogil=True, inline="always")
def _log_gamma(s: np.ndarray, a: float) -> float:
    """log of a Gamma(a, 1) draw, exact far below the smallest double: for a < 1,
    log G(a + 1) + log(U) / a (the shape-below-one trick on the log scale, as R LCMCR's
    ``dan_log_gamma_1``), so a Beta(1 + n, alpha) stick with tiny alpha keeps log(1 - V) exact
    (it can be -1e6) instead of rounding V to 1."""
    if a < 1.0:
        return math.log(_gamma(s, a + 1.0)) + math.log(1.0 - _u01(s)) / a
    return math.log(_gamma(s, a))


#: Below this many people left, a multinomial is drawn one person at a time (one uniform each);
#: above it, by sequential binomials. Below this mean, a binomial is drawn by inversion.
SMALL_COUNT = 12
SMALL_MEAN = 20.0


@numba.njit(cache=True, nogil=True)
def _btrs(s: np.ndarray, n: int, p: float) -> int:
    """Binomial(n, p) for p <= 1/2 and n p >= 10: transformed rejection with squeeze (BTRS,
    Hörmann 1993, "The generation of binomial random variates", J. Stat. Comput. Simul. 46); the
    exact acceptance test uses log-factorials (lgamma), evaluated only when the squeeze fails."""
    q = 1.0 - p
    spq = math.sqrt(n * p * q)
    b = 1.15 + 2.53 * spq
    a = -0.0873 + 0.0248 * b + 0.01 * p
    c = n * p + 0.5
    v_r = 0.92 - 4.2 / b
    alpha = (2.83 + 5.1 / b) * spq
    m = math.floor((n + 1) * p)
    h = math.nan  # log f(m) + const, computed on first need
    lpq = 0.0
    while True:
        u = _u01(s) - 0.5
        v = _u01(s)
        us = 0.5 - abs(u)
        k = math.floor((2.0 * a / us + b) * u + c)
        if k < 0 or k > n:
            continue
        if us >= 0.07 and v <= v_r:
            return k
        v = math.log(v * alpha / (a / (us * us) + b))
        if h != h:
            h = math.lgamma(m + 1.0) + math.lgamma(n - m + 1.0)
            lpq = math.log(p / q)
        if v <= h - math.lgamma(k + 1.0) - math.lgamma(n - k + 1.0) + (k - m) * lpq:
            return k


@numba.njit(cache=True, nogil=True)
def _binomial(s: np.ndarray, n: int, q: float) -> int:
    """Binomial(n, q) draw: inversion from 0 when the mean of the rarer outcome is small (one
    uniform and a few products), BTRS otherwise."""
    if q <= 0.0 or n <= 0:
        return 0
    if q >= 1.0:
        return n
    flip = q > 0.5
    r = 1.0 - q if flip else q
    if n * r >= SMALL_MEAN:
        x = _btrs(s, n, r)
        return n - x if flip else x
    u = _u01(s)
    if u < 1.0 - n * r:  # P(0) = (1 - r)^n >= 1 - n r (Bernoulli): inversion gives 0, no logs needed
        return n if flip else 0
    f0 = math.exp(n * math.log1p(-r))
    ratio = r / (1.0 - r)
    while True:
        f = f0
        x = 0
        while u > f and x < n:
            u -= f
            x += 1
            f *= (n - x + 1) / x * ratio
        if u <= f:
            return n - x if flip else x
        # round-off left u above the total mass: draw again (probability ~1e-16)
        u = _u01(s)


@numba.njit(cache=True, nogil=True)
def _multinomial(rs: np.ndarray, n: int, p: np.ndarray, out: np.ndarray, order: np.ndarray) -> None:
    """``out`` <- Multinomial(n, p) (p sums to 1): sequential binomials over the cells in ``order``
    (exact in any order; the sampler passes the classes by weight, sorted once per sweep, so the
    count left over runs out after a few cells); once at most ``SMALL_COUNT`` people are left,
    each is placed by one categorical draw over the remaining cells."""
    k = p.size
    for i in range(k):
        out[i] = 0
    remaining = n
    rest = 1.0
    r = 0
    while r < k - 1 and remaining > SMALL_COUNT and rest > 0.0:
        i = order[r]
        q = p[i] / rest
        if q >= 1.0:
            out[i] = remaining
            return
        x = _binomial(rs, remaining, q)
        out[i] = x
        remaining -= x
        rest -= p[i]
        r += 1
    if remaining <= 0:
        return
    if r == k - 1 or rest <= 0.0:
        out[order[r]] += remaining
        return
    # categorical draws over cells order[r:], total mass ``rest`` (recomputed: round-off)
    rest = 0.0
    for i in range(r, k):
        rest += p[order[i]]
    for _person in range(remaining):
        u = _u01(rs) * rest
        i = r
        cum = p[order[i]]
        while u >= cum and i < k - 1:
            i += 1
            cum += p[order[i]]
        out[order[i]] += 1


@numba.njit(cache=True, nogil=True, inline="always")
def _beta(s: np.ndarray, a: float, b: float) -> float:
    """Beta(a, b) draw; exact closed forms when a or b is 1 (empty classes, lists that caught no one
    or everyone in a class: most draws), a ratio of gammas otherwise."""
    if a == 1.0:
        if b == 1.0:  # uniform (an empty class's capture probability)
            return _u01(s)
        u = 1.0 - _u01(s)  # in (0, 1]
        return -math.expm1(math.log(u) / b)
    if b == 1.0:
        u = 1.0 - _u01(s)
        return math.exp(math.log(u) / a)
    x = _gamma(s, a)
    y = _gamma(s, b)
    return x / (x + y)


# ------------------------------------------------------------------ cap on N (R LCMCR parity)
@numba.njit(cache=True, nogil=True)
def _betacf(a: float, b: float, x: float) -> float:
    """Continued fraction of the incomplete beta function (modified Lentz; Press et al.,
    Numerical Recipes, 3rd ed., 6.4); converges in O(sqrt(max(a, b))) terms on its side of the mean."""
    tiny = 1e-300
    qab = a + b
    qap = a + 1.0
    qam = a - 1.0
    c = 1.0
    d = 1.0 - qab * x / qap
    if abs(d) < tiny:
        d = tiny
    d = 1.0 / d
    h = d
    for m in range(1, 100000):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = tiny if abs(d) < tiny else d
        c = 1.0 + aa / c
        c = tiny if abs(c) < tiny else c
        d = 1.0 / d
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = tiny if abs(d) < tiny else d
        c = 1.0 + aa / c
        c = tiny if abs(c) < tiny else c
        d = 1.0 / d
        de = d * c
        h *= de
        if abs(de - 1.0) < 1e-15:
            break
    return h


@numba.njit(cache=True, nogil=True)
def log_nb_cdf(n_obs: int, p0: float, max_unseen: int) -> float:
    """log P(n0 <= max_unseen) for n0 ~ NegBin(n_obs, 1 - p0) (failures before n_obs successes): the
    unseen count's conditional given the parameters, so that with R's cap the moves that sum N out
    target the capped posterior. P = I_{1-p0}(n_obs, max_unseen + 1), the regularized incomplete
    beta function; 0 when there is no cap (max_unseen < 0)."""
    if max_unseen < 0 or p0 <= 0.0:
        return 0.0
    if p0 >= 1.0:
        return -np.inf
    a = float(n_obs)
    b = max_unseen + 1.0
    x = 1.0 - p0
    lbt = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log(p0)
    if x < (a + 1.0) / (a + b + 2.0):
        return lbt + math.log(_betacf(a, b, x)) - math.log(a)
    q = math.exp(lbt + math.log(_betacf(b, a, p0)) - math.log(b))
    return math.log1p(-q) if q < 1.0 else -np.inf


@numba.njit(cache=True, nogil=True)
def _capped_unseen(rs: np.ndarray, n_obs: int, p0: float, rate: float, max_unseen: int) -> int:
    """n0 ~ NegBin(n_obs, 1 - p0) restricted to n0 <= max_unseen (R LCMCR redraws until N <= 20 n):
    redraws while that is cheap, else exact inversion of the truncated probabilities."""
    n0 = np.random.poisson(rate) if rate > 0 else 0
    tries = 1
    while n0 > max_unseen and tries < 64:
        n0 = np.random.poisson(_gamma(rs, float(n_obs)) * p0 / (1.0 - p0))
        tries += 1
    if n0 <= max_unseen:
        return n0
    # log pmf by its ratio (n + k) / (k + 1) p0, up to a constant
    lp = np.empty(max_unseen + 1)
    lp[0] = 0.0
    lq = math.log(p0)
    for kk in range(max_unseen):
        lp[kk + 1] = lp[kk] + math.log((n_obs + kk) / (kk + 1.0)) + lq
    mx = lp.max()
    tot = 0.0
    for kk in range(max_unseen + 1):
        lp[kk] = math.exp(lp[kk] - mx)
        tot += lp[kk]
    u = _u01(rs) * tot
    for kk in range(max_unseen + 1):
        u -= lp[kk]
        if u < 0.0:
            return kk
    return max_unseen


@numba.njit(cache=True, nogil=True)
def _p_unseen(lam: np.ndarray, log_pi: np.ndarray, k: int) -> float:
    """P(never seen | lam, pi) = sum_c pi_c prod_j (1 - lam_jc)."""
    out = 0.0
    for c in range(k):
        z = log_pi[c]
        for j in range(lam.shape[0]):
            z += math.log1p(-lam[j, c])
        out += math.exp(z)
    return out


#: Share of the scale moves' class choices made uniformly (the rest by share of the unseen).
SCALE_UNIFORM = 0.1


@numba.njit(cache=True, nogil=True, inline="always")
def _choice_prob(unseen_h: float, unseen_total: float, k: int) -> float:
    """Probability that the scale move picks a class holding ``unseen_h`` of ``unseen_total``."""
    return (1.0 - SCALE_UNIFORM) * unseen_h / unseen_total + SCALE_UNIFORM / k


@numba.njit(cache=True, nogil=True)
def _scale_moves(
    patterns: np.ndarray,
    pcounts: np.ndarray,
    k: int,
    alpha: float,
    n_prop: int,
    adapt: bool,
    lam: np.ndarray,
    log_pi: np.ndarray,
    sstep: np.ndarray,
    log_1m: np.ndarray,
    fnew: np.ndarray,
    f: np.ndarray,
    pp: np.ndarray,
    pi: np.ndarray,
    tail: np.ndarray,
    lz: np.ndarray,
    unseen: np.ndarray,
    newlam: np.ndarray,
    sstats: np.ndarray,
    rs: np.ndarray,
    n_obs: int = 0,
    max_unseen: int = -1,
) -> bool:
    """``n_prop`` Metropolis moves along the direction the Gibbs sampler crawls: the capture odds of
    one class h all scaled by exp(eps), its weight rescaled so that its share of the *seen* stays
    the same (pi_c' ∝ pi_c r_c with r_h = P(seen | h) / P(seen | h)', r_c = 1 otherwise).

    For a rarely caught class this leaves the distribution of the observed patterns almost
    unchanged while moving the number never seen, the ridge along which the plain sampler's N
    drifts (its latent classes pin the capture probabilities). The target is the marginal
    posterior of (lam, pi) given alpha, classes and N summed out: with p(N) ∝ 1/N it is
    prior × prod_p (P(pattern p) / P(seen))^n_p. The map is deterministic given eps and inverted by
    -eps, so the Metropolis–Hastings ratio carries its Jacobian: prod_j lam'(1 - lam') /
    (lam(1 - lam)) for the odds, prod_c r_c / (sum_c pi_c r_c)^K for the reweighting of the
    simplex. The class is chosen with probability 0.9 × its share of the unseen + 0.1 / K (the
    reverse choice probability enters the ratio). The caller redraws classes and N from their
    full conditionals next, which makes the combination exact (a partially collapsed Gibbs step,
    van Dyk & Park 2008, JASA 103).

    Fills ``f`` (P × K, pattern probability within each class) and ``pp`` (P(pattern)) for the
    final state and returns True; returns False without moving when a pattern's probability
    underflows (then ``f``/``pp`` are not valid)."""
    n_pat, n_lists = patterns.shape
    su = 0.0
    for c in range(k):
        pi[c] = math.exp(log_pi[c])
        z = 0.0
        for j in range(n_lists):
            z += log_1m[j, c]
        lz[c] = z
        unseen[c] = pi[c] * math.exp(z)
        su += unseen[c]
    for p in range(n_pat):
        tot = 0.0
        for c in range(k):
            v = 1.0
            for j in range(n_lists):
                v *= lam[j, c] if patterns[p, j] else 1.0 - lam[j, c]
            f[p, c] = v
            tot += pi[c] * v
        if not tot > 1e-280:
            return False
        pp[p] = tot
    prior_now = log_stick_prior(log_pi, k, alpha) if k > 1 else 0.0
    cap_now = log_nb_cdf(n_obs, su, max_unseen)
    for _t in range(n_prop):
        if _u01(rs) < SCALE_UNIFORM:
            h = min(int(_u01(rs) * k), k - 1)
        else:
            u = _u01(rs) * su
            h = 0
            cum = unseen[0]
            while u >= cum and h < k - 1:
                h += 1
                cum += unseen[h]
        q_fwd = _choice_prob(unseen[h], su, k)
        eps = sstep[h] * _normal(rs)
        jac = 0.0
        lz_new = 0.0
        ok = True
        for j in range(n_lists):
            ll = math.log(lam[j, h])
            lo = ll - log_1m[j, h] + eps  # new log-odds
            if lo > 0.0:
                e = math.exp(-lo)
                lxn = -math.log1p(e)
                xn = 1.0 / (1.0 + e)
            else:
                e = math.exp(lo)
                lxn = lo - math.log1p(e)
                xn = e / (1.0 + e)
            if not 1e-300 <= xn <= 1.0 - 1e-15:  # outside the sampler's clamp: reject
                ok = False
                break
            l1n = lxn - lo
            newlam[0, j] = xn
            newlam[1, j] = l1n
            jac += lxn + l1n - ll - log_1m[j, h]
            lz_new += l1n
        if ok:
            log_r = math.log(-math.expm1(lz[h])) - math.log(-math.expm1(lz_new))
            r = math.exp(log_r)
            z = 1.0 + pi[h] * (r - 1.0)  # normalizer of the reweighted pi
            ok = z > 0.0 and r < 1e300
        if ok:
            log_z = math.log(z)
            # likelihood: P(seen) scales by 1/z and so does every other pattern term: they cancel
            dl = 0.0
            for p in range(n_pat):
                v = 1.0
                for j in range(n_lists):
                    v *= newlam[0, j] if patterns[p, j] else 1.0 - newlam[0, j]
                fnew[p] = v
                nw = max(pp[p] - pi[h] * f[p, h], 0.0) + pi[h] * r * v
                if not nw > 1e-280:
                    ok = False
                    break
                dl += pcounts[p] * math.log(nw / pp[p])
        if ok:
            # stick-breaking prior of pi: (alpha - 1) log pi_K - sum_{c <= K-2} log(tail after c), and
            # the simplex Jacobian; with one class pi = 1 is fixed and neither exists
            # (on the log scale: weights after a stick near 1 underflow as plain numbers, and the
            # tails they form can be far below the weight moved)
            dprior = 0.0
            if k > 1:
                for c in range(k):
                    tail[c] = log_pi[c] - log_z
                tail[h] += log_r
                dprior = log_stick_prior(tail, k, alpha) - prior_now
                jac += log_r - k * log_z
            u_new = pi[h] * r * math.exp(lz_new)
            q_back = _choice_prob(u_new, su - unseen[h] + u_new, k)
            lr = dl + dprior + jac + math.log(q_back / q_fwd)
            cap_new = 0.0
            if max_unseen >= 0:  # R's cap: the capped posterior carries P(n0 <= cap - n | lam, pi)
                cap_new = log_nb_cdf(n_obs, (su - unseen[h] + u_new) / z, max_unseen)
                lr += cap_new - cap_now
            ok = lr >= 0.0 or math.log(1.0 - _u01(rs)) < lr
        if adapt:
            sstep[h] *= 1.05 if ok else 0.97
        else:
            sstats[0] += 1
            if ok:
                sstats[1] += 1
        if not ok:
            continue
        # accepted: update the state and the caches without recomputing them
        for p in range(n_pat):
            pp[p] = (max(pp[p] - pi[h] * f[p, h], 0.0) + pi[h] * r * fnew[p]) / z
            f[p, h] = fnew[p]
        for j in range(n_lists):
            lam[j, h] = newlam[0, j]
            log_1m[j, h] = newlam[1, j]
        lz[h] = lz_new
        unseen[h] = u_new
        su = 0.0
        for c in range(k):
            log_pi[c] -= log_z
            pi[c] /= z
            unseen[c] /= z
            su += unseen[c]
        log_pi[h] += log_r
        pi[h] *= r
        if k > 1:
            prior_now = log_stick_prior(log_pi, k, alpha)
        cap_now = cap_new
    return True


# ------------------------------------------------------------------------- label swaps
@numba.njit(cache=True, nogil=True, inline="always")
def _logaddexp(a: float, b: float) -> float:
    """log(e^a + e^b) without overflow or loss when one term is tiny (tails of the class weights)."""
    mx = max(a, b)
    return mx + math.log(math.exp(a - mx) + math.exp(b - mx))


@numba.njit(cache=True, nogil=True)
def log_stick_prior(log_pi: np.ndarray, k: int, alpha: float) -> float:
    """Log density (up to a constant) of the truncated stick-breaking prior of the class weights on
    the simplex: (alpha - 1) log pi_K - sum_{c=2}^{K-1} log T_c, T_c = pi_c + ... + pi_K (the
    Beta(1, alpha) sticks times the Jacobian of pi -> V, prod 1 / T_c). Tails by log-sum-exp from
    the end, so tiny weights keep their precision."""
    lp = (alpha - 1.0) * log_pi[k - 1]
    suf = log_pi[k - 1]
    for c in range(k - 2, 0, -1):
        suf = _logaddexp(suf, log_pi[c])
        lp -= suf
    return lp


@numba.njit(cache=True, nogil=True)
def _swap_moves(k: int, alpha: float, n_moves: int, lam: np.ndarray, log_pi: np.ndarray, rs: np.ndarray,
                stats: np.ndarray) -> None:  # fmt: skip
    """``n_moves`` Metropolis label swaps: two classes exchange their capture probabilities and
    weights. The mixture likelihood is unchanged, the stick-breaking prior is not (it favours
    large weights first), so the ratio is the prior's. Without them the sampler changes the order
    of the classes only through the sticks, which takes tens of thousands of sweeps, and N's
    posterior differs slightly between orders (the truncated prior is not exchangeable): the slow
    long-lag autocorrelation of N. The label-switching moves of Papaspiliopoulos & Roberts (2008,
    Biometrika 95) and Hastie, Liverani & Richardson (2015, Stat. Comput. 25) for the
    stick-breaking Gibbs sampler, here on (lam, pi) with the classes summed out (the caller
    redraws them). Half the proposals swap neighbours, half a uniform pair."""
    if k < 2:
        return
    n_lists = lam.shape[0]
    cur = log_stick_prior(log_pi, k, alpha)
    for _m in range(n_moves):
        if _u01(rs) < 0.5:
            a = min(int(_u01(rs) * (k - 1)), k - 2)
            b = a + 1
        else:
            a = min(int(_u01(rs) * k), k - 1)
            b = min(int(_u01(rs) * (k - 1)), k - 2)
            if b >= a:
                b += 1
        t = log_pi[a]
        log_pi[a] = log_pi[b]
        log_pi[b] = t
        new = log_stick_prior(log_pi, k, alpha)
        lr = new - cur
        stats[0] += 1
        if lr >= 0.0 or math.log(1.0 - _u01(rs)) < lr:
            cur = new
            stats[1] += 1
            for j in range(n_lists):
                t = lam[j, a]
                lam[j, a] = lam[j, b]
                lam[j, b] = t
        else:
            t = log_pi[a]
            log_pi[a] = log_pi[b]
            log_pi[b] = t


# ---------------------------------------------------------------------- Hamiltonian move
# Coordinates: x = (logit lam_jc for j < J, c < K (row-major), logit V_c for c < K - 1), the
# unconstrained form of (lam, pi). Target: the marginal posterior of (lam, pi) given alpha, the
# classes and N summed out (p(N) ∝ 1/N): prod_p (P(p) / P(seen))^n_p × uniform lam × Beta(1, alpha)
# sticks, with the Jacobians of the logits (lam (1 - lam), V (1 - V)).
HMC_TARGET_ACCEPT = 0.8
HMC_STEP0 = 0.05


@numba.njit(cache=True, nogil=True)
def hmc_logp_grad(
    patterns: np.ndarray,
    pcounts: np.ndarray,
    n_obs: int,
    k: int,
    alpha: float,
    x: np.ndarray,
    g: np.ndarray,
    lam: np.ndarray,
    l1: np.ndarray,
    kv: np.ndarray,
    want_lp: bool,
) -> float:
    """Log target (if ``want_lp``, else 0) and its gradient ``g`` at ``x``; -inf when a pattern's
    probability underflows. Fills ``lam`` and ``kv[0]`` (pi) for ``x``; ``l1`` and ``kv[1:5]`` are
    scratch (``kv`` has 5 rows of K). Classes are the innermost loop (the branch on the pattern
    hoisted out), as in the sweep."""
    n_pat, n_lists = patterns.shape
    pi = kv[0]
    vv = kv[1]
    f = kv[2]
    gc = kv[3]
    lp = 0.0
    for j in range(n_lists):
        for c in range(k):
            e = x[j * k + c]
            t = math.exp(-abs(e))
            inv = 1.0 / (1.0 + t)
            if e > 0:
                lam[j, c] = inv
                l1[j, c] = t * inv
            else:
                lam[j, c] = t * inv
                l1[j, c] = inv
            g[j * k + c] = 1.0 - 2.0 * lam[j, c]  # d/d logit of log(lam (1 - lam))
        if want_lp:
            for c in range(k):  # log(lam (1 - lam)) = -|e| - 2 log(1 + e^-|e|): no underflow
                e = x[j * k + c]
                lp += -abs(e) - 2.0 * math.log1p(math.exp(-abs(e)))
    off = n_lists * k
    acc = 1.0
    for c in range(k):
        if c < k - 1:
            nu = x[off + c]
            t = math.exp(-abs(nu))
            inv = 1.0 / (1.0 + t)
            if nu > 0:
                v = inv
                v1 = t * inv
            else:
                v = t * inv
                v1 = inv
            vv[c] = v
            if want_lp:  # Beta(1, alpha) × V (1 - V), logs exact where V or 1 - V underflows
                lsp = math.log1p(t)
                lp += (min(nu, 0.0) - lsp) + alpha * (-max(nu, 0.0) - lsp)
            g[off + c] = v1 - alpha * v
            pi[c] = acc * v
            acc *= v1
        else:
            pi[c] = acc
        gc[c] = 0.0  # d loglik / d log pi_c
    # f_pc = pi_c prod_{j not in p} (1 - lam_jc) prod_{j in p} lam_jc = base_c × prod_{j in p} odds_jc with
    # base_c = pi_c prod_j (1 - lam_jc) = P(class c and never seen): each pattern costs only its
    # lists. The gradient in logit lam_jc is sum_p w_pc x_pj - lam_jc sum_p w_pc (- unseen term),
    # w_pc = n_p P(c | p): accumulate the first sum per pattern, subtract lam × the class total once.
    base = kv[4]
    for c in range(k):
        base[c] = pi[c]
    for j in range(n_lists):
        for c in range(k):
            base[c] *= l1[j, c]
    for c in range(k):
        # far outside the sampler's range (sum over lists of softplus(logit lam) > ~640): the odds
        # product below would lose the pattern probabilities; reject the trajectory (it cannot end
        # an accepted move there anyway)
        if pi[c] > 1e-280 and not base[c] > 1e-280 * pi[c]:
            return -np.inf
    for j in range(n_lists):
        for c in range(k):
            # 1 - lam underflows to 0 once logit lam > ~745 (prior density there below 1e-300): the odds
            # would divide by zero in a class too light for the check above; reject the trajectory
            if not l1[j, c] > 0.0:
                return -np.inf
            l1[j, c] = lam[j, c] / l1[j, c]  # l1 now holds the odds
    for p in range(n_pat):
        for c in range(k):
            f[c] = base[c]
        for j in range(n_lists):
            if patterns[p, j]:
                for c in range(k):
                    f[c] *= l1[j, c]
        tot = 0.0
        for c in range(k):
            tot += f[c]
        if not tot > 1e-280:
            return -np.inf
        if want_lp:
            lp += pcounts[p] * math.log(tot)
        sc = pcounts[p] / tot
        for c in range(k):
            f[c] *= sc  # n_p × P(class c | pattern p)
            gc[c] += f[c]
        for j in range(n_lists):
            if patterns[p, j]:
                for c in range(k):
                    g[j * k + c] += f[c]
    # - n log P(seen), P(seen) = 1 - sum_c base_c
    p0 = 0.0
    for c in range(k):
        p0 += base[c]
    s = 1.0 - p0
    if not s > 1e-300:
        return -np.inf
    if want_lp:
        lp -= n_obs * math.log(s)
    sc = n_obs / s
    for c in range(k):
        gc[c] += base[c] * sc
    for j in range(n_lists):
        for c in range(k):
            g[j * k + c] -= lam[j, c] * gc[c]
    # chain rule to the sticks: d log pi_c / d logit V_d = 1 - V_d (c = d), -V_d (c > d)
    suffix = 0.0
    for c in range(k - 1, -1, -1):
        if c < k - 1:
            g[off + c] += gc[c] * (1.0 - vv[c]) - vv[c] * suffix
        suffix += gc[c]
    return lp


@numba.njit(cache=True, nogil=True)
def _hmc_move(
    patterns: np.ndarray,
    pcounts: np.ndarray,
    n_obs: int,
    k: int,
    alpha: float,
    n_leap: int,
    adapt: bool,
    lam: np.ndarray,
    log_pi: np.ndarray,
    hs: np.ndarray,
    minv: np.ndarray,
    buf: np.ndarray,
    lam_t: np.ndarray,
    l1_t: np.ndarray,
    kv: np.ndarray,
    rs: np.ndarray,
    max_unseen: int = -1,
) -> None:
    """One Hamiltonian Monte Carlo trajectory (Neal 2011, "MCMC using Hamiltonian dynamics") of
    ``n_leap`` leapfrog steps on the marginal posterior of (lam, pi) given alpha, in the logit
    coordinates above, with a diagonal mass matrix (``minv`` = its inverse).

    The Gibbs sampler and the scale move change one class at a time; what keeps N's chain slow on
    tables like Kosovo is a joint direction, how the observed split between a rarely caught class and
    the others, which the gradient follows. The step size (``hs[0]``, log scale, jittered ±20% per
    trajectory) adapts during burn-in towards acceptance 0.8 (Robbins–Monro); the mass matrix is
    set from the burn-in's first half (``buf[5:7]``: Welford mean and sum of squares). The caller
    redraws classes and N from their conditionals afterwards (partially collapsed Gibbs).
    ``hs``: [log step, adaptation count, -, -, accepted, trajectories, positions seen]."""
    n_lists = patterns.shape[1]
    d = n_lists * k + k - 1
    x0 = buf[0, :d]
    x = buf[1, :d]
    g = buf[2, :d]
    mom = buf[3, :d]
    g0 = buf[4, :d]
    for j in range(n_lists):
        for c in range(k):
            x0[j * k + c] = math.log(lam[j, c]) - math.log1p(-lam[j, c])
    # logit V_c = log pi_c - log(pi_{c+1} + ... + pi_K), by log-sum-exp from the end: exact near V = 1
    suf = log_pi[k - 1]
    for c in range(k - 2, -1, -1):
        x0[n_lists * k + c] = log_pi[c] - suf
        suf = _logaddexp(suf, log_pi[c])
    lp0 = hmc_logp_grad(patterns, pcounts, n_obs, k, alpha, x0, g0, lam_t, l1_t, kv, True)
    if not lp0 > -np.inf:
        return
    eps = math.exp(hs[0]) * (0.8 + 0.4 * _u01(rs))
    k0 = 0.0
    for i in range(d):
        mom[i] = _normal(rs) / math.sqrt(minv[i])
        k0 += 0.5 * mom[i] * mom[i] * minv[i]
        x[i] = x0[i]
        g[i] = g0[i]
    lp = lp0
    ok = True
    for step in range(n_leap):
        for i in range(d):
            mom[i] += 0.5 * eps * g[i]
            x[i] += eps * minv[i] * mom[i]
        lp = hmc_logp_grad(patterns, pcounts, n_obs, k, alpha, x, g, lam_t, l1_t, kv, step == n_leap - 1)
        if not lp > -np.inf:
            ok = False
            break
        for i in range(d):
            mom[i] += 0.5 * eps * g[i]
    a = 0.0
    if ok:
        for j in range(n_lists):  # outside the sampler's clamp of lam: reject (as the scale move)
            for c in range(k):
                if not 1e-300 <= lam_t[j, c] <= 1.0 - 1e-15:
                    ok = False
    if ok:
        k1 = 0.0
        for i in range(d):
            k1 += 0.5 * mom[i] * mom[i] * minv[i]
        dh = lp - k1 - lp0 + k0
        if max_unseen >= 0:
            # R's cap: the dynamics follow the uncapped gradient (still a reversible,
            # volume-preserving map), the acceptance carries the capped target exactly
            p0_new = 0.0
            for c in range(k):
                p0_new += kv[4, c]  # P(class c, never seen) at the trajectory's end
            dh += log_nb_cdf(n_obs, p0_new, max_unseen) - log_nb_cdf(n_obs, _p_unseen(lam, log_pi, k), max_unseen)
        a = 1.0 if dh >= 0.0 else math.exp(dh)
        if _u01(rs) < a:
            for j in range(n_lists):
                for c in range(k):
                    lam[j, c] = lam_t[j, c]
            acc = 0.0
            off = n_lists * k
            for c in range(k):
                if c < k - 1:
                    nu = x[off + c]
                    lv = -math.log1p(math.exp(-nu)) if nu > 0 else nu - math.log1p(math.exp(nu))
                    log_pi[c] = lv + acc
                    acc += lv - nu  # log(1 - V) = log V - logit V
                else:
                    log_pi[c] = acc
            hs[4] += 1
        else:
            ok = False
    hs[5] += 1
    if adapt:
        hs[1] += 1
        hs[0] += 3.0 * (a - HMC_TARGET_ACCEPT) / (hs[1] ** 0.6 + 10.0)
        hs[0] = min(max(hs[0], math.log(1e-4)), 0.0)
        xs = x if ok else x0
        hs[6] += 1
        for i in range(d):
            dl = xs[i] - buf[5, i]
            buf[5, i] += dl / hs[6]
            buf[6, i] += dl * (xs[i] - buf[5, i])


@numba.njit(cache=True, nogil=True)
def _hmc_set_mass(hs: np.ndarray, minv: np.ndarray, buf: np.ndarray) -> None:
    """Inverse mass matrix <- the variances seen so far (clamped to [1e-3, 1e2]); restart the
    step-size adaptation. Needs at least 20 positions, else keeps the identity."""
    if hs[6] < 20:
        return
    for i in range(minv.size):
        minv[i] = min(max(buf[6, i] / (hs[6] - 1.0), 1e-3), 1e2)
    hs[0] = math.log(HMC_STEP0)
    hs[1] = 0.0


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
    q_lam: np.ndarray,
    q_1m: np.ndarray,
    pi: np.ndarray,
    rs: np.ndarray,
    scale_moves: int,
    sstep: np.ndarray,
    f: np.ndarray,
    pp: np.ndarray,
    tails: np.ndarray,
    fnew: np.ndarray,
    lz_k: np.ndarray,
    unseen_k: np.ndarray,
    newlam: np.ndarray,
    sstats: np.ndarray,
    swap_moves: int,
    swstats: np.ndarray,
    n_leap: int,
    hs: np.ndarray,
    minv: np.ndarray,
    hbuf: np.ndarray,
    lam_t: np.ndarray,
    l1_t: np.ndarray,
    kv: np.ndarray,
    max_unseen: int = -1,
) -> int:
    """One sweep in place over (lam, log_pi, state = [alpha, alpha step]); returns n0: the label
    swaps, the Hamiltonian trajectory (when ``n_leap`` > 0) and the scale moves (all on the
    posterior with classes and N summed out), then the Gibbs updates with the collapsed moves.

    ``n_k`` holds the class sizes (observed + unobserved) of this sweep on return."""
    n_pat, n_lists = patterns.shape
    alpha = state[0]
    if swap_moves > 0:
        _swap_moves(k, alpha, swap_moves, lam, log_pi, rs, swstats)
    if n_leap > 0:
        _hmc_move(
            patterns, pcounts, n_obs, k, alpha, n_leap, adapt, lam, log_pi, hs, minv, hbuf, lam_t, l1_t, kv, rs,
            max_unseen,
        )  # fmt: skip
    for j in range(n_lists):
        for c in range(k):
            log_1m[j, c] = math.log1p(-lam[j, c])
    have_f = False
    if scale_moves > 0:
        have_f = _scale_moves(
            patterns, pcounts, k, alpha, scale_moves, adapt, lam, log_pi, sstep, log_1m, fnew, f, pp, pi, tails,
            lz_k, unseen_k, newlam, sstats, rs, n_obs, max_unseen,
        )  # fmt: skip
    for c in range(k):
        n_k[c] = 0
        for j in range(n_lists):
            s_jk[j, c] = 0
    # 1. latent classes of the observed, one multinomial per capture pattern; class weights
    # pi_c prod_j lam^x (1 - lam)^(1 - x) as plain products (log scale only if they underflow)
    if not have_f:
        for j in range(n_lists):
            for c in range(k):
                q_lam[j, c] = lam[j, c]
                q_1m[j, c] = 1.0 - lam[j, c]
    for c in range(k):
        pi[c] = math.exp(log_pi[c])
    for i in range(k):  # the sweep's class order for the multinomials: by weight, descending
        j = i
        while j > 0 and pi[order[j - 1]] < pi[i]:
            order[j] = order[j - 1]
            j -= 1
        order[j] = i
    for p in range(n_pat):
        tot = 0.0
        if have_f:  # the scale moves left P(pattern | class) and P(pattern) current
            for c in range(k):
                w[c] = pi[c] * f[p, c]
            tot = pp[p]
        else:
            for c in range(k):
                v = pi[c]
                for j in range(n_lists):
                    v *= q_lam[j, c] if patterns[p, j] else q_1m[j, c]
                w[c] = v
                tot += v
        if not tot > 1e-280:  # underflow: the same weights on the log scale
            for j in range(n_lists):
                for c in range(k):
                    log_lam[j, c] = math.log(lam[j, c])
            mx = -np.inf
            for c in range(k):
                lw = log_pi[c]
                for j in range(n_lists):
                    lw += log_lam[j, c] if patterns[p, j] else log_1m[j, c]
                w[c] = lw
                mx = max(mx, lw)
            tot = 0.0
            for c in range(k):
                w[c] = math.exp(w[c] - mx)
                tot += w[c]
        for c in range(k):
            w[c] /= tot
        _multinomial(rs, pcounts[p], w, m, order)
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
    rate = _gamma(rs, float(n_obs)) * (unseen / seen) if n_obs > 0 else 0.0
    if max_unseen >= 0 and rate > 0:
        n0 = _capped_unseen(rs, n_obs, min(unseen, 1.0 - 1e-300), rate, max_unseen)
    else:
        n0 = np.random.poisson(rate) if rate > 0 else 0
    for c in range(k):
        n_obs_k[c] = n_k[c]
        m0[c] = 0
    if n0 > 0:
        for c in range(k):
            w[c] /= unseen
        _multinomial(rs, n0, w, m0, order)
    # 2b. collapsed Metropolis moves on the unobserved count of each class
    for _sweep in range(collapsed_moves):
        for c in range(k):
            step = math.ceil(width[c])
            delta = int(_u01(rs) * (2 * step + 1)) - step
            if delta == 0:
                continue
            new = m0[c] + delta
            if new < 0 or (max_unseen >= 0 and n0 + delta > max_unseen):
                accepted = False
            else:
                accepted = _log_ratio_accept(rs, c, m0[c], new, n_obs, n0, n_obs_k, m0, s_jk, alpha, k, n_lists)
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
        prop = alpha * math.exp(state[1] * _normal(rs))
        lr = _log_alpha_target(prop, n_k, k, a_alpha, b_alpha) - _log_alpha_target(alpha, n_k, k, a_alpha, b_alpha)
        ok = lr >= 0.0 or math.log(1.0 - _u01(rs)) < lr
        if ok:
            alpha = prop
        if adapt:
            state[1] *= 1.02 if ok else 0.99
    # 3. item-response probabilities
    for j in range(n_lists):
        for c in range(k):
            x = _beta(rs, 1.0 + s_jk[j, c], 1.0 + n_k[c] - s_jk[j, c])
            lam[j, c] = min(max(x, 1e-300), 1.0 - 1e-15)
    # 4. stick-breaking weights
    tail = 0
    for c in range(k):
        tail += n_k[c]
    # on the log scale (log V = lg1 - log(e^lg1 + e^lg2), log(1 - V) = lg2 - ..., lg from log-gamma
    # draws, as R LCMCR): no clamp of V below 1, so log(1 - V) and with it the rate of alpha's
    # conditional are exact however small alpha gets (a clamp at V <= 1 - 1e-15 kept alpha's rate
    # below b + 34.5 (K - 1) and shifted N's posterior)
    acc = 0.0
    for c in range(k):
        tail -= n_k[c]
        if c < k - 1:
            lg1 = _log_gamma(rs, 1.0 + n_k[c])
            lg2 = _log_gamma(rs, alpha + tail)
            lsum = _logaddexp(lg1, lg2)
            log_pi[c] = lg1 - lsum + acc
            acc += lg2 - lsum
        else:
            log_pi[c] = acc
    # 5. concentration: Gamma(a + K - 1, b - sum_c log(1 - V_c)), the sum being log pi_K; no floor
    # (the guard only keeps a double: prior mass below 1e-300 is about 1e-75)
    if alpha_fixed <= 0:
        alpha = _gamma(rs, a_alpha + k - 1) / (b_alpha - log_pi[k - 1])
        if not alpha > 1e-300:
            alpha = 1e-300
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
    scale_moves: int = 0,
    swap_moves: int = 0,
    hmc_steps: int = 0,
    hmc_every: int = 8,
    n_cap_factor: float = 0.0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """One chain of the truncated stick-breaking latent-class sampler (Manrique-Vallier 2016).

    ``patterns`` (P × J, 0/1) are the observed capture patterns. ``counts`` (R × P) holds the people
    per pattern for each of R replicas: row 0 the data, rows 1.. the same data with counts scaled down
    (data tempering: each replica is the exact posterior of its own smaller table, so its chain
    moves more freely). After every sweep, neighbouring replicas propose to swap their parameters
    (Metropolis on the product space; exact). With R = 1 this is the plain chain.
    Returns ``(n_draws, alpha_draws, occupied_draws, rates)`` for
    replica 0; draws have length ``samples`` (every ``thin``-th sweep after ``burn_in``).
    ``alpha_fixed > 0`` holds the concentration fixed. ``collapsed_moves`` Metropolis sweeps per
    iteration move the number of unobserved people in each class with that class's capture
    probabilities and the stick-breaking weights integrated out; ``scale_moves`` proposals per sweep
    of :func:`_scale_moves`; ``swap_moves`` label swaps per sweep (:func:`_swap_moves`); one
    Hamiltonian trajectory of ``hmc_steps`` leapfrog steps every ``hmc_every`` sweeps
    (:func:`_hmc_move`; its mass matrix is set half-way through the burn-in); all 0 give the plain
    Gibbs sampler of the paper. ``rates``: acceptance of the collapsed moves, replica swap rate,
    acceptance of the scale moves, of the label swaps, of the Hamiltonian trajectories, and the
    final Hamiltonian step size (NaN where unused). ``n_cap_factor`` > 0 truncates the prior of N at
    ``floor(n_cap_factor × n)`` (each replica at its own n), as R LCMCR does at 20 n; 0: no cap.
    """
    np.random.seed(seed)
    rs = seed_state(seed)
    n_rep, n_pat = counts.shape
    n_lists = patterns.shape[1]
    k = n_classes
    n_obs = np.zeros(n_rep, dtype=np.int64)
    for r in range(n_rep):
        for p in range(n_pat):
            n_obs[r] += counts[r, p]
    max_unseen = np.full(n_rep, -1, dtype=np.int64)
    if n_cap_factor > 0:
        for r in range(n_rep):
            max_unseen[r] = max(math.floor(n_cap_factor * n_obs[r]) - n_obs[r], 0)
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
    q_lam = np.empty((n_lists, k))
    q_1m = np.empty((n_lists, k))
    pi = np.empty(k)
    scratch_stats = np.zeros(2, dtype=np.int64)
    ll_a = np.empty(n_pat)
    ll_b = np.empty(n_pat)
    out_n = np.empty(samples, dtype=np.int64)
    out_alpha = np.empty(samples)
    out_occ = np.empty(samples, dtype=np.int64)
    n_swap = 0
    n_swap_acc = 0
    sstep = np.full((n_rep, k), 0.3)
    f = np.empty((n_pat, k))
    pp = np.empty(n_pat)
    tails = np.empty(k)
    fnew = np.empty(n_pat)
    lz = np.empty(k)
    unseen = np.empty(k)
    newlam = np.empty((2, n_lists))
    sstats = np.zeros(2, dtype=np.int64)
    swstats = np.zeros(2, dtype=np.int64)
    dh = n_lists * k + k - 1
    hs = np.zeros((n_rep, 7))
    minv = np.ones((n_rep, dh))
    hbuf = np.zeros((n_rep, 7, dh))
    for r in range(n_rep):
        hs[r, 0] = math.log(HMC_STEP0)
    lam_t = np.empty((n_lists, k))
    l1_t = np.empty((n_lists, k))
    kv = np.empty((5, k))
    total = burn_in + samples * thin
    saved = 0
    for it in range(total):
        adapt = it < burn_in
        n0 = 0
        occ = 0
        n_leap = hmc_steps if it % hmc_every == 0 else 0
        if hmc_steps > 0 and it == burn_in // 2:
            for r in range(n_rep):
                _hmc_set_mass(hs[r], minv[r], hbuf[r])
        for r in range(n_rep - 1, -1, -1):
            st = stats if r == 0 else scratch_stats
            sst = sstats if r == 0 else scratch_stats
            swst = swstats if r == 0 else scratch_stats
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
                q_lam,
                q_1m,
                pi,
                rs,
                scale_moves,
                sstep[r],
                f,
                pp,
                tails,
                fnew,
                lz,
                unseen,
                newlam,
                sst,
                swap_moves,
                swst,
                n_leap,
                hs[r],
                minv[r],
                hbuf[r],
                lam_t,
                l1_t,
                kv,
                max_unseen[r],
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
                if max_unseen[0] >= 0:  # the capped targets carry P(n0 <= cap - n | params)
                    pa = _p_unseen(lam[r], log_pi[r], k)
                    pb = _p_unseen(lam[r + 1], log_pi[r + 1], k)
                    lr += log_nb_cdf(n_obs[r], pb, max_unseen[r]) + log_nb_cdf(n_obs[r + 1], pa, max_unseen[r + 1])
                    lr -= log_nb_cdf(n_obs[r], pa, max_unseen[r]) + log_nb_cdf(n_obs[r + 1], pb, max_unseen[r + 1])
                n_swap += 1
                if lr >= 0.0 or math.log(1.0 - _u01(rs)) < lr:
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
    scale_rate = sstats[1] / sstats[0] if sstats[0] > 0 else math.nan
    rates = np.full(6, math.nan)
    rates[0] = acc_rate
    rates[1] = swap_rate
    rates[2] = scale_rate
    if swstats[0] > 0:
        rates[3] = swstats[1] / swstats[0]
    if hs[0, 5] > 0:
        rates[4] = hs[0, 4] / hs[0, 5]
        rates[5] = math.exp(hs[0, 0])
    return out_n, out_alpha, out_occ, rates


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
    ∝ 1/N. The sampler uses the difference form :func:`log_ratio`; this full form is its test."""
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
    rs: np.ndarray,
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
    lr = log_ratio(c, old, new, n_obs, n0, n_obs_k, m0, s_jk, alpha, k, n_lists)
    return lr >= 0.0 or math.log(1.0 - _u01(rs)) < lr


@numba.njit(cache=True, nogil=True)
def log_ratio(
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
) -> float:
    """``_log_f(c, new) - _log_f(c, old)`` with only the terms that change (class c's own terms and
    the sticks of the classes before it), each evaluated once: a third fewer lgamma calls than
    the difference of the two full evaluations. ``m0[c]`` must hold ``old``."""
    d = new - old
    big_old = n_obs + n0
    lr = math.lgamma(big_old + d) - math.lgamma(big_old) - math.lgamma(new + 1.0) + math.lgamma(old + 1.0)
    nc_o = n_obs_k[c] + old
    nc_n = nc_o + d
    for j in range(n_lists):
        lr += math.lgamma(1.0 + nc_n - s_jk[j, c]) - math.lgamma(1.0 + nc_o - s_jk[j, c])
    lr -= n_lists * (math.lgamma(2.0 + nc_n) - math.lgamma(2.0 + nc_o))
    # sticks: tail_cc = people in classes after cc (class c at its old size)
    tail = 0.0
    for cc in range(k):
        tail += n_obs_k[cc] + m0[cc]
    for cc in range(c + 1):
        ncc = n_obs_k[cc] + m0[cc]
        tail -= ncc
        if cc == k - 1:
            break
        if cc == c:
            at = alpha + tail
            lr += (
                math.lgamma(1.0 + nc_n)
                - math.lgamma(1.0 + nc_n + at)
                - math.lgamma(1.0 + nc_o)
                + math.lgamma(1.0 + nc_o + at)
            )
        else:
            at = alpha + tail
            lr += math.lgamma(at + d) - math.lgamma(at) - math.lgamma(1.0 + ncc + at + d) + math.lgamma(1.0 + ncc + at)
    return lr


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


@numba.njit(cache=True, nogil=True)
def _draw_many(kind: int, a: float, b: float, size: int, seed: int) -> np.ndarray:
    np.random.seed(seed)
    rs = seed_state(seed)
    out = np.empty(size)
    for i in range(size):
        if kind == 0:
            out[i] = _gamma(rs, a)
        elif kind == 3:
            out[i] = _normal(rs)
        elif kind == 1:
            out[i] = _beta(rs, a, b)
        else:
            out[i] = _binomial(rs, int(a), b)
    return out


def draw_many(kind: str, a: float, b: float, size: int, seed: int) -> np.ndarray:
    """``size`` draws of the sampler's own ``"gamma"`` (shape a), ``"beta"`` (a, b),
    ``"binomial"`` (n = a, q = b) or ``"normal"`` generators: for tests of the distributions."""
    return _draw_many({"gamma": 0, "beta": 1, "binomial": 2, "normal": 3}[kind], a, b, size, seed)


@numba.njit(cache=True, nogil=True)
def multinomial_many(n: int, p: np.ndarray, order: np.ndarray, size: int, seed: int) -> np.ndarray:
    """``size`` draws of the sampler's Multinomial(n, p) (rows), cells visited in ``order``: for
    tests."""
    np.random.seed(seed)
    rs = seed_state(seed)
    k = p.size
    out = np.empty((size, k), dtype=np.int64)
    m = np.empty(k, dtype=np.int64)
    for i in range(size):
        _multinomial(rs, n, p, m, order)
        out[i] = m
    return out


@numba.njit(cache=True, nogil=True)
def hmc_only_chain(
    patterns: np.ndarray,
    pcounts: np.ndarray,
    k: int,
    alpha: float,
    lam: np.ndarray,
    log_pi: np.ndarray,
    burn_in: int,
    samples: int,
    n_leap: int,
    seed: int,
) -> tuple[np.ndarray, float]:
    """Test aid: a chain of Hamiltonian trajectories alone (alpha fixed, no Gibbs steps), each
    followed by a draw of N given (lam, pi) (n + NegBin(n, P(seen))). Returns the draws of N after
    ``burn_in`` (adaptation as in the sampler) and the acceptance rate: with nothing else moving,
    an error in the Hamiltonian target shows in these draws."""
    np.random.seed(seed)
    rs = seed_state(seed)
    n_lists = patterns.shape[1]
    n_obs = 0
    for p in range(pcounts.size):
        n_obs += pcounts[p]
    d = n_lists * k + k - 1
    hs = np.zeros(7)
    hs[0] = math.log(HMC_STEP0)
    minv = np.ones(d)
    buf = np.zeros((7, d))
    lam_t = np.empty((n_lists, k))
    l1_t = np.empty((n_lists, k))
    kv = np.empty((5, k))
    out = np.empty(samples, dtype=np.int64)
    for it in range(burn_in + samples):
        if it == burn_in // 2:
            _hmc_set_mass(hs, minv, buf)
        _hmc_move(patterns, pcounts, n_obs, k, alpha, n_leap, it < burn_in, lam, log_pi, hs, minv, buf, lam_t, l1_t,
                  kv, rs)  # fmt: skip
        if it >= burn_in:
            unseen = 0.0
            for c in range(k):
                z = log_pi[c]
                for j in range(n_lists):
                    z += math.log1p(-lam[j, c])
                unseen += math.exp(z)
            rate = _gamma(rs, float(n_obs)) * unseen / (1.0 - unseen)
            out[it - burn_in] = n_obs + (np.random.poisson(rate) if rate > 0 else 0)
            if it == burn_in:
                hs[4] = 0.0
                hs[5] = 0.0
    return out, hs[4] / max(hs[5], 1.0)
