"""Mexican nicknames (hipocorísticos) and abbreviations of given names, and their canonical forms.

The table is ours, written from common Mexican usage; where a nickname stands for several names
(``BETO`` → ALBERTO or ROBERTO) the first is the canonical form and :func:`given_name_variants`
gives all of them.
"""

from __future__ import annotations

from functools import lru_cache

from cifranegra.schema.text import normalize_name

__all__ = [
    "NICKNAMES",
    "canonical_given_name",
    "given_name_variants",
]

#: nickname (normalized) → canonical given names, most likely first.
NICKNAMES: dict[str, tuple[str, ...]] = {
    "LUPITA": ("GUADALUPE",),
    "LUPE": ("GUADALUPE",),
    "PEPE": ("JOSE",),
    "PEPITO": ("JOSE",),
    "CHEPE": ("JOSE",),
    "CHEMA": ("JOSE MARIA",),
    "PACO": ("FRANCISCO",),
    "PANCHO": ("FRANCISCO",),
    "PANCHITO": ("FRANCISCO",),
    "KIKO": ("FRANCISCO", "ENRIQUE"),
    "CHUY": ("JESUS",),
    "CHUCHO": ("JESUS",),
    "LALO": ("EDUARDO",),
    "MEMO": ("GUILLERMO",),
    "NACHO": ("IGNACIO",),
    "TOÑO": ("ANTONIO",),
    "TONO": ("ANTONIO",),
    "TOÑITO": ("ANTONIO",),
    "BETO": ("ALBERTO", "ROBERTO", "HUMBERTO", "NORBERTO"),
    "TITO": ("ALBERTO", "ROBERTO"),
    "PONCHO": ("ALFONSO",),
    "FITO": ("ADOLFO", "RODOLFO"),
    "QUIQUE": ("ENRIQUE",),
    "KIKE": ("ENRIQUE",),
    "CHENTE": ("VICENTE",),
    "CHENCHO": ("INOCENCIO", "CRESCENCIO"),
    "GOYO": ("GREGORIO",),
    "TAVO": ("GUSTAVO", "OCTAVIO"),
    "RAFA": ("RAFAEL",),
    "JAVI": ("JAVIER",),
    "MANOLO": ("MANUEL",),
    "MANU": ("MANUEL",),
    "JUANITO": ("JUAN",),
    "CHARLY": ("CARLOS",),
    "CHARLIE": ("CARLOS",),
    "SANTI": ("SANTIAGO",),
    "CHAVA": ("SALVADOR",),
    "CHAVO": ("SALVADOR",),
    "NANDO": ("FERNANDO",),
    "CHAYO": ("ROSARIO",),
    "ROSY": ("ROSA",),
    "CHELA": ("GRACIELA",),
    "CHELO": ("CONSUELO",),
    "CONCHA": ("CONCEPCION",),
    "CONCHITA": ("CONCEPCION",),
    "LUCHA": ("LUZ",),
    "PATY": ("PATRICIA",),
    "PATI": ("PATRICIA",),
    "LETY": ("LETICIA",),
    "LETI": ("LETICIA",),
    "GABY": ("GABRIELA",),
    "GABI": ("GABRIELA",),
    "TERE": ("TERESA",),
    "VERO": ("VERONICA",),
    "LICHA": ("ALICIA",),
    "LOLA": ("DOLORES",),
    "LOLITA": ("DOLORES",),
    "MECHE": ("MERCEDES",),
    "COCO": ("SOCORRO",),
    "CUCA": ("REFUGIO",),
    "CUQUITA": ("REFUGIO",),
    "PILI": ("PILAR",),
    "NATI": ("NATALIA",),
    "ROCI": ("ROCIO",),
    "BETY": ("BEATRIZ",),
    "BETTY": ("BEATRIZ",),
    "LIZ": ("ELIZABETH",),
    "ANGIE": ("ANGELICA",),
    "CHIO": ("ROCIO",),
    "MAGO": ("MARGARITA",),
    "MAGUI": ("MARGARITA",),
    "MARU": ("MARIA EUGENIA",),
    "PACA": ("FRANCISCA",),
    "PANCHA": ("FRANCISCA",),
    "PEPA": ("JOSEFA",),
    "CHEPA": ("JOSEFA",),
    "NACHA": ("IGNACIA",),
    "TOÑA": ("ANTONIA",),
    "CHUCHA": ("JESUSA",),
    "CHABELA": ("ISABEL",),
    "CHAVELA": ("ISABEL",),
    "CHOLE": ("SOLEDAD",),
    "TENCHA": ("HORTENSIA",),
    "LALA": ("EULALIA",),
    "YOLIS": ("YOLANDA",),
    "LULU": ("LOURDES",),
    "MARILU": ("MARIA DE LOURDES",),
    "MALU": ("MARIA LUISA",),
    "MARICARMEN": ("MARIA DEL CARMEN",),
    "MARY": ("MARIA",),
    "LENCHO": ("LORENZO",),
    "CHALO": ("GONZALO",),
    "TACHO": ("ANASTASIO",),
    "CHAGO": ("SANTIAGO",),
    "CHANO": ("LUCIANO", "FELICIANO"),
    "POLO": ("LEOPOLDO", "APOLINAR"),
    "RICHI": ("RICARDO",),
    "MIGUE": ("MIGUEL",),
    "ALEX": ("ALEJANDRO", "ALEJANDRA"),
    "ALE": ("ALEJANDRA", "ALEJANDRO"),
    "DANI": ("DANIEL", "DANIELA"),
    "FER": ("FERNANDA", "FERNANDO"),
    "ANDY": ("ANDREA", "ANDRES"),
    "BENY": ("BENJAMIN",),
    "MA": ("MARIA",),
    "MARI": ("MARIA",),
    "J": ("JOSE",),
}


@lru_cache(maxsize=200_000)
def _canonical(norm: str) -> str:
    if norm in NICKNAMES:
        return NICKNAMES[norm][0]
    words = norm.split(" ")
    out = [NICKNAMES[w][0] if w in NICKNAMES else w for w in words]
    return " ".join(out)


def canonical_given_name(s: str | None) -> str | None:
    """Canonical form of a given name: normalized, nicknames and abbreviations expanded word by word
    (``"Lupita"`` → ``"GUADALUPE"``, ``"Ma. de Jesús"`` → ``"MARIA DE JESUS"``,
    ``"J. Refugio"`` → ``"JOSE REFUGIO"``); idempotent.
    """
    norm = normalize_name(s)
    if norm is None:
        return None
    return _canonical(norm)


def given_name_variants(s: str | None) -> frozenset[str]:
    """Every canonical form a (possibly nicknamed) given name may stand for, itself included."""
    norm = normalize_name(s)
    if norm is None:
        return frozenset()
    variants = {norm, _canonical(norm)}
    if norm in NICKNAMES:
        variants.update(NICKNAMES[norm])
    return frozenset(variants)
