"""No identifier in any message: agency lists built from people (realistic Mexican names, valid-looking
CURPs, birth dates) and broken the ways real exports break (fields shifted, swapped, dropped or
added, unquoted commas in surnames, stray quotes, no header row); no name, CURP or birth date may
appear in a problem, in ``str(ValidationError)``, in the report's JSON, or in ``cifranegra
validate``'s output (text and ``--json``)."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import cifranegra
from cifranegra import cli
from cifranegra.errors import InputError, ValidationError
from cifranegra.ingest import read_list, validate_files
from cifranegra.schema import curp_check_digit, curp_prefix, fold_text
from cifranegra.schema.records import shown_value


def _vocabulary() -> frozenset[str]:
    """Every word of 4+ letters in the package's own source and data (message templates, field
    names, code lists): a name token that is one of these may appear in a message for its own
    reason, so the people below are made of other words."""
    root = Path(cifranegra.__file__).parent
    words: set[str] = set()
    for path in [*root.rglob("*.py"), *root.rglob("*.csv")]:
        text = fold_text(path.read_text(encoding="utf-8", errors="ignore"))
        words.update(re.findall(r"[A-ZÑ]{4,}", text))
    return frozenset(words)


VOCABULARY = _vocabulary()
GIVEN = [
    "Zorbalinda", "Xóchitl", "Itzayana", "Citlalli", "Yaretzi", "Maricruz", "Anahí", "Eréndira",
    "Brígida", "Nayeli", "Quetzalli", "Rigoberta", "Wendolyne", "Yesenia", "Fulgencio",
    "Eleuterio", "Tranquilino", "Cuauhtémoc", "Nezahualcóyotl", "Leobardo",
]
SURNAMES = [
    "Quintanilla", "Xicoténcatl", "Zúñiga", "Ocampo", "Tlatelpa", "Huitrón", "Cuevas",
    "Barragán", "Yáñez", "Villaseñor", "Bustamante", "Zamudio", "Escobedo", "Tapia", "Olguín",
    "Arellano", "Cervantes", "Ibarra", "Mondragón", "Lizárraga",
]
STATES = ["Veracruz", "CDMX", "Chiapas", "07", "Jalisco", "Oaxaca", "Puebla"]
FORMS = ["Explotación sexual", "III", "Trabajo forzado", "Mendicidad", "no especificado"]
HEADER = [
    "Folio", "Nombre(s)", "Primer apellido", "Segundo apellido", "Fecha de nacimiento", "Sexo",
    "CURP", "Entidad federativa", "Tipo de explotación", "Edad", "Nacionalidad", "Fecha de registro",
]


def _token(letters: str) -> bool:
    word = fold_text(letters)
    return len(word) >= 4 and word not in VOCABULARY


_random_name = st.text(alphabet="abcdefghijklmnopqrstuvwxyzñáéíóú", min_size=4, max_size=10).map(
    str.capitalize
).filter(_token)
_given = st.one_of(st.sampled_from(GIVEN), _random_name)
_surname = st.one_of(st.sampled_from(SURNAMES), _random_name)


@st.composite
def people(draw: st.DrawFn) -> dict[str, str]:
    given = draw(st.lists(_given, min_size=1, max_size=2)).copy()
    first, second = draw(_surname), draw(_surname)
    birth = draw(st.dates(dt.date(1950, 1, 1), dt.date(2015, 12, 31)))
    sex = draw(st.sampled_from(["female", "male"]))
    state = draw(st.sampled_from(["09", "07", "30", "14", "20", None]))
    prefix = curp_prefix(" ".join(given), first, second, birth, sex, state)
    first17 = prefix + ("0" if birth.year < 2000 else "A")
    return {
        "given": " ".join(given),
        "first": first,
        "second": second,
        "birth": draw(st.sampled_from([birth.strftime("%d/%m/%Y"), birth.isoformat()])),
        "curp": first17 + curp_check_digit(first17),
        "sex": "M" if sex == "female" else "H",
    }


def _row(person: dict[str, str], i: int, data: st.DataObject) -> list[str]:
    return [
        str(i), person["given"], person["first"], person["second"], person["birth"], person["sex"],
        person["curp"], data.draw(st.sampled_from(STATES)), data.draw(st.sampled_from(FORMS)),
        data.draw(st.sampled_from(["", "17", "34", "150"])),
        data.draw(st.sampled_from(["", "Mexicana", "GTM", "Hondureña"])),
        data.draw(st.sampled_from(["01/03/2023", "2023-05-06", ""])),
    ]


MUTATIONS = ("none", "extra", "missing", "swap", "comma", "quote", "shift")


def _mutate(cells: list[str], person: dict[str, str], how: str, data: st.DataObject) -> list[str]:
    """One way a row of an agency export breaks."""
    cells = list(cells)
    n = len(cells)
    secret = data.draw(st.sampled_from([person["curp"], person["given"], person["birth"], "x"]))
    if how == "extra":
        cells.insert(data.draw(st.integers(0, n)), secret)
    elif how == "missing":
        del cells[data.draw(st.integers(0, n - 1))]
    elif how == "swap":
        i, j = data.draw(st.integers(0, n - 1)), data.draw(st.integers(0, n - 1))
        cells[i], cells[j] = cells[j], cells[i]
    elif how == "comma":  # "Cuevas, Tapia" written without quotes
        cells[2] = f"{cells[2]}, {cells[3]}"
    elif how == "quote":  # a stray opening quote swallows the separators after it
        k = data.draw(st.integers(0, n - 1))
        cells[k] = '"' + cells[k]
    elif how == "shift":  # every value one column to the right of its header
        cells = [secret, *cells[:-1]]
    return cells


def _secrets(persons: list[dict[str, str]]) -> tuple[set[str], set[str]]:
    """(strings that must not appear verbatim, folded name tokens that must not appear as words)."""
    verbatim: set[str] = set()
    tokens: set[str] = set()
    for p in persons:
        verbatim.add(p["birth"])
        curp = p["curp"]
        for a in range(len(curp)):
            for b in range(a + 4, len(curp) + 1):
                piece = curp[a:b]
                if re.search(r"[A-Z]", piece):  # digits alone are a piece of a date, not an id
                    verbatim.add(piece.upper())
        for name in (p["given"], p["first"], p["second"]):
            for word in re.findall(r"[A-ZÑ]{4,}", fold_text(name)):
                quotable = not shown_value(word).endswith("***")  # a code-list word
                if word not in VOCABULARY and not quotable:
                    tokens.add(word)
    return verbatim, tokens


def _assert_clean(text: str, path: Path, verbatim: set[str], tokens: set[str], what: str) -> None:
    text = text.replace(str(path), "<FILE>")
    text = re.sub(r"\b[0-9a-f]{64}\b", "<SHA256>", text)  # the file's digest in provenance
    folded = fold_text(text)
    for s in verbatim:
        if len(s) >= 8:
            assert s.upper() not in folded, f"{what} shows {s!r}:\n{text}"
        else:  # a short piece of a CURP ('STRA') may sit inside a word of our own ('REGISTRATION_DATE')
            assert not re.search(rf"(?<![A-Z0-9]){re.escape(s.upper())}(?![A-Z0-9])", folded.upper()), \
                f"{what} shows {s!r}:\n{text}"
    for word in tokens:
        assert not re.search(rf"(?<![A-ZÑ]){word}(?![A-ZÑ])", folded), f"{what} shows {word!r}:\n{text}"


@pytest.fixture
def only_validate(monkeypatch):
    monkeypatch.setattr(cli, "_COMMANDS", ("validate",))


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    persons=st.lists(people(), min_size=1, max_size=5),
    data=st.data(),
    sep=st.sampled_from([",", ";"]),
    header=st.sampled_from(["header", "none", "overwritten"]),
    unrecognised=st.sampled_from(["error", "unknown"]),
)
def test_no_identifier_in_any_message(
    tmp_path, capsys, only_validate, persons, data, sep, header, unrecognised
):
    if header == "header":
        lines = [sep.join(HEADER)]
    elif header == "none":  # the first record stands where the headers should be
        lines = []
    else:  # a record typed over the end of the header row
        cut = data.draw(st.integers(3, len(HEADER) - 1))
        lines = [sep.join(HEADER[:cut] + _row(persons[0], 0, data)[cut:])]
    for i, person in enumerate(persons, start=1):
        how = data.draw(st.sampled_from(MUTATIONS))
        cells = _mutate(_row(person, i, data), person, how, data)
        lines.append(sep.join(cells))
    path = tmp_path / "lista.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    verbatim, tokens = _secrets(persons)

    report = validate_files([path], on_unrecognised=unrecognised)
    for p in report.problems:
        _assert_clean(str(p), path, verbatim, tokens, "a problem")
    _assert_clean(json.dumps(report.to_dict(), ensure_ascii=False), path, verbatim, tokens, "to_dict")
    try:
        read_list(path, on_unrecognised=unrecognised)
    except (ValidationError, InputError) as exc:
        _assert_clean(str(exc), path, verbatim, tokens, type(exc).__name__)

    for extra in ([], ["--json"]):
        code = cli.main(["validate", str(path), "--unrecognised", unrecognised, *extra])
        out = capsys.readouterr()
        assert code in (0, 1, 2)
        _assert_clean(out.out + out.err, path, verbatim, tokens, f"validate {' '.join(extra)}")


def test_the_issue_cases_print_no_identifier(tmp_path, capsys, only_validate):
    """The rows of issue #12: a CURP in the state column, a given name in the sex column, an extra
    field, a missing one; and a list without a header row."""
    header = "nombre,primer_apellido,curp,sexo,estado\n"
    cases = {
        "extra.csv": header + "Maria,Lopez,LOPM900101MDFPRR09,M,CDMX,extra\n",
        "missing.csv": header + "Maria,Lopez,LOPM900101MDFPRR09,M\n",
        "swapped.csv": header + "Zorbalinda,Lopez,QUIZ900101MDFRRR09,Zorbalinda,QUIZ900101MDFRRR09\n",
        "noheader.csv": "Zorbalinda,Quintanilla,QUIZ900101MDFRRR09,M,CDMX\n"
        "Xochitl,Ocampo,OAXX900101MDFCRC01,M,CDMX\n",
    }
    for name, text in cases.items():
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        for extra in ([], ["--json"]):
            cli.main(["validate", str(path), *extra])
            out = capsys.readouterr()
            shown = out.out + out.err
            for secret in ("LOPM", "QUIZ", "OAXX", "Zorbalinda", "Quintanilla", "Xochitl", "Maria,"):
                assert secret not in shown, (name, secret, shown)
    # the misaligned rows are reported as such, by their field counts alone
    report = validate_files([tmp_path / "extra.csv", tmp_path / "missing.csv"])
    misaligned = [p for p in report.problems if p.code == "malformed_row"]
    assert [(p.row, "6 fields" in p.message or "4 fields" in p.message) for p in misaligned] == [
        (1, True), (1, True)]
    # and nothing else is said about their cells (they sit under the wrong headers)
    assert all(p.row is None for p in report.problems if p.code != "malformed_row")
    # the swapped row: values not quoted, masked
    swapped = validate_files([tmp_path / "swapped.csv"])
    by_code = {p.code: p.message for p in swapped.problems}
    assert "sex Zo*** is not recognised" in by_code["invalid_sex"]
    assert "state QU*** is not a Mexican federal entity" in by_code["invalid_state"]
    # no header row: the first record stands where the headers should be, and is not echoed
    noheader = validate_files([tmp_path / "noheader.csv"])
    assert noheader.exit_code == 2 and "add one" in noheader.unusable[0].message


def test_known_codes_are_quoted_anything_else_masked():
    """The one rule: a cell is quoted when it is a code-list value (it helps: a state in the sex
    column means the columns are shifted) or a number of at most three digits."""
    assert shown_value("CDMX") == "'CDMX'" and shown_value("Explotación sexual") == "'Explotación sexual'"
    assert shown_value("150") == "'150'" and shown_value(150.0) == "'150.0'"
    assert shown_value("Zorbalinda") == "Zo***"
    assert shown_value("QUIZ900101MDFRRR09") == "QU***"
    assert shown_value("27/04/1956") == "27***"
    assert shown_value("1956") == "19***"  # a birth year, not a code
    assert shown_value("Ana") == "An***"  # three letters: not taken as a nationality code
    assert shown_value("CDMX", identifying=True) == "CD***"


def test_a_file_that_is_not_a_list_is_never_echoed(tmp_path, capsys, only_validate):
    passwd = tmp_path / "passwd"
    passwd.write_text(
        "root:x:0:0:root:/root:/bin/bash\nzorbalinda:x:1000:1000:Zorbalinda Quintanilla,,,:"
        "/home/zorbalinda:/bin/bash\n"
    )
    for extra in ([], ["--json"]):
        code = cli.main(["validate", str(passwd), *extra])
        out = capsys.readouterr()
        assert code == 2
        shown = (out.out + out.err).replace(str(passwd), "<FILE>")
        assert "root" not in shown and "orbalinda" not in shown and "bash" not in shown
