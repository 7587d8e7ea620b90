"""Agencies of the synthetic world: how much each captures, whom, with what errors, in what
format."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from cifranegra.errors import InputError

__all__ = ["AgencyProfile", "RecordingErrors", "default_profiles", "default_referrals"]


@dataclass(frozen=True)
class RecordingErrors:
    """Per-record probabilities of each recording error an agency makes (independent draws).

    ``nickname`` applies only to given names that have a common nickname; ``day_month_swap`` only
    to birth dates whose day is 12 or less (and differs from the month); ``lost_accents`` only to
    agencies that write accents.
    """

    typo: float = 0.02
    lost_accents: float = 0.10
    missing_second_surname: float = 0.03
    swapped_surnames: float = 0.01
    nickname: float = 0.05
    day_month_swap: float = 0.01
    date_digit_transposition: float = 0.005
    wrong_state: float = 0.01
    missing_curp: float = 0.30
    curp_typo: float = 0.01
    missing_birth_date: float = 0.05
    unknown_exploitation: float = 0.15
    unknown_sex: float = 0.005

    def __post_init__(self) -> None:
        bad = [f"{k}={v!r}" for k, v in self.__dict__.items()
               if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0.0 <= float(v) <= 1.0]
        if bad:  # a rate of 2 or -1 was taken and simulated lists came out silently odd
            raise InputError(f"recording-error rates are probabilities from 0 to 1: {', '.join(bad)}")

    def scaled(self, factor: float) -> RecordingErrors:
        """All rates multiplied by ``factor`` (capped at 1)."""
        return RecordingErrors(**{k: min(1.0, v * factor) for k, v in self.__dict__.items()})


@dataclass(frozen=True)
class AgencyProfile:
    """One agency: capture behaviour, recording errors and the shape of the file it exports.

    ``capture_rate`` is the capture probability of a typical person (logit scale centre);
    ``heterogeneity`` multiplies the person's latent visibility (shared by all agencies, so larger
    values mean more positive dependence between lists); ``focus`` multiplies the odds of capture by
    stratum (keys ``minor``, ``adult``, ``female``, ``male``, ``foreign``).
    """

    id: str
    name: str
    capture_rate: float
    heterogeneity: float = 0.8
    focus: dict[str, float] = field(default_factory=dict)
    duplicate_rate: float = 0.02
    errors: RecordingErrors = field(default_factory=RecordingErrors)
    # file shape
    file_format: str = "csv"  # csv | xlsx | parquet
    encoding: str = "utf-8"  # utf-8 | utf-8-sig | cp1252
    delimiter: str = ","
    date_style: str = "dmy"  # dmy (dd/mm/yyyy) | dmy_short (d-m-yy) | iso | text_es | excel
    sex_codes: tuple[str, str, str] = ("M", "H", "")  # female, male, unknown
    state_style: str = "name"  # name | abbreviation | code | iso | curp
    exploitation_style: str = "label_es"  # label_es | fraction | english | code
    upper_case: bool = True
    accents: bool = False
    full_name: bool = False  # one "full name" cell instead of three
    needs_mapping: bool = False
    columns: dict[str, str] = field(default_factory=dict)  # canonical field → header

    def __post_init__(self) -> None:
        problems = []
        for name, low_open in (("capture_rate", True), ("duplicate_rate", False)):
            v = getattr(self, name)
            number = not isinstance(v, bool) and isinstance(v, (int, float))
            if not number or not ((0.0 < v < 1.0) if low_open else (0.0 <= v <= 1.0)):
                span = "strictly between 0 and 1" if low_open else "from 0 to 1"
                problems.append(f"{name} must be a probability {span}, not {v!r}")
        if self.file_format not in ("csv", "xlsx", "parquet"):
            problems.append(f"file_format must be csv, xlsx or parquet, not {self.file_format!r}")
        if problems:
            raise InputError(f"agency profile {self.id!r}: " + "; ".join(problems))


_ES_COLUMNS = {
    "record_id": "Folio",
    "registration_date": "Fecha de registro",
    "given_names": "Nombre(s)",
    "first_surname": "Primer apellido",
    "second_surname": "Segundo apellido",
    "birth_date": "Fecha de nacimiento",
    "age": "Edad",
    "sex": "Sexo",
    "curp": "CURP",
    "nationality": "Nacionalidad",
    "indigenous": "Indígena",
    "state": "Entidad federativa",
    "exploitation": "Tipo de explotación",
}


def default_profiles() -> list[AgencyProfile]:
    """Six Mexican agencies with their own formats (see docs/synthetic.md)."""
    base = RecordingErrors()
    return [
        AgencyProfile(
            id="fiscalia_estatal",
            name="Fiscalías de las entidades federativas",
            capture_rate=0.30,
            heterogeneity=0.8,
            focus={"adult": 1.3},
            errors=replace(base, missing_curp=0.25),
            encoding="cp1252",
            delimiter=";",
            date_style="dmy",
            sex_codes=("M", "H", ""),
            state_style="name",
            exploitation_style="label_es",
            upper_case=True,
            accents=False,
            columns=dict(_ES_COLUMNS),
        ),
        AgencyProfile(
            id="fgr_fevimtra",
            name="FGR (FEVIMTRA)",
            capture_rate=0.10,
            heterogeneity=0.8,
            focus={"foreign": 2.0},
            errors=replace(base, missing_curp=0.20, typo=0.01),
            file_format="xlsx",
            date_style="excel",
            sex_codes=("Mujer", "Hombre", "No especificado"),
            state_style="abbreviation",
            exploitation_style="fraction",
            upper_case=True,
            accents=True,
            columns={
                "record_id": "Expediente",
                "registration_date": "Fecha de inicio",
                "given_names": "Nombre",
                "first_surname": "Apellido paterno",
                "second_surname": "Apellido materno",
                "birth_date": "Fecha nacimiento",
                "sex": "Sexo",
                "curp": "CURP",
                "nationality": "País de origen",
                "state": "Entidad",
                "exploitation": "Modalidad",
            },
        ),
        AgencyProfile(
            id="dif",
            name="Sistema DIF",
            capture_rate=0.06,
            heterogeneity=0.6,
            focus={"minor": 6.0, "adult": 0.3},
            errors=replace(base, missing_curp=0.15, nickname=0.08),
            encoding="utf-8",
            delimiter=",",
            date_style="dmy_short",
            sex_codes=("Femenino", "Masculino", ""),
            state_style="code",
            exploitation_style="label_es",
            upper_case=False,
            accents=True,
            columns={
                "record_id": "Id registro",
                "registration_date": "Fecha de atención",
                "given_names": "Nombres",
                "first_surname": "Apellido paterno",
                "second_surname": "Apellido materno",
                "birth_date": "Fecha nac.",
                "age": "Edad",
                "sex": "Sexo",
                "curp": "CURP",
                "state": "Estado",
                "exploitation": "Forma de explotación",
            },
        ),
        AgencyProfile(
            id="refugios",
            name="Red de refugios",
            capture_rate=0.08,
            heterogeneity=1.0,
            focus={"female": 2.5, "male": 0.3},
            errors=replace(base, missing_curp=0.60, nickname=0.10, missing_birth_date=0.15),
            encoding="utf-8-sig",
            delimiter=",",
            date_style="text_es",
            sex_codes=("Mujer", "Hombre", ""),
            state_style="name",
            exploitation_style="label_es",
            upper_case=False,
            accents=True,
            full_name=True,
            columns={
                "record_id": "No. expediente",
                "registration_date": "Fecha de ingreso",
                "full_name": "Nombre completo",
                "birth_date": "Fecha de nacimiento",
                "age": "Edad",
                "sex": "Sexo",
                "nationality": "Nacionalidad",
                "indigenous": "Indígena",
                "state": "Estado",
                "curp": "CURP",
                "exploitation": "Tipo de explotación",
            },
        ),
        AgencyProfile(
            id="linea_nacional",
            name="Línea Nacional contra la Trata de Personas",
            capture_rate=0.12,
            heterogeneity=0.5,
            focus={},
            errors=replace(
                base,
                missing_curp=0.90,
                missing_birth_date=0.60,
                typo=0.04,
                missing_second_surname=0.15,
                unknown_exploitation=0.30,
            ),
            file_format="parquet",
            date_style="iso",
            sex_codes=("F", "M", "U"),
            state_style="iso",
            exploitation_style="english",
            upper_case=False,
            accents=False,
            columns={
                "record_id": "case_id",
                "registration_date": "call_date",
                "given_names": "first_name",
                "first_surname": "last_name",
                "second_surname": "second_last_name",
                "birth_date": "date_of_birth",
                "age": "age",
                "sex": "sex",
                "curp": "curp",
                "state": "state",
                "nationality": "nationality",
                "exploitation": "type_of_exploitation",
            },
        ),
        AgencyProfile(
            id="osc",
            name="Organización de la sociedad civil",
            capture_rate=0.07,
            heterogeneity=1.2,
            focus={"foreign": 3.0},
            errors=replace(base, missing_curp=0.70, typo=0.03),
            encoding="utf-8",
            delimiter=",",
            date_style="dmy",
            sex_codes=("M", "H", "ND"),
            state_style="curp",
            exploitation_style="code",
            upper_case=True,
            accents=False,
            needs_mapping=True,
            columns={
                "record_id": "ID_BEN",
                "registration_date": "F_ALTA",
                "given_names": "NOM",
                "first_surname": "AP1",
                "second_surname": "AP2",
                "birth_date": "FNAC",
                "sex": "SX",
                "curp": "CURP_BEN",
                "state": "LUGAR",
                "exploitation": "EXPL",
            },
        ),
    ]


def default_referrals() -> list[tuple[str, str, float]]:
    """Referrals (from agency, to agency, probability that a person recorded by the first is
    referred to and recorded by the second): the chosen dependence between lists."""
    return [
        ("fiscalia_estatal", "refugios", 0.15),
        ("dif", "fiscalia_estatal", 0.30),
        ("linea_nacional", "fiscalia_estatal", 0.20),
        ("fiscalia_estatal", "fgr_fevimtra", 0.05),
    ]
