"""Header mapping: an agency's column names → the schema's canonical fields.

Spanish and English synonyms are recognised (``"Primer apellido"``, ``"Apellido paterno"``,
``"Fecha de nacimiento"``, ``"Entidad federativa"``, ``"Sexo"``...); anything else is named in an
explicit mapping file, JSON::

    {"columns": {"NOM_VICT": "given_names", "AP1": "first_surname"},
     "source": "ong_x", "sex_convention": "es", "dayfirst": true}

or CSV with two columns ``column,field``.
"""

from __future__ import annotations

import csv
import difflib
import io
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from cifranegra.errors import InputError, Problem
from cifranegra.schema import INPUT_FIELDS, fold_text, mask_value

__all__ = [
    "HEADER_SYNONYMS",
    "ColumnMapping",
    "header_key",
    "header_label",
    "load_mapping",
    "map_columns",
]

HEADER_SYNONYMS: dict[str, tuple[str, ...]] = {
    "source": (
        "agencia",
        "institucion",
        "fuente",
        "dependencia",
        "source",
        "agency",
        "organizacion",
        "organization",
    ),
    "record_id": (
        "id",
        "folio",
        "expediente",
        "numero de expediente",
        "no expediente",
        "num expediente",
        "id registro",
        "registro",
        "id de registro",
        "record id",
        "case id",
        "case number",
        "carpeta de investigacion",
        "id victima",
        "id de la victima",
        "clave",
        "folio victima",
        "numero de caso",
        "no caso",
        "id caso",
        "num caso",
        "record",
        "id persona",
    ),
    "registration_date": (
        "fecha de registro",
        "fecha registro",
        "fecha de identificacion",
        "fecha de atencion",
        "fecha de ingreso",
        "fecha ingreso",
        "fecha",
        "registration date",
        "date registered",
        "date of registration",
        "date of identification",
        "identification date",
        "intake date",
        "fecha de denuncia",
        "fecha de canalizacion",
        "fecha alta",
        "fecha de alta",
        "fecha de llamada",
        "call date",
        "date",
        "fecha de inicio",
        "fecha inicio",
        "fecha de apertura",
        "fecha del registro",
    ),
    "full_name": (
        "nombre completo",
        "full name",
        "nombre y apellidos",
        "nombre de la victima",
        "name of victim",
        "victim name",
    ),
    "given_names": (
        "nombre",
        "nombres",
        "nombre s",
        "nombre de pila",
        "given name",
        "given names",
        "first name",
        "first names",
        "forename",
        "forenames",
        "name",
    ),
    "first_surname": (
        "primer apellido",
        "apellido paterno",
        "ap paterno",
        "paterno",
        "apellido 1",
        "apellido1",
        "first surname",
        "paternal surname",
        "last name",
        "surname",
        "apellido",
        "father s surname",
        "primer ap",
    ),
    "second_surname": (
        "segundo apellido",
        "apellido materno",
        "ap materno",
        "materno",
        "apellido 2",
        "apellido2",
        "second surname",
        "maternal surname",
        "mother s surname",
        "second last name",
        "segundo ap",
    ),
    "birth_date": (
        "fecha de nacimiento",
        "fecha nacimiento",
        "f nacimiento",
        "fec nac",
        "fecha nac",
        "f nac",
        "nacimiento",
        "birth date",
        "date of birth",
        "dob",
        "birthdate",
    ),
    "birth_year": ("ano de nacimiento", "anio de nacimiento", "birth year", "year of birth"),
    "age": (
        "edad",
        "edad anos",
        "edad en anos",
        "edad al registro",
        "edad cumplida",
        "age",
        "age at registration",
        "age years",
        "age in years",
    ),
    "sex": ("sexo", "sex", "genero", "gender", "sexo de la victima"),
    "gender_identity": ("identidad de genero", "gender identity"),
    "curp": ("curp", "clave unica de registro de poblacion", "clave curp"),
    "nationality": (
        "nacionalidad",
        "pais de origen",
        "pais de nacionalidad",
        "nationality",
        "citizenship",
        "country of citizenship",
        "country of origin",
    ),
    "indigenous": (
        "indigena",
        "pertenece a pueblo indigena",
        "poblacion indigena",
        "persona indigena",
        "indigenous",
        "pueblo indigena",
    ),
    "afro_mexican": (
        "afromexicana",
        "afromexicano",
        "afrodescendiente",
        "afromexicana o",
        "afro mexican",
        "afro descendant",
        "afrodescendant",
    ),
    "state": (
        "entidad federativa",
        "entidad",
        "estado",
        "entidad de identificacion",
        "estado de identificacion",
        "entidad federativa de identificacion",
        "ent",
        "cve ent",
        "clave entidad",
        "state",
        "state of identification",
        "edo",
    ),
    "municipality": (
        "municipio",
        "alcaldia",
        "municipio o alcaldia",
        "municipio alcaldia",
        "municipality",
        "cve mun",
        "clave municipio",
    ),
    "exploitation": (
        "tipo de explotacion",
        "forma de explotacion",
        "formas de explotacion",
        "modalidad",
        "modalidad de explotacion",
        "fin de explotacion",
        "finalidad de explotacion",
        "exploitation",
        "type of exploitation",
        "types of exploitation",
        "form of exploitation",
        "forms of exploitation",
    ),
}


def header_key(header: str) -> str:
    """Comparison form of a header: folded, lower case, non-alphanumerics as single spaces."""
    return re.sub(r"[^a-z0-9ñ]+", " ", fold_text(str(header)).lower()).strip()


_SYNONYM_INDEX = {header_key(s): f for f, syns in HEADER_SYNONYMS.items() for s in syns}
_SYNONYM_INDEX.update({header_key(f): f for f in HEADER_SYNONYMS})


def header_label(header: str, mapping: ColumnMapping | None = None) -> str | None:
    """The field a header is recognised as (a synonym, a field name, or a column named in the
    mapping), else ``None``. Only recognised headers are quoted in messages: in a file without
    a header row the "headers" are the first record's values."""
    key = header_key(header)
    if mapping is not None:
        for k, v in mapping.columns.items():
            if header_key(k) == key:
                return v
    return _SYNONYM_INDEX.get(key)


def shown_header(header: str, position: int | None = None) -> str:
    """How an unrecognised header appears in a message: masked, with its position if known
    (``"column 3 ('Ob***')"``)."""
    masked = mask_value(header)
    return f"column {position} ({masked})" if position is not None else masked


@dataclass(frozen=True)
class ColumnMapping:
    """An explicit mapping file's content."""

    columns: Mapping[str, str] = field(default_factory=dict)  # file header → canonical field
    source: str | None = None
    sex_convention: str | None = None  # "es" (M = mujer) or "en" (M = male)
    dayfirst: bool = True
    path: str | None = None

    def __post_init__(self) -> None:
        if self.sex_convention not in (None, "es", "en"):
            raise InputError(f"sex_convention must be 'es' or 'en', not {self.sex_convention!r}")
        if not isinstance(self.dayfirst, bool):
            raise InputError(f"dayfirst must be true or false, not {self.dayfirst!r}")


def load_mapping(path: str | Path | Mapping[str, object] | None) -> ColumnMapping:
    """Read a mapping file (JSON object or two-column CSV ``column,field``), or take a dict."""
    if path is None:
        return ColumnMapping()
    if isinstance(path, ColumnMapping):
        return path
    if isinstance(path, Mapping):
        return _from_dict(dict(path), None)
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise InputError(f"{p}: the mapping file cannot be read ({exc.strerror})") from None
    except UnicodeDecodeError:
        raise InputError(
            f"{p}: the mapping file is not UTF-8 text; a mapping is a JSON object or a CSV of "
            "column,field rows"
        ) from None
    if p.suffix.lower() == ".json" or text.lstrip().startswith("{"):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InputError(f"{p}: the mapping file is not valid JSON ({exc})") from None
        if not isinstance(data, dict):
            raise InputError(f"{p}: the mapping file must hold a JSON object")
        return _from_dict(data, str(p), quote_unknown=True)
    rows = [r for r in csv.reader(io.StringIO(text)) if r and any(x.strip() for x in r)]
    if rows and header_key(rows[0][0]) in ("column", "columna", "header"):
        rows = rows[1:]
    cols = {}
    for number, r in enumerate(rows, start=1):
        if len(r) != 2 and not (len(r) > 2 and not any(x.strip() for x in r[2:])):
            raise InputError(
                f"{p}: each mapping row needs two cells, column,field; row {number} has "
                f"{len(r)}: is this a list rather than a mapping file?"
            )
        cols[r[0].strip()] = r[1].strip()
    return _from_dict({"columns": cols}, str(p), quote_unknown=False)


def _from_dict(
    data: dict[str, object], path: str | None, *, quote_unknown: bool = True
) -> ColumnMapping:
    """The mapping in ``data``; unknown field names are quoted when ``quote_unknown`` (a JSON
    object or dict is configuration), else only when close to a field name (a CSV given as a
    mapping by mistake may be a list of people)."""
    columns = data.get("columns", {})
    if not isinstance(columns, dict):
        raise InputError(f"{path or 'mapping'}: 'columns' must map file headers to fields")
    unknown = sorted({str(v) for v in columns.values() if v not in INPUT_FIELDS and v != "ignore"})
    if unknown:
        raise InputError(
            f"{path or 'mapping'}: unknown field(s) "
            f"{', '.join(repr(u) if quote_unknown else _unknown_field(u) for u in unknown)}; "
            "the fields are "
            f"{', '.join(INPUT_FIELDS)} (or 'ignore')"
        )
    extra = sorted(str(k) for k in data if k not in _MAPPING_KEYS)
    if extra:  # a misspelt key ("dayFirst") would be ignored and its setting silently left at the default
        raise InputError(f"{path or 'mapping'}: unknown key(s) {', '.join(map(repr, extra))}; a mapping file "
                         f"holds {', '.join(_MAPPING_KEYS)}")
    conv = data.get("sex_convention")
    if conv not in (None, "es", "en"):
        raise InputError(f"{path or 'mapping'}: sex_convention must be 'es' or 'en', not {conv!r}")
    dayfirst = data.get("dayfirst", True)
    if not isinstance(dayfirst, bool):  # bool("false") is True: dates would be read day-first unannounced
        raise InputError(f"{path or 'mapping'}: dayfirst must be true or false (JSON, without quotes), "
                         f"not {dayfirst!r}")
    return ColumnMapping(
        columns={str(k): str(v) for k, v in columns.items()},
        source=None if data.get("source") is None else str(data["source"]),
        sex_convention=None if conv is None else str(conv),
        dayfirst=dayfirst,
        path=path,
    )


_MAPPING_KEYS = ("columns", "source", "sex_convention", "dayfirst")


def _unknown_field(value: str) -> str:
    """An unknown field name as a message may show it: in full when it is close to a field name
    (a typo), else masked (a list given as a mapping file by mistake holds data)."""
    close = difflib.get_close_matches(value, [*INPUT_FIELDS, "ignore"], n=1, cutoff=0.75)
    if close:
        return f"{value!r} (did you mean {close[0]}?)"
    return mask_value(value)


def map_columns(
    headers: list[str], mapping: ColumnMapping | None = None, *, file: str | None = None
) -> tuple[dict[str, str], list[Problem]]:
    """Canonical field → the file's header, for each header recognised (the explicit mapping first,
    then the synonyms), and the problems: a field claimed by two headers (error), a mapped header
    absent from the file (error), headers not recognised (warning; they are not read, and are
    named by position with the header masked, since they may be data)."""
    if mapping is not None and not isinstance(mapping, ColumnMapping):
        mapping = load_mapping(mapping)  # a dict or a path, as read_list takes
    mapping = mapping or ColumnMapping()
    result: dict[str, str] = {}
    problems: list[Problem] = []
    explicit = {header_key(k): v for k, v in mapping.columns.items()}
    present = {header_key(h) for h in headers}
    for k, v in mapping.columns.items():
        if header_key(k) not in present:
            problems.append(
                Problem(
                    file,
                    None,
                    k,
                    "error",
                    "mapped_column_missing",
                    f"the mapping names column {k!r} ({v}) but the file has no "
                    "such column; correct the mapping file",
                )
            )
    for position, h in enumerate(headers, start=1):
        key = header_key(h)
        target = explicit.get(key) or _SYNONYM_INDEX.get(key)
        if target is None:
            # not quoted: without a header row, the "header" is a value of the first record
            problems.append(
                Problem(
                    file,
                    None,
                    shown_header(h),
                    "warning",
                    "unmapped_column",
                    f"column {position} is not recognised and is not read; name its header in "
                    "a mapping file if it holds a schema field",
                )
            )
            continue
        if target == "ignore":
            continue
        if target in result:
            problems.append(
                Problem(
                    file,
                    None,
                    h,
                    "error",
                    "duplicate_column",
                    f"columns {result[target]!r} and {h!r} both map to {target}; "
                    "map one of them to 'ignore' in a mapping file",
                )
            )
            continue
        result[target] = h
    return result, problems
