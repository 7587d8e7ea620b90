"""Poisson log-linear fitting on the incomplete 2^K table, with the extended-MLE checks.

Three pieces, all vectorized over many (model, data) pairs at once because model selection and the
bootstrap fit thousands of small models:

* ``margins``: the sufficient statistic of every term (people on all lists of the term), by a
  superset-sum transform.
* ``model_status``: the checks of Chan, Silverman & Vincent (2021, JASA): terms whose margin is zero
  have extended-MLE value −∞ and their cells are dropped (Fienberg & Rinaldo 2012); then the rank of
  the design (identifiability) and the existence of a strictly positive table with the observed
  margins (existence). Status 0 = fine, 1 = no extended MLE, 2 = not identifiable, 3 = both, as
  MultipleSystemsEstimation's ``check_extended_MLE``. Existence is decided exactly: by a rank test
  when the positive cells already pin down the parameters, otherwise over the directions the positive
  cells leave free (equivalent, by Gordan's alternative, to the LP of Fienberg & Rinaldo): by one
  non-negative least-squares problem with a certificate either way, or by a small linear program
  where that certificate is not clear-cut.
* ``fit_batch``: iteratively reweighted least squares (Newton's method for the canonical Poisson
  link) for a batch of models sharing one master design, with per-model column and cell masks.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise

import numpy as np

from cifranegra.estimation._special import lgamma as gammaln  # scipy.special's import costs 0.1 s
from cifranegra.estimation.models import HierarchicalModel, ModelSpace, master_columns

_RANK_TOL = 1e-9
#: status of a model whose extended MLE exists but whose fit failed numerically from both starts
#: (warm and R glm's); it is left out of selection and listed with the excluded models
FAILED = 4


def margins(counts: np.ndarray) -> np.ndarray:
    """``m[T]`` = number of people on every list of term ``T`` (superset sums of ``counts``)."""
    f = np.asarray(counts, dtype=np.float64).copy()
    k = int(np.log2(f.size))
    for i in range(k):
        shape = (2 ** (k - i - 1), 2, 2**i)
        v = f.reshape(shape)
        v[:, 0, :] += v[:, 1, :]
    return f


@dataclass(frozen=True)
class Prepared:
    """A model on particular data: which terms are estimated and which cells are kept."""

    model: HierarchicalModel
    estimated: tuple[int, ...]  # term masks with positive margin (intercept first)
    sparse: tuple[int, ...]  # term masks with zero margin: fixed at −∞
    kept: np.ndarray  # bool over cells 1..2^K−1

    @property
    def n_parameters(self) -> int:
        """All parameters of the model, those at −∞ included (as MultipleSystemsEstimation's BIC)."""
        return self.model.n_parameters


def prepare(model: HierarchicalModel, counts: np.ndarray, marg: np.ndarray | None = None) -> Prepared:
    if marg is None:
        marg = margins(counts)
    sparse = tuple(t for t in model.columns if t and marg[t] == 0)
    estimated = tuple(t for t in model.columns if t == 0 or marg[t] > 0)
    cells = np.arange(1, 2**model.n_lists)
    kept = np.ones(cells.size, dtype=bool)
    for t in sparse:
        kept &= (cells & t) != t
    return Prepared(model, estimated, sparse, kept)


def _design(n_lists: int, terms: tuple[int, ...], cells: np.ndarray) -> np.ndarray:
    cols = np.asarray(terms)[None, :]
    return ((cells[:, None] & cols) == cols).astype(np.float64)


def status_of(prep: Prepared, counts: np.ndarray) -> int:
    """0 ok, 1 no extended MLE, 2 not identifiable, 3 both (see module docstring)."""
    k = prep.model.n_lists
    cells = np.arange(1, 2**k)[prep.kept]
    y = np.asarray(counts)[cells]
    X = _design(k, prep.estimated, cells)
    p = X.shape[1]
    status = 0
    if np.linalg.matrix_rank(X, tol=_RANK_TOL * max(X.shape)) < p:
        status |= 2
    pos = y > 0
    Xp = X[pos]
    if Xp.shape[0] >= p and np.linalg.matrix_rank(Xp, tol=_RANK_TOL * max(Xp.shape)) == p:
        return status
    if _no_extended_mle(X, pos):
        status |= 1
    return status


def _no_extended_mle(X: np.ndarray, pos: np.ndarray) -> bool:
    """Whether the extended MLE fails to exist on the cells of design ``X`` (kept cells, estimated
    terms), ``pos`` marking the positive ones: whether some direction θ has X_P θ = 0 and
    X_Z θ >= 0, != 0 (Fienberg & Rinaldo 2012)."""
    p = X.shape[1]
    Xp = X[pos]
    if Xp.shape[0]:
        _, s, vt = np.linalg.svd(Xp, full_matrices=True)
        rank = int(np.sum(s > _RANK_TOL * max(Xp.shape) * (s[0] if s.size else 1.0)))
        null = vt[rank:].T
    else:
        null = np.eye(p)
    M = X[~pos] @ null
    if M.size == 0 or np.abs(M).max() < 1e-10:
        return False
    fails = _fails_by_nnls(M)
    return _fails_by_lp(M) if fails is None else fails


def _fails_by_nnls(M: np.ndarray) -> bool | None:
    """Whether some u has ``M u >= 0``, ``M u != 0`` (the extended MLE then fails to exist), decided by
    one non-negative least-squares problem with a certificate either way; ``None`` when the
    certificate is not clear-cut to working precision (then the linear program decides).

    With s = the sum of M's rows, μ = argmin ‖Mᵀμ + s‖ over μ >= 0 and w = Mᵀμ + s, the optimality
    conditions give M w >= 0 and sum(M w) = ‖w‖². So either w = 0, and λ = 1 + μ > 0 has Mᵀλ = 0: no
    such u exists (Stiemke's alternative); or w != 0 is such a u. About 50 times faster than the
    linear program, which it agrees with (tests/estimation/test_existence_fast.py).
    """
    M = M[np.abs(M).max(axis=1) > 1e-10]  # cells no free direction moves: they settle nothing
    s = M.sum(axis=0)
    try:
        from scipy.optimize import nnls  # scipy.optimize only when a check needs it

        mu, _ = nnls(M.T, -s)
    except (RuntimeError, ValueError, np.linalg.LinAlgError):
        return None
    w = M.T @ mu + s
    if np.all(np.isfinite(w)) and float(np.abs(w).max()) <= 1e-9 and 0.0 <= float(mu.min()) <= float(mu.max()) <= 1e6:
        return False  # λ = 1 + μ >= 1 with Mᵀλ = 0 (to rounding): every direction has M u = 0
    mw = M @ w
    top = float(mw.max()) if mw.size else 0.0
    if top >= 1e-6 and float(mw.min()) >= -1e-10 * top:
        return True  # w is a direction with M w >= 0, != 0
    return None


def _fails_by_lp(M: np.ndarray) -> bool:
    """The same question as :func:`_fails_by_nnls` by a linear program: maximize sum(M u) subject to
    0 <= M u <= 1; a positive optimum is such a u."""
    from scipy.optimize import linprog

    res = linprog(
        c=-M.sum(axis=0),
        A_ub=np.vstack([-M, M]),
        b_ub=np.concatenate([np.zeros(M.shape[0]), np.ones(M.shape[0])]),
        bounds=[(None, None)] * M.shape[1],
        method="highs",
    )
    return bool(res.status == 0 and -res.fun > 1e-7)


class StatusCache:
    """Memoizes ``status_of`` by (model, zero pattern of the data): bootstrap replicates share few
    zero patterns, so most checks are lookups (as MultipleSystemsEstimation's batch check does)."""

    def __init__(self) -> None:
        self._memo: dict[tuple[object, bytes], int] = {}

    def get(self, key: tuple[object, bytes]) -> int | None:
        return self._memo.get(key)

    def put(self, key: tuple[object, bytes], value: int) -> None:
        self._memo[key] = int(value)

    def status(self, model: HierarchicalModel, counts: np.ndarray, prep: Prepared | None = None) -> int:
        key = (model.terms, np.packbits(np.asarray(counts) > 0).tobytes())
        hit = self._memo.get(key)
        if hit is None:
            if prep is None:
                prep = prepare(model, counts)
            hit = status_of(prep, counts)
            self._memo[key] = hit
        return hit


@dataclass(frozen=True)
class BatchFit:
    """Results of ``fit_batch``: one row per (model, data) pair."""

    beta: np.ndarray  # (B, p) on the master columns (0 where not estimated)
    mu: np.ndarray  # (B, n_cells) fitted means (0 on dropped cells)
    log_likelihood: np.ndarray  # (B,)
    deviance: np.ndarray  # (B,)
    intercept_var: np.ndarray  # (B,) variance of the intercept (inverse Fisher information)
    converged: np.ndarray  # (B,) bool
    iterations: int
    model_iterations: np.ndarray  # (B,) iterations each model needed
    singular_steps: np.ndarray  # (B,) Newton steps taken by least squares (singular X'WX)


def solve_batch(A: np.ndarray, rhs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Solve the stacked systems ``A[b] x = rhs[b]``; where ``A[b]`` is singular (to working
    precision), take the minimum-norm least-squares solution instead.

    In an IRLS step ``A = X'WX`` and ``rhs = X'Wz``: the normal equations of a weighted least-squares
    problem, which always has solutions; when fitted means underflow on the only cells that inform
    some term (a warm start far from the optimum does this), ``X'WX`` loses rank and the
    minimum-norm solution (the pseudo-inverse, as R's ``glm`` drops aliased columns) is still a
    minimizer of the weighted least squares, so the step stays a Newton step on the identified
    directions. Returns the solutions and a bool mask of the systems solved by least squares.
    """
    singular = np.zeros(A.shape[0], dtype=bool)
    try:
        return np.linalg.solve(A, rhs), singular
    except np.linalg.LinAlgError:
        pass
    out = np.empty(rhs.shape)
    for b in range(A.shape[0]):
        try:
            out[b] = np.linalg.solve(A[b], rhs[b])
        except np.linalg.LinAlgError:
            singular[b] = True
            out[b] = np.linalg.lstsq(A[b], rhs[b], rcond=None)[0]
    return out, singular


def _superset_sums(f: np.ndarray, k: int) -> None:
    """In place, along the last axis of length 2^k: f[T] <- sum of f[c] over cells c ⊇ T."""
    B = f.shape[0]
    for i in range(k):
        v = f.reshape(B, 2 ** (k - i - 1), 2, 2**i)
        v[:, :, 0, :] += v[:, :, 1, :]


def _subset_sums(f: np.ndarray, k: int) -> None:
    """In place, along the last axis of length 2^k: f[c] <- sum of f[T] over terms T ⊆ c."""
    B = f.shape[0]
    for i in range(k):
        v = f.reshape(B, 2 ** (k - i - 1), 2, 2**i)
        v[:, :, 1, :] += v[:, :, 0, :]


def _cross_index(cols: np.ndarray, colmask: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """How each entry of X'WX is read from the superset sums of the weights: at the union of the two
    terms (``union``, per model), kept where both terms are estimated (``keep``), with 1 added on the
    diagonal of terms that are not (``add``), so the system stays regular and their coefficients are 0.
    ``cols`` is (p,) shared by every model or (B, p), one column set per model."""
    p = cols.shape[-1]
    if cols.ndim == 1:
        union = (cols[:, None] | cols[None, :]).reshape(1, p * p)
    else:
        union = (cols[:, :, None] | cols[:, None, :]).reshape(cols.shape[0], p * p)
    both = (colmask[:, :, None] & colmask[:, None, :]).reshape(colmask.shape[0], p * p)
    diag = np.eye(p, dtype=bool).ravel()[None, :]
    add = (diag & ~both).astype(np.float64)
    return union, both.astype(np.float64), add


def fit_batch(
    n_lists: int,
    columns: tuple[int, ...] | np.ndarray,
    Y: np.ndarray,
    colmask: np.ndarray,
    rowmask: np.ndarray,
    *,
    max_iter: int = 100,
    tol: float = 1e-10,
    mu_start: np.ndarray | None = None,
    zero_cell: bool = False,
    variance: bool = True,
) -> BatchFit:
    """Fit B Poisson log-linear models by IRLS (Newton's method for the canonical link) at once.

    ``Y`` holds counts over cells 1..2^K−1 (over 0..2^K−1 with ``zero_cell``, as the profile
    likelihood needs). ``columns`` are the terms (intercept first): one tuple shared by every model,
    or a (B, p) array giving each model its own terms, so each solves only its own p × p system; model
    ``b`` estimates the terms where ``colmask[b]`` and uses the cells where ``rowmask[b]``. Starts as
    R's ``glm`` (mu = y + 0.1) unless ``mu_start`` is given, and iterates each model until its relative
    deviance change is below ``tol``. Because the design is the subset-inclusion matrix, X'WX[j, l] is
    the sum of the weights over cells containing term j ∪ term l and Xβ is a sum over sub-terms: both
    are fast zeta transforms (O(K·2^K) per model) instead of matrix products.
    """
    k = n_lists
    Y = np.asarray(Y, dtype=np.float64)
    B = Y.shape[0]
    cols = np.asarray(columns)
    per_model = cols.ndim == 2
    p = cols.shape[-1]
    cm = colmask.astype(np.float64)
    rm = rowmask.astype(np.float64)
    beta = np.zeros((B, p))
    mu = (Y + 0.1) if mu_start is None else np.array(mu_start, dtype=np.float64)
    eta = np.log(mu)
    dev_old = np.full(B, np.inf)
    dev = np.zeros(B)
    converged = np.zeros(B, dtype=bool)
    n_iter = np.full(B, max_iter)
    n_singular = np.zeros(B, dtype=np.int64)
    active = np.arange(B)
    it = 0
    union, keep, add = _cross_index(cols, colmask)
    first = 0 if zero_cell else 1

    def gather(g: np.ndarray, index: np.ndarray, rows: np.ndarray | None) -> np.ndarray:
        if not per_model:
            return np.take(g, index[0] if index.ndim == 2 else index, axis=1)
        return np.take_along_axis(g, index if rows is None else index[rows], axis=1)

    def cross(w: np.ndarray, rows: np.ndarray | None) -> np.ndarray:
        g = np.zeros((w.shape[0], 2**k))
        g[:, first:] = w
        _superset_sums(g, k)
        A = gather(g, union, rows)
        if rows is None:
            A *= keep
            A += add
        else:
            A *= keep[rows]
            A += add[rows]
        return A.reshape(-1, p, p)

    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        ylogy = np.where(Y > 0, Y * np.log(np.where(Y > 0, Y, 1.0)), 0.0)
        for it in range(1, max_iter + 1):
            a = active
            every = a.size == B
            rows = None if every else a
            cma = cm if every else cm[a]
            rma = rm if every else rm[a]
            Ya = Y if every else Y[a]
            mua = mu if every else mu[a]
            etaa = eta if every else eta[a]
            w = mua * rma
            A = cross(w, rows)
            g = np.zeros((a.size, 2**k))
            g[:, first:] = w * (etaa + (Ya - mua) / mua)
            _superset_sums(g, k)
            rhs = gather(g, cols, rows) * cma
            sol, sing = solve_batch(A, rhs[:, :, None])
            b_new = sol[:, :, 0] * cma
            n_singular[a[sing]] += 1
            beta[a] = b_new
            g = np.zeros((a.size, 2**k))
            if per_model:
                np.put_along_axis(g, cols if rows is None else cols[rows], b_new, axis=1)
            else:
                g[:, cols] = b_new
            _subset_sums(g, k)
            eta_a = g[:, first:]
            mu_a = np.exp(np.minimum(eta_a, 700.0))
            eta[a] = eta_a
            mu[a] = mu_a
            dev_a = 2.0 * np.sum(((ylogy if every else ylogy[a]) - Ya * eta_a - (Ya - mu_a)) * rma, axis=1)
            done = np.abs(dev_a - dev_old[a]) / (np.abs(dev_a) + 0.1) < tol
            dev[a] = dev_a
            dev_old[a] = dev_a
            converged[a[done]] = True
            n_iter[a[done]] = it
            active = a[~done]
            if active.size == 0:
                break
        if variance:
            A = cross(mu * rm, None)
            e0 = np.zeros((B, p, 1))
            e0[:, 0, 0] = 1.0
            sol, sing = solve_batch(A, e0)
            # a singular information matrix at the optimum leaves the intercept's variance undefined
            var0 = np.where(sing, np.nan, sol[:, 0, 0])
        else:
            var0 = np.full(B, np.nan)
        ll = np.sum((Y * eta - mu - gammaln(Y + 1.0)) * rm, axis=1)
    return BatchFit(beta, mu * rm, ll, dev, var0, converged, it, n_iter, n_singular)


@dataclass(frozen=True)
class SingleFit:
    """One fitted model: what selection and the result need."""

    model: HierarchicalModel
    prepared: Prepared
    abundance: float
    dark_figure: float
    log_likelihood: float
    deviance: float
    df: int
    aic: float
    bic: float
    intercept: float
    intercept_se: float
    fitted: np.ndarray  # fitted means over cells 1..2^K−1
    converged: bool


def fit_many(
    models: list[HierarchicalModel],
    counts_batch: np.ndarray,
    preps: list[Prepared],
    *,
    chunk: int = 2048,
    mu_start: np.ndarray | None = None,
) -> list[SingleFit]:
    """Fit ``models[b]`` to ``counts_batch[b]`` (2^K-length count vectors) for every b."""
    if not models:
        return []
    k = models[0].n_lists
    # one model: its own terms; several: the terms of all of them up to the highest order
    cols = models[0].columns if len(models) == 1 else master_columns(k, max(m.order for m in models))
    col_index = {t: j for j, t in enumerate(cols)}
    cells = np.arange(1, 2**k)
    out: list[SingleFit] = []
    for start in range(0, len(models), chunk):
        sl = slice(start, start + chunk)
        ms = models[sl]
        ps = preps[sl]
        Y = np.asarray(counts_batch[sl], dtype=np.float64)[:, 1:]
        B = len(ms)
        colmask = np.zeros((B, len(cols)), dtype=bool)
        rowmask = np.zeros((B, cells.size), dtype=bool)
        for b, prep in enumerate(ps):
            colmask[b, [col_index[t] for t in prep.estimated]] = True
            rowmask[b] = prep.kept
        mu0 = None
        if mu_start is not None:
            mu0 = np.where((mu_start[sl] > 0) & rowmask, mu_start[sl], Y + 0.1)
        fit = fit_batch(k, cols, Y, colmask, rowmask, mu_start=mu0)
        n_obs = Y.sum(axis=1)
        for b, (m, prep) in enumerate(zip(ms, ps, strict=True)):
            npar = prep.n_parameters
            ll = float(fit.log_likelihood[b])
            b0 = float(fit.beta[b, 0])
            dark = float(np.exp(b0))
            out.append(
                SingleFit(
                    model=m,
                    prepared=prep,
                    abundance=float(n_obs[b]) + dark,
                    dark_figure=dark,
                    log_likelihood=ll,
                    deviance=float(fit.deviance[b]),
                    df=int(prep.kept.sum()) - len(prep.estimated),
                    aic=2.0 * npar - 2.0 * ll,
                    bic=npar * float(np.log(n_obs[b])) - 2.0 * ll,
                    intercept=b0,
                    intercept_se=float(np.sqrt(max(fit.intercept_var[b], 0.0))),
                    fitted=fit.mu[b],
                    converged=bool(fit.converged[b]),
                )
            )
    return out


def fit_one(model: HierarchicalModel, counts: np.ndarray, mu_start: np.ndarray | None = None) -> SingleFit:
    """Fit one model (``mu_start``: fitted means of a nearby model over cells 1..2^K−1, to start from)."""
    prep = prepare(model, counts)
    start = None if mu_start is None else mu_start[None, :]
    return fit_many([model], np.asarray(counts)[None, :], [prep], mu_start=start)[0]


def fit_each(
    models: list[HierarchicalModel], counts_batch: np.ndarray, mu_start: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """``fit_one(models[b], counts_batch[b], mu_start[b])`` for every b at once, the models having
    equal numbers of terms: the fitted means (B × cells 1..2^K−1) and N̂ (B,). Each model solves its
    own p × p system, so the numbers are those of one fit at a time (the stepwise bootstrap fits
    its replicates' models step by step this way)."""
    k = models[0].n_lists
    counts_batch = np.asarray(counts_batch)
    preps = [prepare(m, c) for m, c in zip(models, counts_batch, strict=True)]
    cols = np.array([m.columns for m in models], dtype=np.int64)
    colmask = np.array([[t in set(p.estimated) for t in m.columns] for m, p in zip(models, preps, strict=True)])
    rowmask = np.array([p.kept for p in preps])
    Y = np.asarray(counts_batch, dtype=np.float64)[:, 1:]
    mu0 = None
    if mu_start is not None:
        mu0 = np.where((mu_start > 0) & rowmask, mu_start, Y + 0.1)
    fit = fit_batch(k, cols, Y, colmask, rowmask, mu_start=mu0, variance=False)
    n_obs = Y.sum(axis=1)
    abundance = np.array([float(n_obs[b]) + float(np.exp(float(fit.beta[b, 0]))) for b in range(len(models))])
    return fit.mu, abundance


# ---------------------------------------------------------------------- many models on one table
@dataclass(frozen=True)
class ModelSetFit:
    """Every model of a :class:`ModelSpace` fitted to one table (arrays aligned with its rows)."""

    space: ModelSpace
    status: np.ndarray  # 0 ok, 1 no extended MLE, 2 not identifiable, 3 both
    abundance: np.ndarray  # NaN where status != 0
    log_likelihood: np.ndarray
    deviance: np.ndarray
    n_parameters: np.ndarray
    df: np.ndarray
    aic: np.ndarray
    bic: np.ndarray
    intercept: np.ndarray
    converged: np.ndarray


def _full_rank(gram: np.ndarray) -> np.ndarray:
    """Batched test that symmetric PSD matrices are non-singular: a Cholesky factorization with no
    relatively tiny pivot; chunks where it fails or is close are settled by eigenvalues."""
    out = np.zeros(gram.shape[0], dtype=bool)
    for s in range(0, gram.shape[0], 2048):
        g = gram[s : s + 2048]
        scale = np.maximum(np.einsum("bii->bi", g).max(axis=1), 1.0)
        try:
            L = np.linalg.cholesky(g)
            piv = np.einsum("bii->bi", L).min(axis=1) ** 2
            good = piv > 1e-6 * scale
            unsure = ~good
        except np.linalg.LinAlgError:
            good = np.zeros(g.shape[0], dtype=bool)
            unsure = ~good
        if unsure.any():
            ev = np.linalg.eigvalsh(g[unsure])
            good[unsure] = ev[:, 0] > 1e-9 * scale[unsure]
        out[s : s + 2048] = good
    return out


def _gram(cells: np.ndarray, gidx: tuple[np.ndarray, np.ndarray, np.ndarray], k: int, p: int) -> np.ndarray:
    """X'X over the chosen cells (bool, per model), masked to each model's estimated terms."""
    union, keep, add = gidx
    g = np.zeros((cells.shape[0], 2**k))
    g[:, 1:] = cells
    _superset_sums(g, k)
    A = np.take(g, union[0], axis=1)
    A *= keep
    A += add
    return A.reshape(-1, p, p)


def _existence(
    space: ModelSpace,
    est: np.ndarray,
    kept: np.ndarray,
    todo: np.ndarray,
    counts: np.ndarray,
    cache: StatusCache | None,
    zkey: bytes,
) -> np.ndarray:
    """Existence bit (1 = no extended MLE) for the models in ``todo``, whose positive cells leave
    some parameter direction free. On the same kept cells, a direction that shows a model's MLE
    missing shows it for every model with more terms (Fienberg & Rinaldo 2012), so models are taken
    smallest first and one that contains a failed model fails too; one whose estimated terms and
    kept cells equal an earlier one's (they differ only in terms at −∞) shares its answer. The check
    itself runs only where neither settles the question."""
    out = np.zeros(len(space), dtype=np.int64)
    if todo.size == 0:
        return out
    cols = np.asarray(space.columns)
    k = space.n_lists
    cells = np.arange(1, 2**k)
    counts = np.asarray(counts)
    bits = np.packbits(est[todo], axis=1)
    ints = [int.from_bytes(b.tobytes(), "big") for b in bits]
    groups: dict[bytes, tuple[dict[int, int], list[int]]] = {}
    order = sorted(range(todo.size), key=lambda j: bin(ints[j]).count("1"))
    for j in order:
        i = int(todo[j])
        e = ints[j]
        seen, failed = groups.setdefault(kept[i].tobytes(), ({}, []))
        hit = seen.get(e)
        if hit is None and any((x & ~e) == 0 for x in failed):
            hit = 1
        if hit is None:
            key = (("existence", space.matrix[i].tobytes()), zkey)
            hit = cache.get(key) if cache is not None else None
            if hit is None:
                X = _design(k, tuple(int(t) for t in cols[est[i]]), cells[kept[i]])
                hit = int(_no_extended_mle(X, counts[1:][kept[i]] > 0))
                if cache is not None:
                    cache.put(key, hit)
            seen[e] = hit
            if hit:
                failed.append(e)
        out[i] = hit
    return out


def _compact(colarr: np.ndarray, sel: np.ndarray, est: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each model's own terms (rows of ``sel`` must have equal counts): (B, p) term masks, intercept
    first, and which of them are estimated."""
    B = sel.shape[0]
    p = int(sel[0].sum())
    cols = np.broadcast_to(colarr, sel.shape)[sel].reshape(B, p)
    return cols, est[sel].reshape(B, p)


def _compact_any(colarr: np.ndarray, sel: np.ndarray, est: np.ndarray) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Like :func:`_compact`, one model at a time (rows may differ in size)."""
    return [colarr[r] for r in sel], [e[r] for e, r in zip(est, sel, strict=True)]


def _row_keys(mat: np.ndarray) -> list[bytes]:
    packed = np.packbits(mat, axis=1)
    return [r.tobytes() for r in packed]


def fit_model_set(
    space: ModelSpace,
    counts: np.ndarray,
    *,
    cache: StatusCache | None = None,
    chunk: int = 4096,
    selection_tol: float = 1e-9,
) -> ModelSetFit:
    """Check and fit every model of ``space`` on ``counts`` (vectorized; warm starts from parents).

    Models are fitted level by level (number of interaction terms); each starts from the fitted
    means of a parent with one maximal term fewer, so Newton's method needs few steps.
    """
    k = space.n_lists
    counts = np.asarray(counts)
    cols = space.columns
    colsel = space.matrix
    M, p = colsel.shape
    cells = np.arange(1, 2**k)
    y = counts[1:].astype(np.float64)
    colarr = np.asarray(cols)
    n_params = colsel.sum(axis=1)
    status, est, kept = _check_space(space, counts, cache)
    ok = status == 0
    # --- parents: the model without its last maximal interaction term
    sizes = np.array([bin(t).count("1") for t in cols])
    strict_sup = np.array([[(a & b) == a and a != b for b in cols] for a in cols])  # [a, b]: a ⊂ b
    has_sup = (colsel.astype(np.float64) @ strict_sup.T.astype(np.float64)) > 0
    maximal = colsel & ~has_sup & (sizes >= 2)[None, :]
    parent = np.full(M, -1)
    lastmax = np.where(maximal.any(axis=1), p - 1 - np.argmax(maximal[:, ::-1], axis=1), -1)
    keys = {kk: i for i, kk in enumerate(_row_keys(colsel))}
    rows = np.flatnonzero(lastmax >= 0)
    pm = colsel[rows].copy()
    pm[np.arange(rows.size), lastmax[rows]] = False
    for r, kk in zip(rows, _row_keys(pm), strict=True):
        j = keys.get(kk, -1)
        if j >= 0 and ok[j]:
            parent[r] = j
    level = colsel[:, sizes >= 2].sum(axis=1)
    mu_all = np.zeros((M, cells.size))
    intercept = np.zeros(M)
    ll = np.full(M, np.nan)
    dev = np.full(M, np.nan)
    conv = np.zeros(M, dtype=bool)
    singular = np.zeros(M, dtype=bool)
    for lev in np.unique(level):
        idx = np.flatnonzero((level == lev) & ok)
        for s in range(0, idx.size, chunk):
            sub = idx[s : s + chunk]
            start = np.where(parent[sub, None] >= 0, mu_all[np.maximum(parent[sub], 0)], y[None, :] + 0.1)
            start = np.where(start > 0, start, y[None, :] + 0.1)
            cols_sub, est_sub = _compact(colarr, colsel[sub], est[sub])
            fit = fit_batch(
                k,
                cols_sub,
                np.broadcast_to(y, (sub.size, y.size)),
                est_sub,
                kept[sub],
                mu_start=start,
                variance=False,
                tol=selection_tol,
            )
            mu_all[sub] = fit.mu
            intercept[sub] = fit.beta[:, 0]
            ll[sub] = fit.log_likelihood
            dev[sub] = fit.deviance
            conv[sub] = fit.converged
            singular[sub] = fit.singular_steps > 0
    # a warm start can lead Newton's method astray (through singular steps); refit from R glm's start
    retry = np.flatnonzero(ok & (~np.isfinite(ll) | ~np.isfinite(intercept) | (singular & ~conv)))
    if retry.size:
        cols_r, est_r = _compact_any(colarr, colsel[retry], est[retry])
        for b, i in enumerate(retry):
            fit = fit_batch(
                k, cols_r[b][None, :], y[None, :], est_r[b][None, :], kept[i][None, :], variance=False,
                tol=selection_tol,
            )
            if np.isfinite(fit.log_likelihood[0]) and np.isfinite(fit.beta[0, 0]):
                mu_all[i], intercept[i], conv[i] = fit.mu[0], fit.beta[0, 0], fit.converged[0]
                ll[i], dev[i] = fit.log_likelihood[0], fit.deviance[0]
        failed = retry[~(np.isfinite(ll[retry]) & np.isfinite(intercept[retry]))]
        status = status.copy()
        status[failed] = FAILED
        ok = status == 0
    n_obs = y.sum()
    with np.errstate(over="ignore"):
        dark = np.exp(intercept)
    abundance = np.where(ok, n_obs + dark, np.nan)
    aic = np.where(ok, 2.0 * n_params - 2.0 * ll, np.nan)
    bic = np.where(ok, n_params * np.log(n_obs) - 2.0 * ll, np.nan)
    df = kept.sum(axis=1) - est.sum(axis=1)
    return ModelSetFit(
        space=space,
        status=status,
        abundance=abundance,
        log_likelihood=ll,
        deviance=dev,
        n_parameters=n_params,
        df=df,
        aic=aic,
        bic=bic,
        intercept=np.where(ok, intercept, np.nan),
        converged=conv,
    )


@dataclass(frozen=True)
class TablesFit:
    """Every model of a space fitted to each of several tables (bootstrap replicates, jackknife)."""

    status: np.ndarray  # (T, M)
    abundance: np.ndarray  # (T, M), NaN where the model cannot be fitted
    bic: np.ndarray
    aic: np.ndarray


def fit_tables(
    space: ModelSpace,
    tables: np.ndarray,
    *,
    mu_start: np.ndarray | None = None,
    cache: StatusCache | None = None,
    chunk: int = 8192,
    selection_tol: float = 1e-9,
) -> TablesFit:
    """Check and fit every model of ``space`` on every row of ``tables`` (T × 2^K counts).

    ``mu_start`` (M × cells), typically the fits on the original data, warm-starts Newton's method.
    Status checks are memoized by zero pattern, so replicates sharing one cost one check.
    """
    k = space.n_lists
    tables = np.asarray(tables)
    T = tables.shape[0]
    M = len(space)
    cols = np.asarray(space.columns)
    cells = np.arange(1, 2**k)
    X = _design(k, space.columns, cells)
    cache = cache if cache is not None else StatusCache()
    Y = tables[:, 1:].astype(np.float64)
    n_obs = Y.sum(axis=1)
    n_params = space.matrix.sum(axis=1)
    status = np.zeros((T, M), dtype=np.int64)
    # status by distinct zero pattern
    patterns, inverse = np.unique(tables > 0, axis=0, return_inverse=True)
    inverse = np.asarray(inverse).ravel()
    pat_status = np.zeros((patterns.shape[0], M), dtype=np.int64)
    for u in range(patterns.shape[0]):
        rep = tables[int(np.flatnonzero(inverse == u)[0])]
        zkey = np.packbits(patterns[u]).tobytes()
        todo = []
        for m in range(M):
            hit = cache.get((space.matrix[m].tobytes(), zkey))
            if hit is None:
                todo.append(m)
            else:
                pat_status[u, m] = hit
        if todo:
            sub = ModelSpace(k, space.columns, space.matrix[todo])
            st, _, _ = _check_space(sub, rep, cache)
            for m, v in zip(todo, st, strict=True):
                cache.put((space.matrix[m].tobytes(), zkey), int(v))
                pat_status[u, m] = int(v)
    status = pat_status[inverse]
    abundance = np.full((T, M), np.nan)
    bic = np.full((T, M), np.nan)
    aic = np.full((T, M), np.nan)
    ti_all, mi_all = np.nonzero(status == 0)
    colarr = cols
    size = n_params[mi_all]
    order = np.argsort(size, kind="stable")  # equal-size models batch together, each on its own terms
    ti_all, mi_all, size = ti_all[order], mi_all[order], size[order]
    bounds = [0, *np.flatnonzero(np.diff(size)) + 1, size.size]
    pieces = [(b0 + s, min(b0 + s + chunk, b1)) for b0, b1 in pairwise(bounds) for s in range(0, b1 - b0, chunk)]
    for lo_, hi_ in pieces:
        t_ = ti_all[lo_:hi_]
        m_ = mi_all[lo_:hi_]
        yy = Y[t_]
        marg = _margins_batch(tables[t_], k)
        zero = (marg[:, colarr] == 0) & (colarr != 0)[None, :]
        sel = space.matrix[m_]
        sparse = sel & zero
        kept = (sparse.astype(np.float64) @ X.T) == 0
        est = sel & ~zero
        start = None
        if mu_start is not None:
            start = mu_start[m_]
            start = np.where((start > 0) & kept, start, yy + 0.1)
        cols_sub, est_sub = _compact(colarr, sel, est)
        fit = fit_batch(k, cols_sub, yy, est_sub, kept, mu_start=start, variance=False, tol=selection_tol)
        b0, ll = fit.beta[:, 0].copy(), fit.log_likelihood.copy()
        # warm starts that went astray (non-finite, or stuck after singular steps): refit from y + 0.1
        redo = np.flatnonzero(~np.isfinite(b0) | ~np.isfinite(ll) | ((fit.singular_steps > 0) & ~fit.converged))
        if start is not None and redo.size:
            again = fit_batch(k, cols_sub[redo], yy[redo], est_sub[redo], kept[redo], variance=False, tol=selection_tol)
            b0[redo], ll[redo] = again.beta[:, 0], again.log_likelihood
        bad = ~np.isfinite(b0) | ~np.isfinite(ll)
        status[t_[bad], m_[bad]] = FAILED
        with np.errstate(over="ignore", invalid="ignore"):
            ab = np.where(bad, np.nan, n_obs[t_] + np.exp(b0))
            abundance[t_, m_] = ab
            bic[t_, m_] = np.where(bad, np.nan, n_params[m_] * np.log(n_obs[t_]) - 2.0 * ll)
            aic[t_, m_] = np.where(bad, np.nan, 2.0 * n_params[m_] - 2.0 * ll)
    return TablesFit(status, abundance, bic, aic)


def _margins_batch(tables: np.ndarray, k: int) -> np.ndarray:
    f = np.asarray(tables, dtype=np.float64).copy()
    _superset_sums(f, k)
    return f


def _check_space(
    space: ModelSpace, counts: np.ndarray, cache: StatusCache | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Status of every model of ``space`` on one table, vectorized (rank tests; LPs only where they
    are inconclusive), with each model's estimated terms and kept cells (terms at −∞ and their cells
    dropped)."""
    k = space.n_lists
    cols = np.asarray(space.columns)
    p = cols.size
    X = _design(k, space.columns, np.arange(1, 2**k))
    y = np.asarray(counts)[1:]
    marg = margins(counts)
    zero = (marg[cols] == 0) & (cols != 0)
    sparse = space.matrix & zero[None, :]
    kept = (sparse.astype(np.float64) @ X.T) == 0  # cells not containing any sparse term
    est = space.matrix & ~zero[None, :]
    gidx = _cross_index(cols, est)
    identifiable = _full_rank(_gram(kept, gidx, k, p))
    exists_fast = _full_rank(_gram(kept & (y > 0)[None, :], gidx, k, p))
    status = np.where(identifiable, 0, 2)
    zkey = np.packbits(np.asarray(counts) > 0).tobytes()
    status |= _existence(space, est, kept, np.flatnonzero(~exists_fast), counts, cache, zkey)
    return status, est, kept


def merge_model_set_fits(space: ModelSpace, parts: list[np.ndarray], fits: list[ModelSetFit]) -> ModelSetFit:
    """Reassemble fits of row subsets of ``space`` (``parts[i]`` = rows of ``fits[i]``)."""
    M = len(space)
    arrays: dict[str, np.ndarray] = {}
    for name in (
        "status",
        "abundance",
        "log_likelihood",
        "deviance",
        "n_parameters",
        "df",
        "aic",
        "bic",
        "intercept",
        "converged",
    ):
        first = getattr(fits[0], name)
        out = np.empty(M, dtype=first.dtype)
        for rows, f in zip(parts, fits, strict=True):
            out[rows] = getattr(f, name)
        arrays[name] = out
    return ModelSetFit(space=space, **arrays)
