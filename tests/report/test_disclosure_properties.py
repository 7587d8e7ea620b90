"""Property tests of disclosure control over random tables of 2–3 dimensions with margins, checked by an
attacker written independently of the suppression code (the full joint table, scipy's linprog)."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cifranegra.report.disclosure import DisclosurePolicy, protect_tables
from report.disclosure_helpers import attacker, margin_of

# counts that are mostly small, so that primaries, zeros and large cells mix
COUNT = st.sampled_from([0, 0, 1, 2, 3, 5, 8, 10, 11, 12, 15, 20, 35, 60])


@st.composite
def releases(draw: st.DrawFn) -> tuple[dict[str, pd.DataFrame], dict[str, object]]:
    """One table over 2–3 dimensions, or two tables sharing a dimension (their margins over it agree)."""
    n_dims = draw(st.integers(2, 3))
    dims = ["a", "b", "c"][:n_dims]
    sizes = [draw(st.integers(2, 3)) for _ in dims]
    keys = list(itertools.product(*([f"{d}{k}" for k in range(n)] for d, n in zip(dims, sizes, strict=True))))
    joint = {key: draw(COUNT) for key in keys}
    if n_dims == 3 and draw(st.booleans()):
        tables = {"ab": margin_of(joint, dims, ["a", "b"]), "ac": margin_of(joint, dims, ["a", "c"])}
    else:
        tables = {"t": margin_of(joint, dims, dims)}
    return tables, {"width": draw(st.integers(1, 5))}


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(releases())
def test_nothing_small_published_nothing_withheld_recomputable(release: tuple) -> None:
    tables, opts = release
    policy = DisclosurePolicy(protection_width=opts["width"])
    out = protect_tables(tables, policy)
    for name, frame in tables.items():
        result = out.tables[name]
        published = result["flag"] == ""
        # no count 1..10 published; zeros and everything published unchanged
        assert not result.loc[published, "count"].between(1, policy.threshold - 1).any()
        assert (result.loc[published, "count"].astype(int) == frame.loc[published, "count"]).all()
        assert result.loc[~published, "count"].isna().all()
        assert (frame.loc[frame["count"].between(1, policy.threshold - 1), "count"].index
                .isin(result.index[~published]).all())
        _published_margins_add_up(result)
    bounds = attacker(tables, out.tables, policy.threshold)
    reported = {(c["table"], tuple(c["cell"].items())): c for c in out.audit["withheld_cells"]}
    assert out.passed
    for (name, r), (lo, hi) in bounds.items():
        truth = int(tables[name]["count"].iloc[r])
        assert lo - 1e-6 <= truth <= hi + 1e-6  # the attacker's bounds contain the truth
        assert hi - lo >= 1 - 1e-6  # no withheld cell is determined by what is published
        dims = [d for d in tables[name].columns if d != "count"]
        claim = reported[(name, tuple((d, str(tables[name][d].iloc[r])) for d in dims))]
        # the audit's bounds are the independent attacker's, rounded inwards
        assert claim["lower"] == int(np.ceil(lo - 1e-6))
        assert claim["upper"] == (None if np.isinf(hi) else int(np.floor(hi + 1e-6)))
        if out.tables[name]["flag"].iloc[r] == "primary" and not claim["at_flag_limit"]:
            assert claim["upper"] - claim["lower"] >= policy.width


def _published_margins_add_up(result: pd.DataFrame) -> None:
    """Where a margin and all the cells it sums are published, they add up."""
    dims = [c for c in result.columns if c not in ("count", "flag")]
    rows = result.to_dict("records")
    for row in rows:
        totals = [d for d in dims if row[d] == "total"]
        if not totals or row["flag"]:
            continue
        d = totals[0]
        parts = [p for p in rows if p[d] != "total" and all(p[e] == row[e] for e in dims if e != d)]
        if all(not p["flag"] for p in parts):
            assert sum(int(p["count"]) for p in parts) == int(row["count"])
