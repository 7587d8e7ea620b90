"""Private linkage's N̂ against N̂ under the true linkage, over simulator seeds (issue #15, item 4).

For each seed: the simulator's 5,000 persons and 4 agencies, read back through ingest
(``bench_private_linkage._read_simulated``), encoded with the default spec and linked privately. The
log-linear N̂ (defaults: BIC over the hierarchical models, the default interval) from

- ``single``: the one private linkage (``link_encoded``, the spec's thresholds), what a run reported
  before linkage imputation reached encoded lists;
- ``imputed``: M linkages drawn from the scored pairs (``link_encoded_scored`` + ``impute_linkage``
  with the within-list calibration, the run's defaults) and combined (``combine_estimates``) — what
  ``cifranegra run`` reports on encoded lists now;
- ``truth``: the true linkage;

and the relative differences single/truth − 1 and imputed/truth − 1, per seed and summarised (mean,
sd, largest absolute). The seeds are fixed before looking (3–12 by default; 3, 4 and 5 are the seeds
the issue's figures came from).

    python bench/bench_private_nhat.py --seeds 3-12 --imputations 10 --out private_nhat.csv
    python bench/bench_private_nhat.py --summarise private_nhat.csv
    python bench/bench_private_nhat.py --seeds 20-22 --control-check   # the calibration's assumption
    python bench/bench_private_nhat.py --seeds 30-39 --threshold-scan --out scan.csv   # choose the threshold
    python bench/bench_private_nhat.py --seeds 3-14 --threshold-scan --spec clk-mx-2 --unknown-sex 0.15 --grid 0.66
    python bench/bench_private_nhat.py --seeds 3-8 --oracle-from 21   # Dice calibrated on seed 21's truth
    python bench/bench_private_nhat.py --seeds 3-8 --oracle-from 21 --other-key --train-persons 2500
    python bench/bench_private_nhat.py --seeds 3-8 --oracle-from -1   # as calibration = "simulated" does
    python bench/bench_private_nhat.py --seeds 3-14 --oracle-from -1 --error-scale 2   # a study recorded worse
    python bench/bench_private_nhat.py --seeds 3-14 --oracle-from -1 --error-scale 2 --sample-error-scale 2
    python bench/bench_private_nhat.py --seeds 3-14 --threshold-scan --spec plaintext --out plain.csv  # Splink
    python bench/bench_private_nhat.py --seeds 30-49 --threshold-scan --grid 0.60,0.61,0.62,0.63,0.64 \
        --posterior-grid 0.1,0.2,0.3,0.5 --out fill_dev.csv     # choose clk-mx-3's strata rule
    python bench/bench_private_nhat.py --seeds 3-14 --threshold-scan --grid 0.62 --wrong-exploitation 0.25

Since 2026-12-07 ``clk-mx-3`` links with its strata rule (Dice, fill ratio, state and form of
exploitation: ``linkage.private.strata_rule``); ``--dice-only`` links on the Dice score alone, as every
figure measured before then was. With the rule, ``--grid`` holds its lowest Dice and
``--posterior-grid`` its lowest match probabilities (default: the rule's own), ``--fill-edges`` its
fill-ratio classes.

``--threshold-scan`` links each seed's lists at every between-list Dice threshold of a grid (the
spec's dedupe threshold kept) and writes, per seed and threshold, the single linkage's N̂ against
the true linkage's and its pair precision and recall; the summary gives, per threshold, the mean,
sd and largest |bias| over the seeds. Choose the threshold on one set of seeds and report it on
another (the spec's threshold is a linking default that can be revised without re-encoding).
``--spec`` picks the encoding (:func:`scan_specs`: the default, ``clk-mx-2``, or candidates under scan
names), ``--unknown-sex`` every agency's share of records with sex not recorded (the simulator's
default is 0.5%; SESNSP leaves it unidentified for 9-23% of victims).
"""

from __future__ import annotations

import argparse
import csv
import statistics
import sys
import time
import warnings
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_linkage import truth_entities  # noqa: E402

#: False with --dice-only: every linkage of this bench on the Dice score alone (compare_strata=False),
#: as the figures measured before 2026-12-07 were
COMPARE_STRATA = True

FIELDS = ("seed", "n_true", "records", "n_hat_truth", "n_hat_single", "n_hat_imputed", "bias_single", "bias_imputed",
          "calibrated", "expected_between_links", "seconds")


def _estimate(entities, lists, seed):  # type: ignore[no-untyped-def]
    from cifranegra.estimation import CaptureHistories, estimate

    h = CaptureHistories.from_entities(entities, lists=lists)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return estimate(h, "loglinear", seed=seed)


def one_seed(seed: int, persons: int, agencies: int, m: int) -> dict[str, object]:
    from bench_private_linkage import PROJECT, SECRET, _read_simulated
    from cifranegra.estimation.combine import combine_estimates
    from cifranegra.linkage.private import MEXICO_SPEC, encode_records, link_encoded, link_encoded_scored
    from cifranegra.linkage.uncertainty import ImputationSettings, impute_linkage

    t0 = time.perf_counter()
    records, truth, n_true = _read_simulated(persons, agencies, seed)
    lists = sorted(records["source"].unique())
    truth_ent = truth_entities(records, truth)
    encs = [encode_records(g, SECRET, PROJECT, MEXICO_SPEC) for _, g in records.groupby("source", sort=True)]
    single = link_encoded(encs, compare_strata=COMPARE_STRATA)
    _, scored = link_encoded_scored(encs, compare_strata=COMPARE_STRATA)
    from cifranegra.errors import InputError

    n_truth = _estimate(truth_ent, lists, seed).estimate
    n_single = _estimate(single, lists, seed).estimate
    try:
        imps = impute_linkage(scored, ImputationSettings(n_imputations=m), seed=seed)
    except InputError:  # probabilities that expect more links than the lists hold: refused (as a run does)
        n_imp, cal = float("nan"), {"refused": True}
    else:
        fits = [_estimate(imps.entities(i), lists, seed) for i in range(imps.n_imputations)]
        n_imp = combine_estimates(fits).estimate
        cal = dict(imps.diagnostics.get("calibration") or {})
    return {
        "seed": seed, "n_true": n_true, "records": len(records), "n_hat_truth": round(n_truth, 1),
        "n_hat_single": round(n_single, 1), "n_hat_imputed": round(n_imp, 1),
        "bias_single": round(n_single / n_truth - 1, 5), "bias_imputed": round(n_imp / n_truth - 1, 5),
        "calibrated": "refused" if cal.get("refused") else "reason" not in cal,
        "expected_between_links": cal.get("expected_between_links", ""),
        "seconds": round(time.perf_counter() - t0, 1),
    }


SCAN_FIELDS = ("seed", "spec", "unknown_sex", "rule", "threshold", "posterior", "n_hat_truth", "n_hat_single",
               "bias_single",
               "bias_fixed_model", "precision",
               "recall", "entities", "true_entities")


def _pair_set(entities, person):  # type: ignore[no-untyped-def]
    """Between-list record pairs put in one entity (as sets of frozensets of (source, record id))."""
    out = set()
    for _, g in entities.groupby("entity_id"):
        keys = list(zip(g["source"], g["record_id"].astype(str), strict=True))
        for a in range(len(keys)):
            for b in range(a + 1, len(keys)):
                if keys[a][0] != keys[b][0]:
                    out.add(frozenset((keys[a], keys[b])))
    return out


def scan_specs() -> dict[str, object]:
    """Encodings the threshold scan can compare: the default, ``clk-mx-2`` and the candidates measured
    against it. The candidates are built on ``clk-mx-2`` (names salted with sex), under scan names,
    as they were when measured (docs/private-linkage.md, "clk-mx-3")."""
    import dataclasses

    from cifranegra.linkage.private import MEXICO_SPEC, MEXICO_SPEC_2

    def salted(**change):  # type: ignore[no-untyped-def]
        return tuple(dataclasses.replace(f, **change) if f.salt else f for f in MEXICO_SPEC_2.fields)

    return {
        "default": MEXICO_SPEC,
        "clk-mx-2": MEXICO_SPEC_2,
        "sex-salt": dataclasses.replace(MEXICO_SPEC_2, version="scan-sex"),
        "sex-salt-both": dataclasses.replace(MEXICO_SPEC_2, version="scan-sex-both",
                                             fields=salted(salt_unknown=("female", "male"))),
        "unsalted": dataclasses.replace(MEXICO_SPEC_2, version="scan-unsalted", fields=salted(salt=None)),
    }


def threshold_scan(
    seed: int, persons: int, agencies: int, grid: list[float], spec_name: str = "default",
    unknown_sex: float | None = None, error_scale: float = 1.0, dice_only: bool = False,
    posteriors: list[float] | None = None, wrong_state: float | None = None,
    fill_edges: tuple[float, ...] | None = None, wrong_exploitation: float = 0.0,
) -> list[dict[str, object]]:
    """Per threshold of ``grid`` (and, with the spec's strata rule, per lowest match probability of
    ``posteriors``: the rule's own when None), the single linkage against the true linkage.
    ``dice_only``: link on the Dice score alone (``compare_strata=False``, the rule before
    2026-12-07); ``fill_edges``: the rule's fill-ratio classes (None: the rule's own; () none)."""
    import dataclasses

    from bench_private_linkage import PROJECT, SECRET, _read_simulated
    from cifranegra.estimation import CaptureHistories, estimate
    from cifranegra.linkage.private import encode_records, link_encoded
    from cifranegra.linkage.private import link as private_link

    records, truth, _ = _read_simulated(persons, agencies, seed, unknown_sex, error_scale, wrong_state,
                                        wrong_exploitation)
    lists = sorted(records["source"].unique())
    truth_ent = truth_entities(records, truth)
    true_pairs = _pair_set(truth_ent, None)
    if spec_name == "plaintext":  # the reference: Splink on the names themselves, its own threshold
        from cifranegra.linkage import LinkageSettings, link_records

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            plain = link_records(records).entities
        links: dict[tuple[float, float | None], object] = {(LinkageSettings().threshold, None): plain}
    else:
        spec = scan_specs()[spec_name]
        encs = [encode_records(g, SECRET, PROJECT, spec) for _, g in records.groupby("source", sort=True)]
        base = private_link.STRATA_RULES.get(spec.version)
        links = {}
        for thr in grid:
            if dice_only or base is None:
                links[(thr, None)] = link_encoded(encs, threshold=thr, compare_strata=False)
                continue
            for post in posteriors or [base.posterior]:
                change: dict[str, object] = {"posterior": post}
                if fill_edges is not None:
                    change["fill_edges"] = fill_edges
                private_link.STRATA_RULES[spec.version] = dataclasses.replace(base, **change)
                try:
                    links[(thr, post)] = link_encoded(encs, threshold=thr)
                finally:
                    private_link.STRATA_RULES[spec.version] = base
    fit_truth = _estimate(truth_ent, lists, seed)
    n_truth = fit_truth.estimate
    # the model BIC chose under the true linkage, held fixed: the linkage's own effect on N-hat,
    # without the jumps of model selection
    model = fit_truth.details["models"][0]["model"]

    def fixed(entities):  # type: ignore[no-untyped-def]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            h = CaptureHistories.from_entities(entities, lists=lists)
            return estimate(h, "loglinear", model=model, interval="none", seed=seed).estimate

    n_truth_fixed = fixed(truth_ent)
    rows = []
    for (thr, post), ent in links.items():
        pairs = _pair_set(ent, None)
        about = ent.attrs.get("linkage_rule", {}) if spec_name != "plaintext" else {}
        rule = about.get("rule", "splink")
        if about.get("fill_edges"):
            rule += "+fill(" + ",".join(f"{x:g}" for x in about["fill_edges"]) + ")"
        if spec_name != "plaintext" and post is not None and not rule.startswith("dice+strata"):
            raise RuntimeError(f"seed {seed}: the strata model was not fitted ({ent.attrs.get('linkage_rule')})")
        tp = len(pairs & true_pairs)
        n_single = _estimate(ent, lists, seed).estimate
        n_fixed = fixed(ent)
        label = spec_name if error_scale == 1 else f"{spec_name} (errors x{error_scale:g})"
        if wrong_state is not None:
            label += f" (wrong state {wrong_state:g})"
        if wrong_exploitation:
            label += f" (wrong exploitation {wrong_exploitation:g})"
        rows.append({"seed": seed, "spec": label,
                     "unknown_sex": "" if unknown_sex is None else unknown_sex, "rule": rule,
                     "threshold": thr, "posterior": "" if post is None else post, "n_hat_truth": round(n_truth, 1),
                     "n_hat_single": round(n_single, 1), "bias_single": round(n_single / n_truth - 1, 5),
                     "bias_fixed_model": round(n_fixed / n_truth_fixed - 1, 5),
                     "precision": round(tp / max(len(pairs), 1), 4),
                     "recall": round(tp / max(len(true_pairs), 1), 4), "entities": int(ent["entity_id"].nunique()),
                     "true_entities": int(truth_ent["entity_id"].nunique())})
    return rows


def summarise_scan(path: Path) -> str:
    with path.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    seeds = sorted({int(r["seed"]) for r in rows})

    def key(r: dict[str, str]) -> tuple[str, str, str, float, str]:  # older scans lack columns: their defaults
        return (r.get("spec") or "default", r.get("unknown_sex") or "sim", r.get("rule") or "dice",
                float(r["threshold"]), r.get("posterior") or "")

    lines = [f"seeds {seeds[0]}-{seeds[-1]} ({len(seeds)}); unknown sex 'sim' = the simulator's rate (0.5%)",
             "| spec | unknown sex | rule | threshold | posterior | mean bias | sd | largest abs | within 3% | "
             "fixed model: mean bias | sd | largest abs | within 3% | mean precision | mean recall |",
             "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for k in sorted({key(r) for r in rows}):
        sel = [r for r in rows if key(r) == k]
        b = [100 * float(r["bias_single"]) for r in sel]
        sd = statistics.stdev(b) if len(b) > 1 else 0.0
        fb = [100 * float(r["bias_fixed_model"]) for r in sel]
        fsd = statistics.stdev(fb) if len(fb) > 1 else 0.0
        lines.append(f"| {k[0]} | {k[1]} | {k[2]} | {k[3]:.3f} | {k[4]} | {statistics.fmean(b):+.2f}% | {sd:.2f} | "
                     f"{max(abs(v) for v in b):.2f}% | {sum(abs(v) <= 3 for v in b)}/{len(b)} | "
                     f"{statistics.fmean(fb):+.2f}% | {fsd:.2f} | {max(abs(v) for v in fb):.2f}% | "
                     f"{sum(abs(v) <= 3 for v in fb)}/{len(fb)} | "
                     f"{statistics.fmean(float(r['precision']) for r in sel):.4f} | "
                     f"{statistics.fmean(float(r['recall']) for r in sel):.4f} |")
    return "\n".join(lines)


def _seeds(text: str) -> list[int]:
    out: list[int] = []
    for part in text.split(","):
        lo, _, hi = part.partition("-")
        out += list(range(int(lo), int(hi or lo) + 1))
    return out


def _bias_line(key: str, vals: list[float]) -> str:
    """Per-seed biases (in %) summarised: mean, sd, largest absolute value, draws within 3%."""
    sd = statistics.stdev(vals) if len(vals) > 1 else 0.0
    return (f"{key}: mean {statistics.fmean(vals):+.2f}%, sd {sd:.2f}, largest |.| {max(abs(v) for v in vals):.2f}%, "
            f"within 3%: {sum(abs(v) <= 3 for v in vals)}/{len(vals)}")


def summarise(path: Path) -> str:
    with path.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    lines = ["| seed | N̂ true linkage | single | imputed | single − truth | imputed − truth | calibrated |",
             "|---:|---:|---:|---:|---:|---:|---|"]
    for r in rows:
        lines.append(f"| {r['seed']} | {float(r['n_hat_truth']):,.0f} | {float(r['n_hat_single']):,.0f} | "
                     f"{float(r['n_hat_imputed']):,.0f} | {100 * float(r['bias_single']):+.1f}% | "
                     f"{100 * float(r['bias_imputed']):+.1f}% | {r['calibrated']} |")
    for key in ("bias_single", "bias_imputed"):
        vals = [100 * float(r[key]) for r in rows if r[key] not in ("", "nan")]
        if not vals:
            continue
        lines.append("\n" + _bias_line(key, vals))
    return "\n".join(lines)


def control_check(seed: int, persons: int, agencies: int) -> str:
    """Does the within-list calibration's control group hold? Per pair opportunity, the non-matching
    pairs within one list should score like those between lists (calibrate_within_lists' assumption).
    Counts the true non-matches among the scored pairs above each Dice level, within and between
    lists, per million opportunities (n(n-1)/2 within each list; products of list sizes between)."""
    import numpy as np

    from bench_private_linkage import PROJECT, SECRET, _read_simulated
    from cifranegra.linkage.private import MEXICO_SPEC, encode_records, link_encoded_scored

    records, truth, _ = _read_simulated(persons, agencies, seed)
    encs = [encode_records(g, SECRET, PROJECT, MEXICO_SPEC) for _, g in records.groupby("source", sort=True)]
    _, scored = link_encoded_scored(encs, compare_strata=COMPARE_STRATA)
    pairs = scored.pairs
    person = {(s, str(r)): q for s, r, q in zip(truth["source"], truth["record_id"], truth["person_id"], strict=True)}
    left = [person[(s, str(r))] for s, r in zip(pairs["source_l"], pairs["record_id_l"], strict=True)]
    right = [person[(s, str(r))] for s, r in zip(pairs["source_r"], pairs["record_id_r"], strict=True)]
    match = np.asarray(left) == np.asarray(right)
    within = (pairs["source_l"] == pairs["source_r"]).to_numpy()
    dice = pairs["dice"].to_numpy(float)
    sizes = records.groupby("source").size().to_numpy(float)
    opp_w, opp_b = float(np.sum(sizes * (sizes - 1) / 2)), float((sizes.sum() ** 2 - np.sum(sizes**2)) / 2)
    lines = [f"seed {seed}: {persons:,} persons, {len(records):,} records; opportunities within {opp_w:,.0f}, "
             f"between {opp_b:,.0f}",
             "| Dice at least | non-matches within (per 10^6 opportunities) | between | between / within |",
             "|---:|---:|---:|---:|"]
    for level in (0.6, 0.65, 0.7):
        nw = int(np.sum(~match & within & (dice >= level)))
        nb = int(np.sum(~match & ~within & (dice >= level)))
        ratio = (nb / opp_b) / (nw / opp_w) if nw else float("nan")
        lines.append(f"| {level} | {nw:,} ({1e6 * nw / opp_w:.1f}) | {nb:,} ({1e6 * nb / opp_b:.1f}) | {ratio:.2f} |")
    # the same at 0.65 with opportunities counted within cells of the carried strata: each within-list
    # non-match stands for (between / within opportunities of its pair of cells) between-list ones
    cols = [c for c in ("sex", "age_group", "state") if c in records.columns]
    keys = list(zip(records["source"], records["record_id"].astype(str), strict=True))
    cell = dict(zip(keys, records[cols].astype(str).agg("|".join, axis=1), strict=True))
    counts = records.assign(cell=[cell[k] for k in keys])
    table = counts.groupby(["source", "cell"]).size().unstack(fill_value=0)
    m = table.to_numpy(float)
    index = {c: i for i, c in enumerate(table.columns)}
    sel = ~match & within & (dice >= 0.65)
    expected = 0.0
    for s, r, s2, r2 in pairs.loc[sel, ["source_l", "record_id_l", "source_r", "record_id_r"]].itertuples(index=False):
        i, j = index[cell[(s, str(r))]], index[cell[(s2, str(r2))]]
        if i == j:
            ow, ob = np.sum(m[:, i] * (m[:, i] - 1) / 2), (m[:, i].sum() ** 2 - np.sum(m[:, i] ** 2)) / 2
        else:
            ow, ob = np.sum(m[:, i] * m[:, j]), m[:, i].sum() * m[:, j].sum() - np.sum(m[:, i] * m[:, j])
        expected += ob / ow
    nb = int(np.sum(~match & ~within & (dice >= 0.65)))
    lines.append(f"\nDice >= 0.65 with opportunities within cells of {', '.join(cols)}: between {nb:,}, "
                 f"expected from the within-list pairs {expected:,.0f} (between / expected {nb / expected:.2f})")
    return "\n".join(lines)


def _labelled_pairs(seed: int, persons: int, agencies: int, other_key: bool = False,  # type: ignore[no-untyped-def]
                    unknown_sex: float | None = None, error_scale: float = 1.0):
    """The scored pairs of a seed's private linkage (the default spec), with the truth: whether each
    pair is one person, whether it lies within one list; and what ``one_seed`` needs besides.
    ``other_key``: encoded under another secret and project than the bench's; ``unknown_sex`` and
    ``error_scale`` change the simulated lists' recording errors (:func:`_read_simulated`)."""
    from bench_private_linkage import PROJECT, SECRET, _read_simulated
    from cifranegra.linkage.private import MEXICO_SPEC, LinkageSecret, encode_records, link_encoded_scored
    from cifranegra.linkage.uncertainty import pair_truth_labels

    secret, project = (LinkageSecret(bytes(range(100, 132))), "another-study") if other_key else (SECRET, PROJECT)
    records, truth, n_true = _read_simulated(persons, agencies, seed, unknown_sex, error_scale)
    encs = [encode_records(g, secret, project, MEXICO_SPEC) for _, g in records.groupby("source", sort=True)]
    single, scored = link_encoded_scored(encs, compare_strata=COMPARE_STRATA)
    p = scored.pairs
    truth_ent = truth_entities(records, truth)
    match = pair_truth_labels(p, truth).astype(bool)
    return {"records": records, "truth_ent": truth_ent, "single": single, "scored": scored, "match": match,
            "n_true": n_true,
            "within": (p["source_l"] == p["source_r"]).to_numpy(), "dice": p["dice"].to_numpy(float)}


def oracle(seed: int, train: int, persons: int, agencies: int, m: int, pooled: bool = False,
           train_persons: int | None = None, other_key: bool = False, unknown_sex: float | None = None,
           error_scale: float = 1.0, sample_error_scale: float = 1.0) -> dict[str, object]:
    """What the imputation gives when the Dice probabilities come from a truth sample: P(match | Dice)
    by isotonic regression on seed ``train``'s labelled pairs (``calibrate(dice, labels,
    score="dice", within=...)``: within and between lists apart, or one map with ``pooled``; a
    simulated truth sample under the same spec), passed to ``impute_linkage``, which then matches
    the amount of linking to it. Separates the calibration's share of the
    imputation's bias on encoded lists from the rest. ``train_persons`` (default: ``persons``) and
    ``other_key`` ask how the truth sample transfers: to lists of another size, under another key;
    ``unknown_sex`` and ``error_scale`` change the study's lists only (the truth sample keeps the
    simulator's rates, as a run's does, which cannot know the study's): does it transfer to lists
    recorded worse than it assumes? ``sample_error_scale`` (negative ``train`` only): the simulated
    sample's error rates multiplied too, as a run cannot know to do."""
    from cifranegra.estimation.combine import combine_estimates
    from cifranegra.linkage.uncertainty import ImputationSettings, calibrate, impute_linkage

    t0 = time.perf_counter()
    d = _labelled_pairs(seed, persons, agencies, unknown_sex=unknown_sex, error_scale=error_scale)
    n_persons = d["n_true"]
    if train < 0:  # what a run with calibration = "simulated" does (its sample's seed: -train)
        from cifranegra.linkage.private import MEXICO_SPEC
        from cifranegra.pipeline.truth_sample import simulated_dice_calibration

        sizes = d["records"].groupby("source").size().tolist()
        cal, _ = simulated_dice_calibration(MEXICO_SPEC, sizes, seed=-train, error_scale=sample_error_scale)
    else:
        tr = _labelled_pairs(train, train_persons or persons, agencies, other_key)
        cal = calibrate(tr["dice"], tr["match"], score="dice", within=None if pooled else tr["within"])
    imps = impute_linkage(d["scored"], ImputationSettings(n_imputations=m), seed=seed, calibration=cal)
    lists = sorted(d["records"]["source"].unique())
    n_truth = _estimate(d["truth_ent"], lists, seed).estimate
    single = _estimate(d["single"], lists, seed)
    n_single, si = single.estimate, single.interval()
    comb = combine_estimates([_estimate(imps.entities(i), lists, seed) for i in range(imps.n_imputations)])
    ci = comb.interval()
    between = ~d["within"]
    return {"seed": seed, "train": train, "train_persons": train_persons or persons, "other_key": other_key,
            "unknown_sex": "" if unknown_sex is None else unknown_sex, "error_scale": error_scale,
            "sample_error_scale": sample_error_scale,
            "n_hat_truth": round(n_truth, 1), "n_hat_single": round(n_single, 1),
            "n_hat_truth_sample": round(comb.estimate, 1), "lower": round(ci.lower, 1), "upper": round(ci.upper, 1),
            "bias_single": round(n_single / n_truth - 1, 5), "bias_truth_sample": round(comb.estimate / n_truth - 1, 5),
            "covers_truth_linkage": bool(ci.lower <= n_truth <= ci.upper),
            "single_lower": round(si.lower, 1), "single_upper": round(si.upper, 1),
            "single_covers_truth_linkage": bool(si.lower <= n_truth <= si.upper),
            "n_true": n_persons, "covers_n_true": bool(ci.lower <= n_persons <= ci.upper),
            "single_covers_n_true": bool(si.lower <= n_persons <= si.upper),
            "true_between_links": int(d["match"][between].sum()),
            "pooled": pooled, "expected_between_links": round(float(cal.predict(d["dice"][between]).sum()), 1),
            "seconds": round(time.perf_counter() - t0, 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", default="3-12")
    ap.add_argument("--persons", type=int, default=5000)
    ap.add_argument("--agencies", type=int, default=4)
    ap.add_argument("--imputations", type=int, default=10)
    ap.add_argument("--out", type=Path, default=Path("private_nhat.csv"))
    ap.add_argument("--summarise", type=Path)
    ap.add_argument("--control-check", action="store_true",
                    help="per seed, within- against between-list non-matches by Dice (the calibration's assumption)")
    ap.add_argument("--threshold-scan", action="store_true",
                    help="per seed, the single linkage's N-hat bias and pair quality over a grid of Dice thresholds")
    ap.add_argument("--grid", default="0.62,0.63,0.64,0.65,0.66,0.67,0.68,0.69,0.70,0.72",
                    help="thresholds for --threshold-scan (comma-separated)")
    ap.add_argument("--spec", default="default",
                    help="for --threshold-scan: default, clk-mx-2, sex-salt, sex-salt-both or unsalted (scan_specs); "
                         "plaintext: Splink on the plaintext lists at its own threshold (the grid is ignored), "
                         "the reference for what linkage can do")
    ap.add_argument("--error-scale", type=float, default=1.0,
                    help="multiply every agency's recording-error rates (for --threshold-scan and --oracle-from: "
                         "the study's lists only)")
    ap.add_argument("--unknown-sex", type=float, default=None,
                    help="every agency's rate of records with sex not recorded (default: the simulator's 0.5%%; "
                         "SESNSP leaves sex unidentified for 9-23%% of victims, 2015-2025)")
    ap.add_argument("--dice-only", action="store_true",
                    help="link on the Dice score alone (compare_strata=False; the linking rule before "
                         "2026-12-07, with which the figures measured before then reproduce)")
    ap.add_argument("--posterior-grid", default=None,
                    help="for --threshold-scan with the strata rule: lowest match probabilities to scan "
                         "(comma-separated; default: the rule's own)")
    ap.add_argument("--fill-edges", default=None,
                    help="for --threshold-scan with the strata rule: the fill-ratio cut points (comma-separated; "
                         "'none' for Dice bins alone; default: the rule's own)")
    ap.add_argument("--wrong-state", type=float, default=None,
                    help="every agency's rate of records whose state differs from the person's (default: the "
                         "simulator's 1%%)")
    ap.add_argument("--wrong-exploitation", type=float, default=0.0,
                    help="share of records whose form of exploitation is recorded as another form (default 0: "
                         "the simulator never records it differently)")
    ap.add_argument("--summarise-scan", type=Path)
    ap.add_argument("--oracle-from", type=int, metavar="SEED",
                    help="impute with Dice probabilities calibrated on this seed's true pairs (a truth sample); "
                         "negative: the run's simulated truth sample, sized to each seed's lists, seed -SEED")
    ap.add_argument("--pooled", action="store_true",
                    help="with --oracle-from: one map for within- and between-list pairs")
    ap.add_argument("--train-persons", type=int, help="with --oracle-from: persons of the truth sample")
    ap.add_argument("--other-key", action="store_true", help="with --oracle-from: the truth sample under another key")
    ap.add_argument("--sample-error-scale", type=float, default=1.0,
                    help="with a negative --oracle-from: multiply the simulated truth sample's error rates too")
    args = ap.parse_args()
    global COMPARE_STRATA
    COMPARE_STRATA = not args.dice_only
    if args.oracle_from is not None:
        rows: list[dict[str, object]] = []
        for seed in _seeds(args.seeds):
            row = oracle(seed, args.oracle_from, args.persons, args.agencies, args.imputations, args.pooled,
                         args.train_persons, args.other_key, args.unknown_sex, args.error_scale,
                         args.sample_error_scale)
            rows.append(row)
            print(row, flush=True)
        for key in ("bias_single", "bias_truth_sample"):
            vals = [100 * float(r[key]) for r in rows]
            print(", ".join(f"{v:+.1f}" for v in vals) + " %; " + _bias_line(key, vals))
        def held(key: str) -> str:
            return f"{sum(bool(r[key]) for r in rows)}/{len(rows)}"

        print(f"intervals holding the true linkage's N-hat: imputed {held('covers_truth_linkage')}, single "
              f"linkage {held('single_covers_truth_linkage')}; holding the true N: imputed {held('covers_n_true')}, "
              f"single linkage {held('single_covers_n_true')}")
        return
    if args.summarise_scan:
        print(summarise_scan(args.summarise_scan))
        return
    if args.threshold_scan:
        grid = [float(x) for x in args.grid.split(",")]
        with args.out.open("w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=SCAN_FIELDS)
            writer.writeheader()
            for seed in _seeds(args.seeds):
                t0 = time.perf_counter()
                posts = None if args.posterior_grid is None else [float(x) for x in args.posterior_grid.split(",")]
                fills = (None if args.fill_edges is None else () if args.fill_edges == "none"
                         else tuple(float(x) for x in args.fill_edges.split(",")))
                for row in threshold_scan(seed, args.persons, args.agencies, grid, args.spec, args.unknown_sex,
                                          args.error_scale, args.dice_only, posts, args.wrong_state, fills,
                                          args.wrong_exploitation):
                    writer.writerow(row)
                fh.flush()
                print(f"seed {seed}: {time.perf_counter() - t0:.0f} s", file=sys.stderr)
        print(summarise_scan(args.out))
        return
    if args.control_check:
        for seed in _seeds(args.seeds):
            print(control_check(seed, args.persons, args.agencies), "\n")
        return
    if args.summarise:
        print(summarise(args.summarise))
        return
    with args.out.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=FIELDS)
        writer.writeheader()
        for seed in _seeds(args.seeds):
            row = one_seed(seed, args.persons, args.agencies, args.imputations)
            writer.writerow(row)
            fh.flush()
            print(row, file=sys.stderr)
    print(summarise(args.out))


if __name__ == "__main__":
    main()
