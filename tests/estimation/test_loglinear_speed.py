"""The log-linear fast paths change no number, and the all-model search states its limit.

Speed work on the bootstrap of small strata (issue #12): distinct replicate tables evaluated once,
existence checks by non-negative least squares with the linear program as fallback, failure of the
extended MLE inherited by larger models, and the stepwise replicates fitted step by step in batches.
``GOLDEN`` holds the results computed by the code *before* those changes (commit d22b2ce), as hex
floats and sums of the replicates: same seed, same numbers (to the last bit on one machine; to 1e-9
across machines, whose BLAS kernels differ in the last bits).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import cifranegra.estimation.fitting as F  # noqa: N812
import cifranegra.estimation.loglinear as LL  # noqa: N812
from cifranegra.errors import InputError
from cifranegra.estimation import CaptureHistories, estimate
from cifranegra.estimation.models import HierarchicalModel, ModelSpace, count_hierarchical, enumerate_models
from refdata import table


def _table(k: int, cells: dict[int, int]) -> CaptureHistories:
    counts = np.zeros(2**k, dtype=np.int64)
    for mask, c in cells.items():
        counts[mask] = c
    return CaptureHistories.from_counts(counts, lists=[f"L{i + 1}" for i in range(k)])


# strata of the 6,000-person simulation stratified by sex × age group × state (one list empty: 5 lists)
TINY5 = _table(5, {1: 1, 3: 1, 4: 1, 5: 2, 12: 1, 14: 1, 17: 1, 22: 1, 24: 1, 28: 1})
TINY5B = _table(5, {2: 1, 4: 1, 12: 1, 25: 1})
SMALL5 = _table(5, {1: 16, 2: 2, 3: 7, 4: 7, 5: 11, 6: 3, 8: 3, 9: 1, 16: 5, 17: 1, 18: 1, 20: 1, 21: 2, 22: 1,
                    23: 2, 24: 1})
TINY6 = _table(6, {3: 1, 4: 1, 5: 1, 7: 1, 8: 1, 9: 1, 13: 1, 20: 1, 32: 1, 35: 1})

# SparseMSE's BCa bootstrap by name (the default for selected models is now the parametric one)
CASES = {
    "tiny5": (lambda: TINY5, {"interval": "bootstrap", "n_boot": 100, "seed": 1}),
    "tiny5b": (lambda: TINY5B, {"interval": "bootstrap", "n_boot": 100, "seed": 1}),
    "small5": (lambda: SMALL5, {"interval": "bootstrap", "n_boot": 100, "seed": 1}),
    "tiny6": (lambda: TINY6, {"interval": "bootstrap", "n_boot": 200, "seed": 1}),
    "ukdat5": (lambda: table("SparseMSE_UKdat_5"),
               {"interval": "bootstrap", "n_boot": 100, "seed": 7, "select": "bic"}),
    "ukdat5_stepwise": (lambda: table("SparseMSE_UKdat_5"),
                        {"interval": "bootstrap", "n_boot": 100, "seed": 7, "select": "stepwise"}),
}
GOLDEN = {
    "tiny5": (
        "0x1.6eb923c88f9a6p+3", "0x1.648fb53a22fbfp+3", "0x1.e5d8c77daec9bp+3", "[14,2,3,5]",
        "-0x1.ef2c1cfec038ep-7", "0x1.1a80f0d378c62p+10", "0x1.93e206b09b0d2p+13",
        "0x1.610abd3c69f7bp+3", "0x1.e5d8c77daec9bp+3", 1,
    ),
    "tiny5b": (
        "0x1.07024ced12d7cp+2", "0x1.030d7b09c3c55p+2", "0x1.6f2a6723ee2cap+2", "[13,23,24,35]",
        "-0x1.79888a1f48e3dp-5", "0x1.966bfbb26d169p+8", "0x1.f9fde9fd53a4ep+10",
        "0x1.030d7b09c3c55p+2", "0x1.ddb3d742c6dc4p+2", 15,
    ),
    "small5": (
        "0x1.3e5327e88c4dcp+6", "0x1.19bc2db135d08p+6", "0x1.1ce6ba0f40ef0p+7", "[34,1,2,5]",
        "-0x1.5f60e7ecee273p-6", "0x1.029a205ffb683p+13", "0x1.5b845a162731ap+19",
        "0x1.14c8ecfe5b70dp+6", "0x1.885334c243addp+7", 0,
    ),
    "tiny6": (
        "0x1.63eb49019b3e3p+3", "0x1.465335adda974p+3", "0x1.da00260421064p+3", "[1,2,3,4,5,6]",
        "-0x1.f93889600112cp-8", "0x1.177e482318d50p+11", "0x1.8939661ff5124p+14",
        "0x1.420fae8f87480p+3", "0x1.ebeb4e135254cp+3", 0,
    ),
    "ukdat5": (
        "0x1.8b7d299654e31p+14", "0x1.5d3cce9dbb337p+13", "0x1.5a01b318f3264p+15", "[123,25,34]",
        "0x1.00be66bf8afc9p-5", "0x1.0aa976570490ep+21", "0x1.a1e79e5976845p+35",
        "0x1.48158367d6b4cp+13", "0x1.5a01b318f3264p+15", 0,
    ),
    "ukdat5_stepwise": (
        "0x1.6187ec1cde12fp+13", "0x1.2d1061b2f0c60p+13", "0x1.c1806d8598512p+13", "[12,13,24,25,35,45]",
        "-0x1.8f265110ad09ep-7", "0x1.3805c9e453d0fp+20", "0x1.01900e0e09c4ap+34",
        "0x1.2d1061b2f0c60p+13", "0x1.9145d3ab75be9p+14", 0,
    ),
}
#: relative tolerance of the float comparison: the code is bit-identical to d22b2ce on one machine
#: (checked on this one, an AMD EPYC), but BLAS kernels differ by CPU; between two machines the same
#: code differed by at most 2.5e-12 (relative) on these cases; a real change of method moves far more
RTOL = 1e-9
_FLOATS = (0, 1, 2, 4, 5, 6, 7, 8)


def _fingerprint(name: str, workers: int) -> tuple[object, ...]:
    h, kw = CASES[name]
    r = estimate(h(), "loglinear", workers=workers, **kw)
    iv = r.intervals[0]
    reps = np.asarray(r.replicates, dtype=np.float64)
    return (r.estimate.hex(), iv.lower.hex(), iv.upper.hex(), str(r.model), float(r.acceleration or 0.0).hex(),
            float(np.nansum(reps)).hex(), float(np.nansum(reps**2)).hex(), float(np.nanmin(reps)).hex(),
            float(np.nanmax(reps)).hex(), int(np.isnan(reps).sum()))


def _assert_same(got: tuple[object, ...], want: tuple[object, ...]) -> None:
    assert got[3] == want[3]  # the selected model
    assert got[9] == want[9]  # replicates without an estimate
    for i in _FLOATS:
        a, b = float.fromhex(str(got[i])), float.fromhex(str(want[i]))
        assert a == pytest.approx(b, rel=RTOL), (i, a, b)


@pytest.mark.parametrize("name", list(CASES))
def test_bootstrap_numbers_are_those_before_the_speed_work(name: str) -> None:
    _assert_same(_fingerprint(name, workers=1), GOLDEN[name])


def test_bootstrap_numbers_do_not_depend_on_workers() -> None:
    """Two processes share each one's existence checks across its chunks: same numbers."""
    _assert_same(_fingerprint("ukdat5", workers=2), GOLDEN["ukdat5"])


# ---------------------------------------------------------------------- existence checks
def _sparse_tables(k: int, n: int, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        c = np.zeros(2**k, dtype=np.int64)
        cells = rng.choice(np.arange(1, 2**k), size=int(rng.integers(2, 2**k // 2)), replace=False)
        c[cells] = rng.integers(1, 4, size=cells.size)
        out.append(c)
    return out


def test_nnls_decides_almost_every_existence_check_and_agrees_with_the_linear_program(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen: list[np.ndarray] = []
    original = F._fails_by_nnls

    def record(M: np.ndarray) -> bool | None:
        seen.append(M)
        return original(M)

    space = ModelSpace.all_hierarchical(5, 3)
    monkeypatch.setattr(F, "_fails_by_nnls", record)
    for c in [*_sparse_tables(5, 6, seed=3), TINY5.counts, TINY5B.counts]:
        F._check_space(space, c)
    monkeypatch.undo()
    assert len(seen) > 300
    verdicts = [(original(M), F._fails_by_lp(M)) for M in seen[:: max(1, len(seen) // 400)]]
    decided = [(a, b) for a, b in verdicts if a is not None]
    assert len(decided) >= 0.95 * len(verdicts)
    assert all(a == b for a, b in decided)
    assert {b for _, b in decided} == {True, False}  # both answers occur


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.integers(0, 3), min_size=15, max_size=15))
def test_vectorized_checks_match_one_linear_program_per_model(cells: list[int]) -> None:
    """_check_space (rank tests, inherited failures, NNLS) = status_of with the linear program only."""
    counts = np.array([0, *cells], dtype=np.int64)
    space = ModelSpace.all_hierarchical(4, 3)
    fast, _, _ = F._check_space(space, counts)
    original = F._fails_by_nnls
    F._fails_by_nnls = lambda M: None
    try:
        slow = [F.status_of(F.prepare(space.model(i), counts), counts) for i in range(len(space))]
    finally:
        F._fails_by_nnls = original
    assert fast.tolist() == slow


# ---------------------------------------------------------------------- batched stepwise, distinct tables
def _replicates(h: CaptureHistories, n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.multinomial(h.observed, h.counts / h.observed, size=n)


@pytest.mark.parametrize("pthresh", [0.02, 1.0, 0.0])
def test_stepwise_tables_equal_select_stepwise_one_table_at_a_time(pthresh: float) -> None:
    for h in (TINY6, table("SparseMSE_UKdat_5")):
        tables = _replicates(h, 25, seed=5)
        est, labels = LL.stepwise_tables(h, tables, pthresh)
        for t in range(tables.shape[0]):
            sel = LL.select_stepwise(h.with_counts(tables[t]), pthresh)
            assert est[t].hex() == float(sel.abundance).hex()
            assert labels[t] == sel.model.notation()


def test_fit_each_equals_fit_one() -> None:
    h = table("SparseMSE_UKdat_5")
    tables = _replicates(h, 6, seed=2)
    models = [HierarchicalModel.parse(m, h.lists) for m in ("[12,3,4,5]", "[13,2,4,5]", "[45,1,2,3]")] * 2
    mu, ab = F.fit_each(models, tables)
    for b, m in enumerate(models):
        one = F.fit_one(m, tables[b])
        assert ab[b] == one.abundance
        assert np.array_equal(mu[b], one.fitted)


def test_distinct_tables_are_evaluated_once_and_put_back_in_order(monkeypatch: pytest.MonkeyPatch) -> None:
    h = TINY6
    base = _replicates(h, 8, seed=1)
    tables = base[[0, 1, 0, 2, 1, 0, 3, 4, 5, 6, 7, 7]]
    rows: list[int] = []
    original = LL._evaluate_chunk

    def counting(hh, chunk, job, token=None):  # type: ignore[no-untyped-def]
        rows.append(chunk.shape[0])
        return original(hh, chunk, job, token)

    monkeypatch.setattr(LL, "_evaluate_chunk", counting)
    est, labels = LL._run_jobs(h, tables, ("stepwise", None, None, 0.02), 1, None)
    assert sum(rows) == len(np.unique(tables, axis=0))
    for t in range(tables.shape[0]):
        sel = LL.select_stepwise(h.with_counts(tables[t]), 0.02)
        assert est[t] == sel.abundance and labels[t] == sel.model.notation()


# ---------------------------------------------------------------------- how many models the search fits
@pytest.mark.parametrize(("k", "order"), [(3, 2), (4, 2), (4, 3), (5, 2), (5, 3), (5, 4), (6, 2)])
def test_count_hierarchical_equals_the_enumeration(k: int, order: int) -> None:
    assert count_hierarchical(k, order) == (len(enumerate_models(k, order)), True)


def test_count_hierarchical_large_sets_without_listing_them() -> None:
    assert count_hierarchical(7, 2) == (2_097_152, True)
    assert count_hierarchical(6, 3) == (3_702_013, True)
    count, exact = count_hierarchical(6, 3, cap=32_768)
    assert count > 32_768 and not exact
    count, exact = count_hierarchical(15, 14, cap=32_768)  # stops at once: 2^105 models of order 2 already
    assert count == 2**105 and not exact


def test_all_model_search_up_to_the_limit_is_allowed() -> None:
    assert LL.check_search(6, 2) == 32_768 == LL.MAX_ALL_MODELS
    assert LL.check_search(5, 4) == 6_893


@pytest.mark.parametrize(
    ("k", "options", "count", "advice"),
    [
        (7, {"select": "bic"}, "2,097,152", "--select stepwise"),
        (6, {"select": "aic", "max_order": 3}, "more than 1,048,576", "--max-order 2"),
        (8, {"select": "bic", "max_order": 4}, "more than 268,435,456", "--select auto"),
    ],
)
def test_all_model_search_above_the_limit_is_refused_before_fitting(
    monkeypatch: pytest.MonkeyPatch, k: int, options: dict, count: str, advice: str
) -> None:
    def never(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise AssertionError("fitted before the limit was checked")

    monkeypatch.setattr(LL, "fit_all_models", never)
    h = _table(k, {m: 1 + m % 3 for m in range(1, 2**k) if m % 3})
    with pytest.raises(InputError) as err:
        estimate(h, "loglinear", **options)
    text = str(err.value)
    assert f"would fit {count} hierarchical models" in text and "32,768" in text and advice in text
    assert "_" not in text.replace("--", "")  # CLI words, not Python names


def test_chunks_of_one_bootstrap_share_their_existence_checks(monkeypatch: pytest.MonkeyPatch) -> None:
    """The stepwise bootstrap runs in 20 chunks: no (model, zero pattern) is checked twice."""
    h = table("SparseMSE_UKdat_5")
    tables = _replicates(h, 200, seed=4)
    keys: list[tuple[object, bytes]] = []
    original = F.status_of

    def counting(prep, counts):  # type: ignore[no-untyped-def]
        keys.append((prep.model.terms, np.packbits(np.asarray(counts) > 0).tobytes()))
        return original(prep, counts)

    monkeypatch.setattr(F, "status_of", counting)
    LL._run_jobs(h, tables, ("stepwise", None, None, 0.02), 1, None)
    assert len(keys) > 20 and len(keys) == len(set(keys))
