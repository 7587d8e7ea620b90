"""Fuzz harness: mutated inputs through every `cifranegra` command, in process.

    nice -n 10 /work/venv/bin/python bench/fuzz.py --seed 1 --n 10000 --out fuzz-report.json
    /work/venv/bin/python bench/fuzz.py --n 200 --commands validate,estimate      # a quick look
    /work/venv/bin/python bench/fuzz.py --case validate:17 --seed 1 --keep /tmp/case   # one case again
    /work/venv/bin/python bench/fuzz.py --self-test                                   # the detector works

Every case is built from ``random.Random(f"{seed}:{command}:{index}")``, so a case number
reproduces its input exactly. Each call goes through ``cifranegra.cli.main(argv)`` in this process
(a subprocess costs a second of start-up), with stdout, stderr, warnings and log records captured,
and is timed. Per command it counts inputs, exit codes, uncaught exceptions (anything escaping
``main``, or exit code 3, the CLI's "internal error"), identifiers printed (every identifying value
planted in the input: name words of 4+ letters, CURPs and any 6+ character piece of one, birth
dates in the common formats; searched in stdout + stderr + logs and inside any JSON printed, and in
the files ``run`` and ``encode`` write) and runs over 30 s. Prints a table and writes JSON.

Blind spots, to avoid false alarms: name words that are also code-list values, headers, option
names or words of the report's prose (the surname Guerrero, the state of Guerrero; Fuentes,
"fuentes"); a CURP's six date digits alone (record numbers look the same; the date itself is
searched in its common formats); birth dates inside the registration period; Excel serial dates;
names of authors the messages cite (Chan); CURP pieces inside long hexadecimal strings (digests).

Inputs: agency lists from synthetic persons (real-looking Mexican names, CURPs, birth dates;
``cifranegra.datasets.synthetic``) and from the bundled demo lists, mutated by row shifts,
dropped or extra fields, unquoted delimiters, swapped columns, duplicated headers, truncation,
random bytes, other encodings (latin-1, UTF-16/32, gzip), huge numbers, empty and header-only
files, identifiers moved into coded columns; capture-history tables of 1 to 30 lists with
NaN/inf/negative/fractional/huge counts, odd cells and headers; odd options (negative seeds, bad
methods and levels, paths that do not exist, are folders or lie outside); small project files
for ``run`` (at most ``--run-cases``, as linkage takes seconds), good and bad (unknown keys, paths
outside, unwritable output, one list). ``demo`` takes no input and is not fuzzed.

The generators are importable (``tests/cli/test_fuzz.py`` loads this file by path and reuses them
in a bounded hypothesis suite). The persons are fictitious; the report quotes up to 160
characters around each identifier found so that the leak can be located.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import dataclasses
import datetime as dt
import functools
import gzip
import io
import json
import logging
import os
import random
import re
import shutil
import signal
import string
import subprocess
import sys
import tempfile
import time
import traceback
import unicodedata
import warnings
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

COMMANDS = ("validate", "estimate", "describe", "compare", "encode", "simulate", "run")
# share of --n per command (run is also capped by --run-cases: linkage takes seconds a case)
WEIGHTS = {
    "validate": 0.30,
    "estimate": 0.25,
    "describe": 0.16,
    "compare": 0.03,
    "encode": 0.14,
    "simulate": 0.08,
    "run": 0.04,
}
SLOW_SECONDS = 30.0
#: True in the test suite: every case takes the fast options (bounded bootstrap and MCMC, at most six
#: lists at most 5, no strata on per-person tables), so that a hypothesis example takes a fraction of a second
QUICK = False
SECRET_HEX = "5e" * 32  # the fuzz study's secret (a test value)
# authors the package's messages cite ("Chan, Silverman & Vincent 2021"): Chan is also a Maya surname
CITED_AUTHORS = (
    "Chan Silverman Vincent Fienberg Rinaldo Chao Tsay Madigan York Dawid Lauritzen Ball Rivest Baillargeon "
    "Petersen Chapman Darroch Fellegi Sunter Christen Schnell Manrique Vallier Sadinle Holland"
)
IDENTIFYING_FIELDS = ("given_names", "first_surname", "second_surname", "full_name", "curp", "birth_date")


# --- planted identifiers and their detection -------------------------------------------------------


def fold(text: str) -> str:
    """Lower case without accents: what a name looks like wherever it is printed."""
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c)).casefold()


_MONTHS_ES = (
    "enero",
    "febrero",
    "marzo",
    "abril",
    "mayo",
    "junio",
    "julio",
    "agosto",
    "septiembre",
    "octubre",
    "noviembre",
    "diciembre",
)


def date_forms(d: dt.date) -> set[str]:
    """The ways a birth date is commonly written (ISO, day first, month first, compact, Spanish)."""
    y, m, day = d.year, d.month, d.day
    yy = f"{y % 100:02d}"
    return {
        f"{y:04d}-{m:02d}-{day:02d}",
        f"{y:04d}/{m:02d}/{day:02d}",
        f"{y:04d}{m:02d}{day:02d}",
        f"{day:02d}/{m:02d}/{y:04d}",
        f"{day}/{m}/{y:04d}",
        f"{day:02d}-{m:02d}-{y:04d}",
        f"{day}-{m}-{y:04d}",
        f"{day:02d}.{m:02d}.{y:04d}",
        f"{day}-{m}-{yy}",
        f"{day:02d}/{m:02d}/{yy}",
        f"{m:02d}/{day:02d}/{y:04d}",
        f"{day} de {_MONTHS_ES[m - 1]} de {y:04d}",
    }


@functools.lru_cache(maxsize=1)
def stopwords() -> frozenset[str]:
    """Words a message may print as code-list values or headers (state names, nationalities,
    labels, headers, months, the report's prose): a name word equal to one of them is not counted
    (e.g. the surname Guerrero and the state of Guerrero)."""
    from importlib import resources

    from cifranegra.datasets.synthetic import default_profiles

    words: set[str] = set(_MONTHS_ES)
    texts: list[str] = []
    data = resources.files("cifranegra.schema") / "data"
    for name in ("mexico_states.csv", "exploitation_crosswalk.csv", "exploitation_vocabulary.csv"):
        with contextlib.suppress(OSError, FileNotFoundError):
            texts.append((data / name).read_text(encoding="utf-8"))
    for prof in default_profiles():
        texts.extend(prof.columns.values())
        # and as a Latin-1 reading of their UTF-8 bytes shows them (a header 'indígena' as 'indÃ­gena')
        texts.extend(h.encode("utf-8").decode("latin-1") for h in prof.columns.values())
        texts.extend(prof.sex_codes)
    with contextlib.suppress(Exception):
        from cifranegra.schema import codes

        texts.extend(str(v) for vals in codes._NATIONALITIES.values() for v in vals)
        texts.extend(codes._state_lookup().keys())
    texts.append(CITED_AUTHORS)
    # the report's and summary's own prose (Spanish and English): surnames such as Fuentes, Cota or
    # Aquí are also words of it ("fuentes", "cota inferior", "aquí")
    for package, name in (("cifranegra.report", "i18n.py"), ("cifranegra.report", "templates/report.html.j2"),
                          ("cifranegra.report", "charts.py"), ("cifranegra.estimation", "wording.py")):
        with contextlib.suppress(OSError, FileNotFoundError):
            texts.append((resources.files(package) / name).read_text(encoding="utf-8"))
    texts.append(
        "Mexicana Mexicano Guatemalteca Guatemalteco Hondureña Hondureño Salvadoreña Venezolana "
        "Colombiana Cubana Mujer Hombre Femenino Masculino Indigena Especificado Nacional"
    )
    with contextlib.suppress(Exception):  # option names, choices and metavars of every command
        from cifranegra import cli

        parser = cli.build_parser()
        for sub in parser._subparsers._group_actions[0].choices.values():  # type: ignore[union-attr]
            texts.append(sub.format_usage())
    for text in texts:
        words.update(w for w in re.findall(r"[^\W\d_]{4,}", fold(text)))
    return frozenset(words)


@dataclasses.dataclass
class Planted:
    """Identifying values put into one input."""

    names: set[str] = dataclasses.field(default_factory=set)  # folded words of 4+ letters
    curps: set[str] = dataclasses.field(default_factory=set)
    dates: set[dt.date] = dataclasses.field(default_factory=set)

    def add_name(self, text: object) -> None:
        if isinstance(text, str):
            stop = stopwords()
            self.names.update(w for w in re.findall(r"[^\W\d_]{4,}", fold(text)) if w not in stop)

    def add_curp(self, text: object) -> None:
        if isinstance(text, str) and re.fullmatch(r"[A-Z0-9]{18}", text.strip().upper()):
            self.curps.add(text.strip().upper())

    def add_date(self, value: object, period: tuple[dt.date, dt.date] | None = None) -> None:
        if isinstance(value, dt.datetime):
            value = value.date()
        if isinstance(value, dt.date) and (period is None or not period[0] <= value <= period[1]):
            self.dates.add(value)  # dates inside the registration period could be registration dates

    def update(self, other: Planted) -> None:
        self.names |= other.names
        self.curps |= other.curps
        self.dates |= other.dates

    def __bool__(self) -> bool:
        return bool(self.names or self.curps or self.dates)


def _json_strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield str(k)
            yield from _json_strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _json_strings(v)


def decoded_json_text(text: str) -> str:
    """Every string inside any JSON object or array printed in ``text`` (escapes decoded)."""
    found: list[str] = []
    candidates = [text] + [line for line in text.splitlines() if line[:1] in "{["]
    for cand in candidates:
        try:
            found.extend(_json_strings(json.loads(cand)))
        except (ValueError, RecursionError):
            continue
    return "\n".join(found)


def find_identifiers(text: str, planted: Planted) -> list[dict[str, str]]:
    """The planted identifiers that appear in ``text`` (and inside any JSON in it): kind, the value
    matched, and up to 160 characters of context."""
    if not planted or not text:
        return []
    hits: list[dict[str, str]] = []
    full = text + "\n" + decoded_json_text(text)

    def context(where: str, start: int, end: int) -> str:
        return where[max(0, start - 80) : end + 80].replace("\n", "⏎")

    folded = fold(full)
    for m in re.finditer(r"[^\W\d_]{4,}", folded):
        if m.group(0) in planted.names:
            hits.append({"kind": "name", "value": m.group(0), "context": context(folded, m.start(), m.end())})
    upper = full.upper()
    windows: dict[str, str] = {}
    for curp in planted.curps:
        for i in range(len(curp) - 5):
            piece = curp[i : i + 6]
            if not piece.isdigit():  # the six digits alone (YYMMDD) are record numbers too; dates are below
                windows[piece] = curp
    if windows:
        hex_runs = [m.span() for m in re.finditer(r"[0-9A-F]{16,}", upper)]  # digests, fingerprints
        for i in range(len(upper) - 5):
            w = upper[i : i + 6]
            if w in windows:
                if any(a <= i and i + 6 <= b for a, b in hex_runs):
                    continue  # six hex-like characters inside a long hexadecimal string
                hits.append({"kind": "curp", "value": windows[w], "context": context(full, i, i + 6)})
                break
    for d in planted.dates:
        for form in date_forms(d):
            for m in re.finditer(re.escape(form), full, flags=re.IGNORECASE):
                before = full[m.start() - 1] if m.start() else " "
                after = full[m.end()] if m.end() < len(full) else " "
                if not before.isdigit() and not after.isdigit():
                    hits.append({"kind": "birth_date", "value": form, "context": context(full, m.start(), m.end())})
                    break
    return hits


# --- the pools: synthetic persons and the bundled demo lists ---------------------------------------


@dataclasses.dataclass
class AgencyRows:
    """One agency's raw rows (strings, its own headers) with each row's identifying values."""

    source: str
    columns: dict[str, str]  # field -> header
    frame: Any  # pandas DataFrame of str
    planted: list[Planted]  # per row
    mapping: dict[str, Any] | None


@functools.lru_cache(maxsize=4)
def pool(seed: int = 0, n_persons: int = 500) -> tuple[AgencyRows, ...]:
    """Agency rows of a small synthetic population (seeded) and of the bundled demo lists."""
    import pandas as pd

    from cifranegra.datasets.demo import demo_directory, demo_manifest
    from cifranegra.datasets.synthetic import default_profiles, simulate

    period = (dt.date(2023, 1, 1), dt.date(2023, 12, 31))
    sim = simulate(n_persons=n_persons, n_agencies=6, seed=seed)
    persons = sim.persons.set_index("person_id")
    truth = sim.truth.set_index(["source", "record_id"])["person_id"]
    out: list[AgencyRows] = []
    profiles = {p.id: p for p in default_profiles()}
    for prof in sim.profiles:
        frame = sim.lists[prof.id].astype("string").fillna("")
        rid = prof.columns["record_id"]
        plants = []
        for _, row in frame.iterrows():
            p = Planted()
            for field in IDENTIFYING_FIELDS:
                header = prof.columns.get(field)
                if header and field != "birth_date":
                    (p.add_curp if field == "curp" else p.add_name)(row[header])
            pid = truth.get((prof.id, row[rid]))
            if pid is not None:
                person = persons.loc[int(pid)]
                p.add_date(pd.Timestamp(person["birth_date"]).date(), period)
                p.add_curp(person["curp"])
            plants.append(p)
        mapping = (
            {"source": prof.id, "columns": {h: f for f, h in prof.columns.items()}, "sex_convention": "es"}
            if prof.needs_mapping
            else None
        )
        out.append(AgencyRows(prof.id, dict(prof.columns), frame, plants, mapping))
    # the bundled demo lists, read as the raw strings they hold
    d = demo_directory()
    for entry in demo_manifest()["lists"]:
        prof = profiles[entry["source"]]
        path = d / entry["file"]
        if entry["format"] == "csv":
            frame = pd.read_csv(
                path, sep=entry["delimiter"], encoding=entry["encoding"], dtype=str, keep_default_na=False
            )
        elif entry["format"] == "parquet":
            frame = pd.read_parquet(path).astype("string").fillna("")
        else:
            continue  # the Excel list is covered by the synthetic pool; reading it takes a second
        frame = frame.head(300)
        plants = []
        for _, row in frame.iterrows():
            p = Planted()
            for field in IDENTIFYING_FIELDS:
                header = prof.columns.get(field)
                if header and header in frame.columns:
                    if field == "curp":
                        p.add_curp(row[header])
                    elif field == "birth_date":
                        with contextlib.suppress(ValueError, TypeError, OverflowError):
                            p.add_date(pd.to_datetime(row[header], dayfirst=True).date(), period)
                    else:
                        p.add_name(row[header])
            plants.append(p)
        mapping = None
        if entry.get("mapping"):
            mapping = json.loads((d / entry["mapping"]).read_text(encoding="utf-8"))
        out.append(AgencyRows(f"demo_{prof.id}", dict(prof.columns), frame, plants, mapping))
    return tuple(out)


# --- a case ---------------------------------------------------------------------------------------


@dataclasses.dataclass
class Case:
    """One input: the argv (paths inside ``folder``), what was done to it, what it plants."""

    command: str
    index: int
    argv: list[str]
    mutations: list[str]
    planted: Planted
    scan_files: list[str] = dataclasses.field(default_factory=list)  # outputs to search for identifiers
    env: dict[str, str | None] = dataclasses.field(default_factory=dict)


def _rng(seed: int, command: str, index: int) -> random.Random:
    return random.Random(f"{seed}:{command}:{index}")


# --- agency lists --------------------------------------------------------------------------------


def _rows_of(
    rng: random.Random, agencies: tuple[AgencyRows, ...], n_max: int = 60
) -> tuple[AgencyRows, list[list[str]], Planted]:
    ag = rng.choice(agencies)
    n = min(len(ag.frame), rng.choice([1, 2, 3, 5, 10, 20, 40, n_max]))
    idx = sorted(rng.sample(range(len(ag.frame)), n)) if len(ag.frame) else []
    planted = Planted()
    rows = []
    for i in idx:
        rows.append([str(v) for v in ag.frame.iloc[i].tolist()])
        planted.update(ag.planted[i])
    return ag, rows, planted


def _random_text(rng: random.Random, n: int) -> str:
    alphabet = string.printable + "áéíóúñÑÁÉ¿¡€\x00\x1b\ufeff"
    return "".join(rng.choice(alphabet) for _ in range(n))


HUGE = [
    "1e308",
    "1e300",
    "-1e300",
    "99999999999999999999999",
    "inf",
    "-inf",
    "nan",
    "NaN",
    "-0",
    "1.5",
    "-3",
    "0x1F",
    "1_000",
    "١٢",
    "9" * 400,
]


def mutate_rows(
    rng: random.Random, header: list[str], rows: list[list[str]], planted: Planted, ag: AgencyRows
) -> tuple[list[str], list[list[str]], list[str]]:
    """Row- and column-level damage; returns header, rows and the names of what was done."""
    done: list[str] = []
    header = list(header)
    rows = [list(r) for r in rows]
    for _ in range(rng.choice([0, 0, 0, 1, 1, 2, 3])):
        kind = rng.choice(
            [
                "shift_right",
                "shift_left",
                "extra_fields",
                "drop_fields",
                "swap_columns",
                "swap_in_row",
                "duplicate_header",
                "huge_number",
                "identifier_into_coded",
                "blank_rows",
                "rename_header",
                "drop_column",
                "extra_column_with_names",
                "long_cell",
                "control_chars",
            ]
        )
        if not rows and kind not in ("duplicate_header", "rename_header", "drop_column"):
            continue
        r = rng.randrange(len(rows)) if rows else 0
        if kind == "shift_right":
            rows[r].insert(rng.randrange(len(rows[r]) + 1), "")
        elif kind == "shift_left" and rows[r]:
            del rows[r][rng.randrange(len(rows[r]))]
        elif kind == "extra_fields":
            rows[r].extend(rng.choice([[""], ["x", "y"], [rows[r][0]] * 3]))
        elif kind == "drop_fields":
            rows[r] = rows[r][: rng.randrange(len(rows[r]) + 1)]
        elif kind == "swap_columns" and len(header) > 1:
            a, b = rng.sample(range(len(header)), 2)
            for row in rows:
                if max(a, b) < len(row):
                    row[a], row[b] = row[b], row[a]
        elif kind == "swap_in_row" and len(rows[r]) > 1:
            a, b = rng.sample(range(len(rows[r])), 2)
            rows[r][a], rows[r][b] = rows[r][b], rows[r][a]
        elif kind == "duplicate_header" and len(header) > 1:
            a, b = rng.sample(range(len(header)), 2)
            header[b] = header[a]
        elif kind == "huge_number":
            c = rng.randrange(len(rows[r])) if rows[r] else 0
            if rows[r]:
                rows[r][c] = rng.choice(HUGE)
        elif kind == "identifier_into_coded":
            # a name, CURP or birth date moved into another column of the same row
            if rows[r]:
                c = rng.randrange(len(rows[r]))
                source = rng.choice([v for v in rows[r] if v] or [""])
                rows[r][c] = source
        elif kind == "blank_rows":
            rows.insert(r, [""] * rng.choice([0, 1, len(header)]))
        elif kind == "rename_header" and header:
            header[rng.randrange(len(header))] = rng.choice(
                ["", " ", "Nombre", "nombre ", "CURP", "x" * 300, "count", "Unnamed: 0", "🙂", "sexo"]
            )
        elif kind == "drop_column" and len(header) > 1:
            c = rng.randrange(len(header))
            del header[c]
            for row in rows:
                if c < len(row):
                    del row[c]
        elif kind == "extra_column_with_names":
            header.append(rng.choice(["Observaciones", "Notas", "Alias", "Nombre de la madre"]))
            donor = (
                rng.choice(ag.frame[ag.columns.get("first_surname", ag.frame.columns[0])].tolist() or [""])
                if ag.columns.get("first_surname") in ag.frame.columns
                else "Zorbalinda"
            )
            for row in rows:
                row.append(f"{donor} {rng.choice(['vive con', 'hermana de', ''])} {row[2] if len(row) > 2 else ''}")
            planted.add_name(donor)
        elif kind == "long_cell" and rows[r]:
            rows[r][rng.randrange(len(rows[r]))] = rng.choice(["A" * 100_000, "á" * 5000, "\n".join(["x"] * 50)])
        elif kind == "control_chars" and rows[r]:
            c = rng.randrange(len(rows[r]))
            rows[r][c] = rows[r][c] + rng.choice(["\x00", "\x1b[31m", "\r", "\u202e", "\ufeff", "\t"])
        else:
            continue
        done.append(kind)
    return header, rows, done


def serialize_csv(
    rng: random.Random,
    header: list[str],
    rows: list[list[str]],
    delimiter: str,
    done: list[str],
    unquoted: float = 0.15,
) -> str:
    """CSV text of the rows; with probability ``unquoted`` one delimiter is put inside a cell unquoted."""
    buf = io.StringIO()
    writer = csv.writer(buf, delimiter=delimiter, lineterminator=rng.choice(["\n", "\r\n"]))
    writer.writerow(header)
    for row in rows:
        writer.writerow(row)
    text = buf.getvalue()
    if rng.random() < unquoted and rows:  # an unquoted delimiter inside a surname
        lines = text.split("\n")
        i = rng.randrange(1, len(lines))
        if lines[i]:
            cut = rng.randrange(len(lines[i]) + 1)
            lines[i] = lines[i][:cut] + delimiter + lines[i][cut:]
            done.append("unquoted_delimiter")
        text = "\n".join(lines)
    if rng.random() < 0.05:
        text = text.replace('"', "", rng.randrange(1, 4))
        done.append("unbalanced_quotes")
    return text


def encode_bytes(rng: random.Random, text: str, done: list[str]) -> bytes:
    choice = rng.choices(
        ["utf-8", "utf-8-sig", "cp1252", "latin-1", "utf-16", "utf-32", "utf-16-le", "gzip", "mac_roman"],
        weights=[70, 8, 6, 4, 4, 2, 2, 4, 1],
    )[0]
    if choice != "utf-8":
        done.append(f"encoding:{choice}")
    if choice == "gzip":
        return gzip.compress(text.encode("utf-8"))
    return text.encode(choice, errors="replace")


def damage_bytes(rng: random.Random, data: bytes, done: list[str]) -> bytes:
    r = rng.random()
    if r < 0.06 and data:
        done.append("truncated")
        return data[: rng.randrange(len(data))]
    if r < 0.10 and data:
        done.append("random_bytes")
        b = bytearray(data)
        for _ in range(rng.randint(1, 20)):
            b[rng.randrange(len(b))] = rng.randrange(256)
        return bytes(b)
    if r < 0.12:
        done.append("empty_file")
        return b""
    if r < 0.13:
        done.append("only_random_bytes")
        return bytes(rng.randrange(256) for _ in range(rng.randint(1, 400)))
    return data


def write_list(
    rng: random.Random,
    folder: Path,
    agencies: tuple[AgencyRows, ...],
    stem: str = "lista",
    n_max: int = 60,
    clean: bool = False,
) -> tuple[Path, Path | None, str, Planted, list[str]]:
    """One agency list file in ``folder``, mutated unless ``clean``; returns path, mapping path,
    source, planted identifiers and mutations."""
    import pandas as pd

    ag, rows, planted = _rows_of(rng, agencies, n_max)
    header = [str(c) for c in ag.frame.columns]
    done: list[str] = ["clean"] if clean else []
    if not clean and rng.random() < 0.05:
        rows = []
        done.append("header_only")
    if not clean:
        header, rows, more = mutate_rows(rng, header, rows, planted, ag)
        done += more
    weights = [80, 6, 8, 0, 0] if clean else [80, 6, 8, 3, 3]
    fmt = rng.choices(["csv", "xlsx", "parquet", "txt", "json"], weights=weights)[0]
    mapping_path = None
    if ag.mapping is not None and (clean or rng.random() < 0.85):
        mapping_path = folder / f"{stem}.mapping.json"
        mp = json.loads(json.dumps(ag.mapping))
        if not clean and rng.random() < 0.1:
            mp["columns"][rng.choice(list(mp["columns"]))] = rng.choice(["nombre_de_pila", "", "curp", 5])
            done.append("bad_mapping")
        mapping_path.write_text(json.dumps(mp), encoding="utf-8")
    if fmt in ("xlsx", "parquet"):
        width = max([1, len(header), *(len(r) for r in rows)])
        cols = [*header, *[f"extra_{i}" for i in range(width - len(header))]]
        seen: Counter[str] = Counter()
        unique = []
        for c in cols:  # writers refuse duplicate names: keep the damage, make them distinct
            seen[c] += 1
            unique.append(c if seen[c] == 1 else f"{c}.{seen[c] - 1}")
        frame = pd.DataFrame([r + [""] * (width - len(r)) for r in rows], columns=unique)
        path = folder / f"{stem}.{fmt}"
        try:
            if fmt == "xlsx":
                frame.to_excel(path, index=False, engine="openpyxl")
            else:
                frame.to_parquet(path, index=False)
        except Exception:  # a cell the writer refuses (control characters): fall back to CSV
            fmt = "csv"
        else:
            data = path.read_bytes()
            damaged = data if clean else damage_bytes(rng, data, done)
            if damaged is not data:
                path.write_bytes(damaged)
    if fmt not in ("xlsx", "parquet"):
        delimiter = (
            ";"
            if ag.source.endswith("fiscalia_estatal") and rng.random() < 0.8
            else rng.choice([",", ",", ";", "\t", "|"])
        )
        if clean:
            data = serialize_csv(rng, header, rows, delimiter, done, unquoted=0).encode("utf-8")
        else:
            text = serialize_csv(rng, header, rows, delimiter, done)
            data = damage_bytes(rng, encode_bytes(rng, text, done), done)
        ext = {
            "csv": ".csv" if clean else rng.choice([".csv", ".csv", ".CSV", ".tsv", ".txt", ".csv.gz"]),
            "txt": ".txt",
            "json": ".json",
        }[fmt]
        path = folder / f"{stem}{ext}"
        path.write_bytes(data)
    return path, mapping_path, ag.source.removeprefix("demo_"), planted, done


ODD_PATHS = [
    "/nonexistent/lista.csv",
    "/proc/self/status",
    "/etc/passwd",
    "/",
    "/dev/null",
    "../../lista.csv",
    "~/no-such-file.csv",
    "lista.csv\x00x",
    "",
    " ",
    "-",
    "C:\\datos\\lista.csv",
]


def case_validate(seed: int, index: int, folder: Path) -> Case:
    rng = _rng(seed, "validate", index)
    agencies = pool(seed % 4)
    clean = rng.random() < 0.4
    planted = Planted()
    done: list[str] = []
    files = []
    mappings = []
    for k in range(rng.choice([1, 1, 1, 2, 3])):
        path, mp, _source, pl, d = write_list(rng, folder, agencies, stem=f"lista{k}", clean=clean)
        files.append(str(path))
        mappings.append(mp)
        planted.update(pl)
        done += d
    if not clean and rng.random() < 0.05:
        files.insert(rng.randrange(len(files) + 1), rng.choice(ODD_PATHS))
        done.append("odd_path")
    if not clean and rng.random() < 0.03:
        files.append(str(folder))
        done.append("folder_as_file")
    argv = ["validate", *files]
    if mappings[0] and rng.random() < 0.5 and (len(files) == 1 or not clean):  # --mapping applies to every file
        argv += ["--mapping", str(mappings[0])]
    if rng.random() < 0.3:
        argv += ["--source", pick(rng, clean, ["fiscalia", "x", "a b"], ["", "ñ" * 300])]
    if rng.random() < 0.5:
        argv.append("--json")
    if rng.random() < 0.2:
        argv += ["--max-problems", pick(rng, clean, ["0", "5", "1000"], ["-1", "abc", "1e9"])]
    if rng.random() < 0.3:
        argv += ["--unrecognised", pick(rng, clean, ["error", "unknown"], ["ignore"])]
    return Case("validate", index, argv, done, planted)


# --- capture-history tables ----------------------------------------------------------------------

LIST_NAMES = [
    "fiscalia",
    "fgr",
    "dif",
    "refugios",
    "linea",
    "osc",
    "cndh",
    "ceav",
    "inm",
    "salud",
    "policia",
    "consulado",
]


def pick(rng: random.Random, clean: bool, good: list[str], bad: list[str]) -> str:
    """A value for an option: a valid one in a clean case, any in a damaged one."""
    return rng.choice(good if clean else good + bad)


def capture_table(
    rng: random.Random, folder: Path, stem: str = "tabla", clean: bool = False
) -> tuple[Path, list[str], Planted, list[str], list[str]]:
    """A capture-history table (count form or one row per person), mutated unless ``clean``;
    returns the path, extra argv, planted identifiers, mutations and the list column names."""
    k = rng.choices(list(range(1, 31)), weights=[3, 10, 14, 14, 12, 8, 6, 4, 3, 3, 2, 2, *[0.5] * 17, 2])[0]
    if QUICK:  # all-model selection over 6 lists takes a minute or more
        k = min(k, 5)
    names = [LIST_NAMES[i] if i < len(LIST_NAMES) and rng.random() < 0.5 else f"L{i + 1}" for i in range(k)]
    if len(set(names)) < len(names):
        names = [f"L{i + 1}" for i in range(k)]
    per_person = rng.random() < 0.15
    done: list[str] = []
    planted = Planted()
    agencies = pool(0)
    extra_argv: list[str] = []
    n_patterns = min(2**k - 1, rng.choice([1, 2, 3, 5, 8, 15, 31, 60, 200]))
    patterns: set[tuple[int, ...]] = set()
    while len(patterns) < n_patterns:
        bits = tuple(int(rng.random() < 0.35) for _ in range(k))
        if any(bits):
            patterns.add(bits)
    for i in range(k):  # every list holds someone (an empty list is a refusal of its own, made below)
        if not any(b[i] for b in patterns):
            patterns.add(tuple(int(j == i) for j in range(k)))
    strata = rng.random() < 0.15 and not (QUICK and per_person)
    header = [*names]
    rows: list[list[str]] = []
    if per_person:
        for bits in patterns:
            for _ in range(rng.choice([1, 1, 2, 5, 20])):
                rows.append([str(b) for b in bits])
        if not clean and rng.random() < 0.25:  # a name column nobody asked for
            ag = rng.choice(agencies)
            header.append(rng.choice(["nombre", "name", "victima"]))
            for row in rows:
                i = rng.randrange(len(ag.frame))
                value = (
                    " ".join(
                        str(ag.frame.iloc[i][ag.columns[f]])
                        for f in ("given_names", "first_surname")
                        if f in ag.columns and ag.columns[f] in ag.frame.columns
                    )
                    or "Zorbalinda Quiroz"
                )
                row.append(value)
                planted.add_name(value)
            done.append("name_column")
        extra_argv.append("--per-person")
    else:
        header.append("count")
        for bits in patterns:
            rows.append([*(str(b) for b in bits), str(rng.choice([1, 1, 2, 3, 7, 20, 150, 0]))])
    if strata:
        header.append("sexo")
        for row in rows:
            row.append(rng.choice(["F", "M"] if clean else ["F", "M", "mujer", ""]))
        extra_argv += ["--strata", "sexo"]
        done.append("strata")
    for _ in range(0 if clean else rng.choice([0, 1, 1, 2, 3])):
        kind = rng.choice(
            [
                "nan_count",
                "inf_count",
                "negative_count",
                "fractional_count",
                "huge_count",
                "text_count",
                "cell_not_01",
                "identifier_in_cell",
                "duplicate_header",
                "duplicate_pattern",
                "all_zero_row",
                "drop_count_column",
                "short_row",
                "long_row",
                "blank_header",
                "remove_pattern",
            ]
        )
        if not rows:
            break
        r = rng.randrange(len(rows))
        ci = header.index("count") if "count" in header else None
        if kind in ("nan_count", "inf_count", "negative_count", "fractional_count", "huge_count", "text_count"):
            if ci is None or ci >= len(rows[r]):
                continue
            rows[r][ci] = {
                "nan_count": rng.choice(["nan", "NaN", ""]),
                "inf_count": rng.choice(["inf", "-inf", "Infinity"]),
                "negative_count": rng.choice(["-1", "-40"]),
                "fractional_count": rng.choice(["0.5", "2.25", "1,5"]),
                "huge_count": rng.choice(["1e300", "1e20", "9" * 30, "1e308"]),
                "text_count": rng.choice(["muchos", "N/D", "3 personas"]),
            }[kind]
        elif kind == "cell_not_01" and k:
            rows[r][rng.randrange(k)] = rng.choice(["2", "-1", "0.5", "si", "x", "nan", "TRUE", " 1"])
        elif kind == "identifier_in_cell":
            ag = rng.choice(agencies)
            i = rng.randrange(len(ag.frame))
            field = rng.choice([f for f in ("curp", "first_surname", "given_names") if f in ag.columns])
            value = str(ag.frame.iloc[i][ag.columns[field]]) or "GOOF160325MTCNRRA3"
            rows[r][rng.randrange(len(rows[r]))] = value
            (planted.add_curp if field == "curp" else planted.add_name)(value)
        elif kind == "duplicate_header" and len(header) > 1:
            a, b = rng.sample(range(len(header)), 2)
            header[b] = header[a]
        elif kind == "duplicate_pattern":
            rows.append(list(rows[r]))
        elif kind == "all_zero_row":
            rows.append(["0"] * k + (["5"] if ci is not None else []))
        elif kind == "drop_count_column" and ci is not None:
            del header[ci]
            for row in rows:
                if ci < len(row):
                    del row[ci]
        elif kind == "short_row":
            rows[r] = rows[r][: rng.randrange(len(rows[r]) + 1)]
        elif kind == "long_row":
            rows[r] = rows[r] + ["1", "x"]
        elif kind == "blank_header" and header:
            header[rng.randrange(len(header))] = ""
        elif kind == "remove_pattern" and len(rows) > 1:
            del rows[r]
        else:
            continue
        done.append(kind)
    if not clean and rng.random() < 0.05:
        rows = []
        done.append("header_only")
    if clean:
        data = serialize_csv(rng, header, rows, rng.choice([",", ",", ";", "\t"]), done, unquoted=0).encode("utf-8")
    else:
        text = serialize_csv(rng, header, rows, rng.choice([",", ",", ",", ";", "\t"]), done, unquoted=0.08)
        data = damage_bytes(rng, encode_bytes(rng, text, done), done)
    fmt = rng.choices(["csv", "xlsx", "parquet"], weights=[90, 4, 6])[0]
    path = folder / f"{stem}.csv"
    if fmt != "csv" and rows and not done:
        import pandas as pd

        frame = pd.DataFrame(rows, columns=header)
        for col in frame.columns:
            with contextlib.suppress(ValueError, TypeError):
                frame[col] = pd.to_numeric(frame[col])
        path = folder / f"{stem}.{fmt}"
        try:
            frame.to_excel(path, index=False) if fmt == "xlsx" else frame.to_parquet(path, index=False)
        except Exception:
            path = folder / f"{stem}.csv"
            path.write_bytes(data)
    else:
        path.write_bytes(data)
    return path, extra_argv, planted, [f"lists:{k}", *done], names


def _table_case(
    command: str, seed: int, index: int, folder: Path
) -> tuple[random.Random, list[str], list[str], Planted, list[str]]:
    rng = _rng(seed, command, index)
    clean = rng.random() < 0.4
    path, extra, planted, done, names = capture_table(rng, folder, clean=clean)
    if clean:
        done.insert(0, "clean")
    target = str(path)
    r = 1.0 if clean else rng.random()
    if r < 0.03:
        target = rng.choice(ODD_PATHS)
        done.append("odd_path")
    elif r < 0.05:
        target = str(folder)
        done.append("folder_as_file")
    elif r < 0.08:
        target = rng.choice(["SparseMSE_UKdat_5", "SparseMSE_UKdat", "no_such_table", "../SparseMSE_UKdat_5"])
        done.append("bundled_name")
    argv = [command, target, *extra]
    if not clean and rng.random() < 0.08 and names:
        argv += ["--lists", *rng.sample([*names, "nope"], min(len(names) + 1, rng.randint(1, 4)))]
        done.append("--lists")
    if not clean and rng.random() < 0.04:
        argv += ["--count", rng.choice(["n", "count", "", "sexo"])]
    return rng, argv, done, planted, names


def case_estimate(seed: int, index: int, folder: Path) -> Case:
    rng, argv, done, planted, names = _table_case("estimate", seed, index, folder)
    clean = done[:1] == ["clean"]
    two_list = {"petersen": 0 if clean and len(names) != 2 else 6, "chapman": 0 if clean and len(names) != 2 else 6}
    method = rng.choices(
        [
            "loglinear",
            "independence",
            "chao",
            "petersen",
            "chapman",
            "saturated",
            "lcmcr",
            "dga",
            "sample-coverage",
            "bogus",
        ],
        weights=[35, 10, 10, two_list["petersen"], two_list["chapman"], 5, 6, 8, 8, 0 if clean else 3],
    )[0]
    argv += ["--method", method]
    fast = rng.random() < 0.9 or QUICK
    if method == "loglinear":
        if rng.random() < 0.3:
            argv += ["--select", pick(rng, clean, ["bic", "aic", "stepwise", "auto"], ["best"])]
        if rng.random() < 0.15:
            model = pick(rng, clean, ["[12,3]", "[1,2]", "[12,13,23]"], ["[99]", "12,3", "[", "[1,1]", "[]", "[ab]"])
            argv += ["--model", model]
        if fast:
            argv += ["--interval", rng.choice(["none", "profile", "wald", "bootstrap"]), "--workers", "1"]
            if "bootstrap" in argv:
                argv += ["--n-boot", pick(rng, clean, ["20", "50"], ["0", "-5", "1"])]
        if rng.random() < 0.1:
            argv += ["--max-order", pick(rng, clean, ["1", "2"], ["0", "-1", "40"])]
        if rng.random() < 0.05:
            argv += ["--pthresh", pick(rng, clean, ["0.02", "0.1"], ["2", "-1", "nan"])]
    elif method == "lcmcr" and fast:
        argv += [
            "--chains",
            pick(rng, clean, ["1", "2"], ["0"]),
            "--samples",
            pick(rng, clean, ["20", "50"], ["0"]),
            "--burn-in",
            pick(rng, clean, ["10", "50"], ["-1"]),
            "--thin",
            pick(rng, clean, ["1", "5"], ["0"]),
        ]
    elif method == "dga" and fast:
        pass
    if rng.random() < 0.2:
        argv += ["--level", pick(rng, clean, ["0.9", "0.8"], ["1.5", "0", "1", "-0.5", "nan", "95", "inf"])]
        done.append("--level")
    if rng.random() < 0.3:
        argv += ["--seed", pick(rng, clean, ["1", "0", str(2**70)], ["-1", "abc"])]
    if rng.random() < 0.5:
        argv.append("--json")
    if not clean and rng.random() < 0.03:
        argv += ["--chains", "2"]  # an option that may not apply to the method
    return Case("estimate", index, argv, [f"method:{method}", *done], planted)


def case_describe(seed: int, index: int, folder: Path) -> Case:
    rng, argv, done, planted, _ = _table_case("describe", seed, index, folder)
    if rng.random() < 0.5:
        argv.append("--json")
    return Case("describe", index, argv, done, planted)


def case_compare(seed: int, index: int, folder: Path) -> Case:
    rng, argv, done, planted, names = _table_case("compare", seed, index, folder)
    clean = done[:1] == ["clean"]
    fams = [
        "loglinear-bic",
        "loglinear-stepwise",
        "independence",
        "chao",
        "sample-coverage",
        "sample-coverage-low",
        "lcmcr",
        "dga",
        *([] if clean else ["bogus"]),
    ]
    chosen = rng.sample(fams, rng.randint(1, 4))
    argv += [
        "--methods",
        ",".join(chosen),
        "--n-boot",
        pick(rng, clean, ["10", "20"], ["0"]),
        "--chains",
        "1",
        "--samples",
        rng.choice(["20", "40"]),
        "--burn-in",
        "20",
    ]
    if rng.random() < (0.7 if len(names) <= 6 else 0.9):  # the sensitivity rows refit every family K+ times
        argv.append("--no-sensitivity")
    elif len(names) >= 2 and rng.random() < 0.5:
        argv += ["--merge", ",".join(rng.sample(names if clean else [*names, "zzz"], 2))]
    if rng.random() < 0.2:
        argv += ["--level", pick(rng, clean, ["0.9"], ["2", "0", "nan"])]
    if rng.random() < 0.3:
        argv += ["--seed", pick(rng, clean, ["3"], ["-1"])]
    if rng.random() < 0.5:
        argv.append("--json")
    return Case("compare", index, argv, [f"methods:{','.join(chosen)}", *done], planted)


# --- encode -------------------------------------------------------------------------------------


def case_encode(seed: int, index: int, folder: Path) -> Case:
    rng = _rng(seed, "encode", index)
    agencies = pool(seed % 4)
    clean = rng.random() < 0.4
    path, mapping, source, planted, done = write_list(rng, folder, agencies, clean=clean)
    secret = folder / "study.secret"
    r = 0.0 if clean else rng.random()
    env: dict[str, str | None] = {"CIFRANEGRA_SECRET": None}
    if r < 0.75:
        secret.write_text(SECRET_HEX + "\n")
    elif r < 0.8:
        secret.write_text("abc")
        done.append("short_secret")
    elif r < 0.85:
        secret.write_bytes(path.read_bytes()[:4000])  # the list given as the secret file
        done.append("list_as_secret")
    elif r < 0.9:
        env["CIFRANEGRA_SECRET"] = rng.choice([SECRET_HEX, "zz", "", path.read_text("latin-1")[:200].replace("\0", "")])
        done.append("secret_from_env")
        secret = None  # type: ignore[assignment]
    else:
        secret = folder / "no-such.secret"
        done.append("missing_secret")
    out = folder / "out" / "lista.encoded.parquet"
    (folder / "out").mkdir()
    r = 1.0 if clean else rng.random()
    if r < 0.05:
        out = folder / "nodir" / "x.parquet"
        done.append("output_missing_folder")
    elif r < 0.09:
        out = folder / "out"
        done.append("output_is_folder")
    elif r < 0.12:
        out = path
        done.append("output_is_input")
    elif r < 0.14:
        out = Path("/proc/cifranegra-fuzz.parquet")
        done.append("output_unwritable")
    argv = ["encode", str(path), "--project", pick(rng, clean, ["fuzz-study", "ñ" * 50], [""]), "-o", str(out)]
    if secret is not None:
        argv += ["--secret-file", str(secret)]
    if mapping and (clean or rng.random() < 0.7):
        argv += ["--mapping", str(mapping)]
    if rng.random() < 0.6:
        argv += ["--source", source]
    for flag in ("--renumber", "--force"):
        if rng.random() < 0.3:
            argv.append(flag)
    if rng.random() < 0.4:
        argv += ["--unrecognised", rng.choice(["unknown", "error", "unknown"])]
    if not clean and rng.random() < 0.06:
        argv = [
            "encode",
            "--new-secret",
            rng.choice(
                [
                    str(folder / "k.secret"),
                    str(folder / "nodir" / "k"),
                    str(folder),
                    str(secret or folder / "x"),
                    "/proc/k",
                ]
            ),
        ]
        done.append("new_secret")
    if not clean and rng.random() < 0.03:
        argv += ["--secret", SECRET_HEX]
        done.append("secret_on_command_line")
    return Case("encode", index, argv, done, planted, scan_files=[str(out)], env=env)


# --- simulate -----------------------------------------------------------------------------------


def case_simulate(seed: int, index: int, folder: Path) -> Case:
    rng = _rng(seed, "simulate", index)
    target = folder / "sim"
    clean = rng.random() < 0.4
    done: list[str] = ["clean"] if clean else []
    r = 1.0 if clean else rng.random()
    if r < 0.05:
        target = Path("/proc/cifranegra-fuzz")
        done.append("into_proc")
    elif r < 0.1:
        target.write_text("a file")
        done.append("onto_a_file")
    elif r < 0.15:
        target.mkdir()
        (target / "notas.txt").write_text("x")
        done.append("non_empty")
    elif r < 0.18:
        target = folder / "afile" / "sub"
        (folder / "afile").write_text("x")
        done.append("under_a_file")
    argv = [
        "simulate",
        str(target),
        "--persons",
        pick(rng, clean, ["1", "2", "10", "60", "200"], ["0", "-3", "1000000000", "2000001", "1e3", "abc"]),
    ]
    if rng.random() < 0.6:
        argv += ["--agencies", pick(rng, clean, ["1", "2", "3", "6", "7", "12", "20"], ["21", "0", "-1", "100"])]
    if rng.random() < 0.5:
        argv += ["--seed", pick(rng, clean, ["0", "1", str(2**64)], ["-1", "x"])]
    if rng.random() < 0.2:
        argv += ["--error-scale", pick(rng, clean, ["0", "1", "3", "1e9"], ["-1", "nan", "inf"])]
    if not clean and rng.random() < 0.15:
        argv += [
            "--period",
            *rng.choice(
                [
                    ("2023-01-01", "2023-12-31"),
                    ("2023-12-31", "2023-01-01"),
                    ("2023-02-30", "2023-03-01"),
                    ("hoy", "mañana"),
                    ("1900-01-01", "2100-01-01"),
                ]
            ),
        ]
    for flag in ("--json", "--force", "--no-persons"):
        if rng.random() < 0.2:
            argv.append(flag)
    return Case("simulate", index, argv, done, Planted())


# --- run ------------------------------------------------------------------------------------------


def _toml_str(value: str) -> str:
    return json.dumps(value)


def case_run(seed: int, index: int, folder: Path) -> Case:
    rng = _rng(seed, "run", index)
    agencies = pool(seed % 4)
    proj = folder / "study"
    proj.mkdir()
    whole_clean = rng.random() < 0.45  # a good project of good lists: these reach linkage and estimation
    done: list[str] = ["clean"] if whole_clean else []
    planted = Planted()
    n_lists = rng.choices([1, 2, 3, 4], weights=[0 if whole_clean else 1, 4, 4, 2])[0]
    seed_text = pick(rng, whole_clean, ["1", "20240601"], ["-1", "2.5", '"x"'])
    lines = [f"name = {_toml_str(pick(rng, whole_clean, ['fuzz', 'fuzz', 'ñ'], ['']))}", f"seed = {seed_text}"]
    out_choice = 1.0 if whole_clean else rng.random()
    output = "results"
    if out_choice < 0.05:
        output = "../../.."
        done.append("output_outside")
    elif out_choice < 0.1:
        output = "/proc/cifranegra-fuzz"
        done.append("output_unwritable")
    elif out_choice < 0.13:
        (proj / "afile").write_text("x")
        output = "afile"
        done.append("output_is_file")
    lines.append(f"output = {_toml_str(output)}")
    sources = []
    used: set[int] = set()
    for k in range(n_lists):
        clean = whole_clean or rng.random() < 0.7
        sub = random.Random(rng.random())
        if clean:  # an unmutated list: most run cases should reach linkage
            # a clean project takes its lists from one population (the simulated one), whole or nearly
            # so, so that they overlap; a damaged one mixes populations and sizes
            # each agency once: the same agency's list twice is a list given twice, which a project
            # refuses (same_file) rather than linking it as a complete overlap
            unused = [a for a in (agencies[:6] if whole_clean else agencies) if id(a) not in used] or agencies
            ag = sub.choice(unused)
            used.add(id(ag))
            n = min(len(ag.frame), sub.choice([150, 250] if whole_clean else [5, 20, 60, 100]))
            idx = sorted(sub.sample(range(len(ag.frame)), n))
            frame = ag.frame.iloc[idx]
            for i in idx:
                planted.update(ag.planted[i])
            path = proj / f"l{k}.csv"
            frame.to_csv(path, index=False)
            mapping = None
            if ag.mapping:
                mapping = proj / f"l{k}.mapping.json"
                mapping.write_text(json.dumps(ag.mapping), encoding="utf-8")
            source = ag.source.removeprefix("demo_")
        else:
            path, mapping, source, pl, d = write_list(sub, proj, agencies, stem=f"l{k}", n_max=100)
            planted.update(pl)
            done += d
        source = source if source not in sources else f"{source}_{k}"
        sources.append(source)
        entry = ["", "[[lists]]", f"source = {_toml_str(source)}", f"path = {_toml_str(path.name)}"]
        if mapping is not None:
            entry.append(f"mapping = {_toml_str(mapping.name)}")
        if not whole_clean and rng.random() < 0.03:
            entry[3] = f"path = {_toml_str(rng.choice(['../../../../etc/passwd', '/etc/passwd', 'nope.csv', '.']))}"
            done.append("bad_list_path")
        lines += entry
    if not whole_clean and rng.random() < 0.05:
        lines += [
            "",
            "[linkage]",
            f"engine = {_toml_str(rng.choice(['bogus', 'duckdb']))}",
            f"threshold = {rng.choice(['0.5', '2', '-1', 'nan'])}",
        ]
        done.append("linkage_options")
    good_strata: list[list[str]] = [[], ["sex"], ["sex"], ["age_group"], ["state"], ["sex", "age_group"]]
    strata = rng.choice(good_strata if whole_clean else [*good_strata, ["bogus"], ["sex", "sex"]])
    lines += ["", "[tabulation]", f"strata = {json.dumps(strata)}"]
    good_methods: list[list[str]] = [["loglinear"], ["independence"], ["loglinear", "chao"], ["dga"]]
    methods = rng.choice(good_methods if whole_clean else [*good_methods, ["bogus"], []])
    lines += [
        "",
        "[estimation]",
        f"methods = {json.dumps(methods)}",
        f"linkage_sensitivity = {rng.choice(['[]', '[]', '[0.8]'])}",
    ]
    if rng.random() < 0.2:
        level_text = pick(rng, whole_clean, ["0.9"], ["1.5", "0", "nan", '"x"'])
        lines.append(f"level = {level_text}")
        done.append("level")
    if "loglinear" in methods:
        lines += [
            "",
            "[estimation.options.loglinear]",
            'interval = "none"' if rng.random() < 0.8 else 'interval = "bootstrap"\nn_boot = 20\nworkers = 1',
        ]
    if not whole_clean and rng.random() < 0.06:
        lines += ["", "[bogus]", "x = 1"]
        done.append("unknown_key")
    if not whole_clean and rng.random() < 0.04:
        lines.append("this is not toml = = [")
        done.append("bad_toml")
    toml_path = proj / "project.toml"
    toml_path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    argv = ["run", str(toml_path), "-q"]
    outdir = proj / ("results" if output == "results" else "nowhere")
    if rng.random() < 0.15:
        outdir = folder / "elsewhere"
        argv += ["-o", str(outdir)]
    if rng.random() < 0.4:
        argv.append("--json")
    if rng.random() < 0.8:  # publishing renders reports in two languages (seconds): one run in five does
        argv.append("--no-publish")
    scan = [str(outdir / "publish")] + [
        str(outdir / "internal" / n)
        for n in (
            "results.json",
            "estimates.csv",
            "capture_histories.csv",
            "entities.csv",
            "linkage_model.json",
            "linkage_sensitivity.csv",
            "capture_histories_by_stratum.csv",
        )
    ]
    return Case(
        "run", index, argv, [f"lists:{n_lists}", f"methods:{','.join(methods)}", *done], planted, scan_files=scan
    )


BUILDERS: dict[str, Callable[[int, int, Path], Case]] = {
    "validate": case_validate,
    "estimate": case_estimate,
    "describe": case_describe,
    "compare": case_compare,
    "encode": case_encode,
    "simulate": case_simulate,
    "run": case_run,
}


# --- running one case in process -----------------------------------------------------------------


class CaseTimeout(BaseException):
    """Raised by the alarm: a BaseException, so that no `except Exception` in the code under test
    takes it for a failure of its own."""


@dataclasses.dataclass
class Outcome:
    command: str
    index: int
    argv: list[str]
    mutations: list[str]
    exit_code: int | None
    seconds: float  # wall clock
    cpu_seconds: float  # this process and the worker processes it waited for: the load of others left out
    uncaught: str | None  # "Type at module:line" for anything escaping main, or main's own exit-3 line
    timed_out: bool
    identifiers: list[dict[str, str]]
    library_warnings: int
    stderr_tail: str


@dataclasses.dataclass
class Call:
    """What one ``cli.main(argv)`` call did."""

    code: int | None
    out: str
    err: str
    seconds: float
    cpu_seconds: float
    escaped: str | None
    timed_out: bool


_INTERNAL = re.compile(r"cifranegra: internal error \((?P<what>[^)]*)\)")
WALL_FACTOR = 5  # a case is also stopped after this many times its CPU budget in wall-clock seconds
REARM_SECONDS = 30.0  # and again every so often if the code under test swallows the first stop


def _alarm(signum: int, frame: Any) -> None:
    """Stop the case: end the worker processes it started (code that joins its workers on the way
    out would otherwise wait for them), ring again in REARM_SECONDS in case the exception is
    swallowed, and raise."""
    import multiprocessing

    for child in multiprocessing.active_children():
        child.terminate()
    signal.setitimer(signal.ITIMER_REAL, REARM_SECONDS)
    raise CaseTimeout()


def _cpu() -> float:
    import resource

    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


@contextlib.contextmanager
def _environment(env: dict[str, str | None] | None) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in (env or {})}
    try:
        for k, v in (env or {}).items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@contextlib.contextmanager
def _limits(timeout: float) -> Iterator[None]:
    """CaseTimeout after ``timeout`` CPU seconds of this process (SIGPROF: the same on a busy machine
    as on an idle one), or after WALL_FACTOR times that in wall-clock seconds (a case that waits)."""
    if not timeout:
        yield
        return
    old_prof = signal.signal(signal.SIGPROF, _alarm)
    old_alrm = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_PROF, timeout)
    signal.setitimer(signal.ITIMER_REAL, timeout * WALL_FACTOR)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_PROF, 0)
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGPROF, old_prof)
        signal.signal(signal.SIGALRM, old_alrm)


def call_main(argv: list[str], timeout: float, env: dict[str, str | None] | None = None) -> Call:
    """``cifranegra.cli.main(argv)`` with stdout, stderr, warnings and logs captured and timed."""
    from cifranegra import cli

    out, err = io.StringIO(), io.StringIO()
    handler = logging.StreamHandler(err)
    root = logging.getLogger()
    root.addHandler(handler)
    code: int | None = None
    escaped: str | None = None
    timed_out = False
    t0, c0 = time.perf_counter(), _cpu()
    try:
        with (
            _environment(env),
            contextlib.redirect_stdout(out),
            contextlib.redirect_stderr(err),
            warnings.catch_warnings(),
        ):
            warnings.simplefilter("always")  # in one process a warning would otherwise show once
            try:
                with _limits(timeout):
                    code = cli.main(argv)
            except SystemExit as exc:  # argparse's usage errors and --help
                code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
            except CaseTimeout:
                timed_out = True
            except BaseException as exc:  # exactly what the harness counts
                if isinstance(exc, KeyboardInterrupt):
                    raise
                frames = traceback.extract_tb(exc.__traceback__)
                last = frames[-1] if frames else None
                where = f" at {Path(last.filename).name}:{last.lineno}" if last else ""
                escaped = f"{type(exc).__name__}{where}"
    finally:
        root.removeHandler(handler)
    seconds, cpu = time.perf_counter() - t0, _cpu() - c0
    if code == 3 and escaped is None:
        m = _INTERNAL.search(err.getvalue())
        escaped = m.group("what") if m else "exit code 3"
    return Call(code, out.getvalue(), err.getvalue(), seconds, cpu, escaped, timed_out)


def _stamp(path: str) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return None
    return (st.st_mtime_ns, st.st_size)


def _scan_file(path: str) -> str:
    p = Path(path)
    if not p.is_file():
        return ""
    if p.suffix == ".parquet":
        try:
            import pyarrow.parquet as pq

            table = pq.read_table(p)
            meta = b"".join((table.schema.metadata or {}).values()).decode("utf-8", "replace")
            return (
                meta + "\n" + table.drop_columns([c for c in ("clk",) if c in table.column_names]).to_pandas().to_csv()
            )
        except Exception:
            return p.read_bytes().decode("latin-1")
    if p.suffix == ".pdf":  # the report's text, as a reader would copy it
        try:
            done = subprocess.run(["pdftotext", str(p), "-"], capture_output=True, timeout=60, check=False)
            return done.stdout.decode("utf-8", "replace")
        except (OSError, subprocess.SubprocessError):
            return ""
    return p.read_bytes()[:5_000_000].decode("utf-8", "replace")


def run_case(case: Case, timeout: float, folder: Path | None = None) -> Outcome:
    """Run one case with ``folder`` (its files) as the working folder, so that stray relative
    writes land there; search the output and the files it wrote for the planted identifiers."""
    cwd = os.getcwd()
    before = {p: _stamp(p) for p in case.scan_files}
    with contextlib.suppress(OSError):
        os.chdir(folder if folder is not None and folder.is_dir() else tempfile.gettempdir())
    try:
        call = call_main(case.argv, timeout, case.env)
    finally:
        os.chdir(cwd)
    planted = case.planted
    if case.command == "simulate":  # the population just written: its names must not be printed
        planted = _simulated_persons(case.argv[1])
    text = call.out + "\n" + call.err
    hits = find_identifiers(text, planted)
    for path in case.scan_files:
        if Path(path).is_dir():  # a folder written by the call (a run's publish/): every file in it
            files = [str(f) for f in sorted(Path(path).rglob("*")) if f.is_file()]
        elif _stamp(path) == before[path]:
            continue  # not written by this call (an input named as the output stays an input)
        else:
            files = [path]
        for file in files:
            for h in find_identifiers(_scan_file(file), planted):
                h["kind"] = f"{h['kind']} in {Path(file).name}"
                hits.append(h)
    lib = call.err.count("(a library's message, not shown")
    return Outcome(
        case.command,
        case.index,
        case.argv,
        case.mutations,
        call.code,
        call.seconds,
        call.cpu_seconds,
        call.escaped,
        call.timed_out,
        hits,
        lib,
        call.err[-600:],
    )


def _simulated_persons(directory: str) -> Planted:
    planted = Planted()
    path = Path(directory) / "truth" / "persons.csv"
    if not path.is_file():
        return planted
    with contextlib.suppress(Exception):
        import pandas as pd

        people = pd.read_csv(path, dtype=str, keep_default_na=False).head(2000)
        for col in ("given_names", "first_surname", "second_surname"):
            for v in people[col]:
                planted.add_name(v)
        for v in people["curp"]:
            planted.add_curp(v)
        for v in people["birth_date"]:
            with contextlib.suppress(ValueError):
                planted.add_date(dt.date.fromisoformat(v), (dt.date(2023, 1, 1), dt.date(2023, 12, 31)))
    return planted


# --- self-test of the detector ------------------------------------------------------------------


def self_test() -> list[str]:
    """Plant identifiers in made-up outputs (and in a real command's output) and check that the
    detector flags them, and that code-list words and numbers are not flagged; returns failures."""
    failures: list[str] = []
    p = Planted()
    p.add_name("María Fernanda Pérez Guerrero Chan")  # Guerrero and Chan are not counted (a state, an author)
    p.add_curp("GOOF160325MTCNRRA3")
    p.add_date(dt.date(2000, 4, 7))
    must_flag = {
        "name in text": "error: row 3, column 'state': 'Fernanda' is not a state",
        "name accents lost": "sex 'MARIA' unknown",
        "name in escaped JSON": json.dumps({"message": "sexo 'Pérez' no reconocido"}),
        "full CURP": "curp GOOF160325MTCNRRA3 invalid",
        "CURP piece": "value 'OOF160…' masked badly",
        "CURP letters piece": "x MTCNRR y",
        "ISO date": "birth date 2000-04-07 is odd",
        "day-first date": "fecha 07/04/2000",
        "short date": "cell 7-4-00 unparsed",
        "Spanish date": "7 de abril de 2000",
        "compact date": "20000407",
    }
    for label, text in must_flag.items():
        if not find_identifiers(text, p):
            failures.append(f"not flagged: {label}")
    must_pass = {
        "state name": "state 'Guerrero' recognised",
        "numbers": "estimate 1600325.4 observed 20000",
        "hash": "sha256 9a1600325b",
        "record number": "DIF-2023-160325",
        "cited author": "no extended MLE (status 1, Chan, Silverman & Vincent 2021)",
        "digest": '"input_fingerprint": "9a0f160325bb77c1de0f44aa"',
        "float digits": "214.160325000",
        "short words": "Ana Paz",
    }
    for label, text in must_pass.items():
        hits = find_identifiers(text, p)
        if hits:
            failures.append(f"flagged wrongly: {label}: {hits}")
    # through the real CLI: a command that prints a planted name must be flagged by run_case
    import cifranegra.cli.simulate as sim_cmd

    original = sim_cmd.run
    try:
        sim_cmd.run = lambda args: print("persona: Fernanda Pérez") or 0  # type: ignore[assignment]
        outcome = run_case(Case("validate", 0, ["simulate", "/tmp/x"], [], p), timeout=30)
        if not any(h["kind"] == "name" for h in outcome.identifiers):
            failures.append("not flagged through cifranegra.cli.main")

        def boom(args: Any) -> int:
            raise KeyError("x")

        sim_cmd.run = boom  # type: ignore[assignment]
        outcome = run_case(Case("validate", 0, ["simulate", "/tmp/x"], [], p), timeout=30)
        if not outcome.uncaught or "KeyError" not in outcome.uncaught:
            failures.append(f"an exit-3 internal error not counted as uncaught: {outcome.uncaught!r}")
    finally:
        sim_cmd.run = original  # type: ignore[assignment]
    return failures


# --- the campaign ---------------------------------------------------------------------------------


def plan(n: int, commands: list[str], run_cases: int) -> dict[str, int]:
    """Cases per command: ``n`` shared by the weights, ``run`` capped, the rest given to validate."""
    total_w = sum(WEIGHTS[c] for c in commands)
    counts = {c: max(1, round(n * WEIGHTS[c] / total_w)) for c in commands}
    if "run" in counts and counts["run"] > run_cases:
        spare = counts["run"] - run_cases
        counts["run"] = run_cases
        receiver = next((c for c in ("validate", "estimate", "describe") if c in counts), None)
        if receiver:
            counts[receiver] += spare
    short = n - sum(counts.values())
    if short > 0:
        receiver = next(
            (c for c in ("validate", "estimate", "describe", *commands) if c in counts and c != "run"), None
        )
        if receiver:
            counts[receiver] += short
    return counts


def build_case(command: str, seed: int, index: int, folder: Path) -> Case:
    """The input ``index`` of ``command`` for campaign ``seed``, its files written in ``folder``."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the writers' own complaints about odd cells
        return BUILDERS[command](seed, index, folder)


def campaign(args: argparse.Namespace) -> dict[str, Any]:
    commands = [c.strip() for c in args.commands.split(",") if c.strip()]
    unknown = [c for c in commands if c not in BUILDERS]
    if unknown:
        raise SystemExit(f"unknown command(s) {unknown}; choose among {', '.join(COMMANDS)}")
    counts = plan(args.n, commands, args.run_cases)
    stats: dict[str, dict[str, Any]] = defaultdict(
        lambda: {
            "inputs": 0,
            "exit_codes": Counter(),
            "uncaught": 0,
            "identifiers": 0,
            "over_30s": 0,  # CPU seconds (this process and its workers): fair on a shared machine
            "over_30s_wall": 0,
            "timed_out": 0,
            "library_warnings": 0,
            "seconds": 0.0,
            "cpu_seconds": 0.0,
            "max_seconds": 0.0,
            "max_cpu_seconds": 0.0,
            "refusals": Counter(),
        }
    )
    findings: list[dict[str, Any]] = []
    t_start = time.perf_counter()
    order = [(c, i) for c in commands for i in range(counts[c])]
    random.Random(args.seed).shuffle(order)  # interleave commands: state left by one shows in others
    done = 0
    current = Path(f"{args.out}.current")  # the case running now, for a run that hangs
    for command, index in order:
        current.write_text(f"{command}:{index}\n")
        with tempfile.TemporaryDirectory(prefix="cifranegra-fuzz-") as tmp:
            folder = Path(tmp)
            try:
                case = build_case(command, args.seed, index, folder)
            except Exception as exc:  # a harness bug: report it, do not count it against the package
                findings.append({"command": command, "index": index, "harness_error": repr(exc)})
                continue
            outcome = run_case(case, args.timeout, folder)
        s = stats[command]
        s["inputs"] += 1
        s["exit_codes"][str(outcome.exit_code)] += 1
        s["seconds"] += outcome.seconds
        s["cpu_seconds"] += outcome.cpu_seconds
        s["max_seconds"] = max(s["max_seconds"], outcome.seconds)
        s["max_cpu_seconds"] = max(s["max_cpu_seconds"], outcome.cpu_seconds)
        s["library_warnings"] += bool(outcome.library_warnings)
        bad = False
        if outcome.uncaught:
            s["uncaught"] += 1
            bad = True
        if outcome.identifiers:
            s["identifiers"] += 1
            bad = True
        if outcome.cpu_seconds > SLOW_SECONDS or outcome.timed_out:
            s["over_30s"] += 1
            bad = True
        s["over_30s_wall"] += outcome.seconds > SLOW_SECONDS
        if outcome.timed_out:
            s["timed_out"] += 1
        if outcome.exit_code == 2:
            s["refusals"][_message_kind(outcome.stderr_tail, tmp)] += 1
        if bad:
            rec = dataclasses.asdict(outcome)
            rec["argv"] = [a.replace(tmp, "<case>") for a in rec["argv"]]
            rec["reproduce"] = f"python bench/fuzz.py --seed {args.seed} --case {command}:{index} --keep /tmp/case"
            rec["identifiers"] = rec["identifiers"][:5]
            findings.append(rec)
        done += 1
        if args.progress and done % args.progress == 0:
            el = time.perf_counter() - t_start
            print(f"  {done}/{len(order)} cases, {el:,.0f} s", file=sys.stderr, flush=True)
    current.unlink(missing_ok=True)
    total = time.perf_counter() - t_start
    report = {
        "command_line": " ".join(sys.argv),
        "seed": args.seed,
        "n": args.n,
        "cases_per_command": counts,
        "total_seconds": round(total, 1),
        "per_command": {
            c: {
                **v,
                "exit_codes": dict(v["exit_codes"]),
                "seconds": round(v["seconds"], 1),
                "cpu_seconds": round(v["cpu_seconds"], 1),
                "max_seconds": round(v["max_seconds"], 2),
                "max_cpu_seconds": round(v["max_cpu_seconds"], 2),
                "refusals": dict(v["refusals"].most_common(25)),
            }
            for c, v in stats.items()
        },
        "totals": {
            k: sum(v[k] for v in stats.values())
            for k in ("inputs", "uncaught", "identifiers", "over_30s", "over_30s_wall", "timed_out", "library_warnings")
        },
        "findings": findings,
    }
    return report


def _message_kind(stderr: str, folder: str) -> str:
    """The refusal's first line with paths and numbers blanked: what kind of refusal it was."""
    all_lines = stderr.splitlines()
    lines = [i for i, ln in enumerate(all_lines) if "error" in ln]
    if not lines:
        return (all_lines[-1] if all_lines else "")[:110]
    line = all_lines[lines[0]]
    if line.rstrip().endswith(":") and lines[0] + 1 < len(all_lines):  # "... (2 error(s)):" then the first
        line += " " + all_lines[lines[0] + 1].strip()
    line = line.replace(folder, "<case>")
    line = re.sub(r"'[^']*'", "'…'", line)
    return re.sub(r"\d+", "N", line)[:200]


def print_table(report: dict[str, Any]) -> None:
    """The per-command table: inputs, uncaught, identifiers printed, runs over 30 CPU seconds (and
    over 30 wall seconds), time-outs, cases with a withheld library warning, mean and max CPU
    seconds, exit codes."""
    cols = f"{'command':10s} {'inputs':>7s} {'uncaught':>9s} {'identif.':>9s} {'>30s cpu':>8s} {'>30s wall':>9s}"
    head = f"{cols} {'t.out':>5s} {'lib.warn':>8s} {'mean cpu':>8s} {'max cpu':>8s}  exit codes"
    print(head)
    print("-" * len(head))
    for c, v in report["per_command"].items():
        mean = v["cpu_seconds"] / max(v["inputs"], 1)
        codes = " ".join(f"{k}:{n}" for k, n in sorted(v["exit_codes"].items()))
        print(
            f"{c:10s} {v['inputs']:>7d} {v['uncaught']:>9d} {v['identifiers']:>9d} {v['over_30s']:>8d} "
            f"{v['over_30s_wall']:>9d} {v['timed_out']:>5d} {v['library_warnings']:>8d} {mean:>8.2f} "
            f"{v['max_cpu_seconds']:>8.1f}  {codes}"
        )
    t = report["totals"]
    print("-" * len(head))
    print(
        f"{'total':10s} {t['inputs']:>7d} {t['uncaught']:>9d} {t['identifiers']:>9d} {t['over_30s']:>8d} "
        f"{t['over_30s_wall']:>9d} {t['timed_out']:>5d} {t['library_warnings']:>8d}   "
        f"total {report['total_seconds']:,.0f} s wall"
    )
    kinds = Counter((f.get("uncaught") or "") for f in report["findings"] if f.get("uncaught"))
    if kinds:
        print("\nuncaught exceptions by kind:")
        for k, n in kinds.most_common(30):
            print(f"  {n:5d}  {k}")
    leaks = Counter(h["kind"] for f in report["findings"] for h in f.get("identifiers", []))
    if leaks:
        print("\nidentifiers printed by kind (cases):", dict(leaks))


def one_case(args: argparse.Namespace) -> int:
    command, _, index = args.case.partition(":")
    keep = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="cifranegra-case-"))
    if keep.exists():
        shutil.rmtree(keep)
    keep.mkdir(parents=True)
    case = build_case(command, args.seed, int(index), keep)
    print("argv:", json.dumps(case.argv, ensure_ascii=False))
    print("mutations:", case.mutations)
    call = call_main(case.argv, args.timeout, case.env)
    print(
        f"exit {call.code} in {call.seconds:.2f} s ({call.cpu_seconds:.2f} CPU s); uncaught: {call.escaped}; "
        f"timed out: {call.timed_out}"
    )
    print("--- stdout ---\n" + call.out[-4000:])
    print("--- stderr ---\n" + call.err[-4000:])
    hits = find_identifiers(
        call.out + "\n" + call.err, case.planted if command != "simulate" else _simulated_persons(case.argv[1])
    )
    print("identifiers:", json.dumps(hits[:10], ensure_ascii=False))
    print(f"files kept in {keep}")
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seed", type=int, default=1, help="campaign seed (cases are deterministic by seed)")
    ap.add_argument("--n", type=int, default=10_000, help="inputs in all (default 10,000)")
    ap.add_argument("--commands", default=",".join(COMMANDS), help="comma-separated commands (default all)")
    ap.add_argument("--run-cases", type=int, default=200, help="at most this many `run` cases (default 200)")
    ap.add_argument(
        "--timeout",
        type=float,
        default=120.0,
        help="CPU seconds before one case is abandoned (default 120; wall clock: 5 times that)",
    )
    ap.add_argument(
        "--memory-gb",
        type=float,
        default=8.0,
        help="address-space limit of this process, so a runaway allocation is a MemoryError (default 8)",
    )
    ap.add_argument("--out", default="fuzz-report.json", help="JSON report (default fuzz-report.json)")
    ap.add_argument("--progress", type=int, default=250, help="a progress line every N cases (0: none)")
    ap.add_argument("--case", help="run one case COMMAND:INDEX and show everything")
    ap.add_argument("--keep", help="with --case: keep its files in this folder")
    ap.add_argument("--self-test", action="store_true", help="check the identifier detector and stop")
    ap.add_argument("--quick", action="store_true", help="fast options only, as tests/cli/test_fuzz.py")
    args = ap.parse_args(argv)
    global QUICK
    QUICK = QUICK or args.quick
    if args.memory_gb > 0:
        import resource

        limit = int(args.memory_gb * 2**30)
        resource.setrlimit(resource.RLIMIT_AS, (limit, resource.getrlimit(resource.RLIMIT_AS)[1]))
    logging.getLogger("splink").setLevel(logging.WARNING)
    if args.self_test:
        failures = self_test()
        print("self-test:", failures or "OK")
        return 1 if failures else 0
    if args.case:
        return one_case(args)
    failures = self_test()
    if failures:
        print("the identifier detector fails its self-test:", failures, file=sys.stderr)
        return 1
    report = campaign(args)
    Path(args.out).write_text(json.dumps(report, indent=1, ensure_ascii=False, default=str) + "\n", encoding="utf-8")
    print_table(report)
    print(f"\nreport: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
