"""Text normalization of Mexican names: case and accent folding (Ñ kept), particles,
comparison keys.

Every function here is pure, idempotent (``f(f(x)) == f(x)``) and maps ``None``/blank to ``None``.
Results of the scalar functions are cached because names repeat a great deal.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

__all__ = [
    "PARTICLES",
    "fold_text",
    "name_key",
    "normalize_name",
    "split_particles",
    "surname_pair_key",
    "surnames_compatible",
]

#: Particles of compound surnames and given names (RENAPO, Instructivo Normativo para la
#: Asignación de la CURP, "preposiciones, conjunciones y contracciones"): kept in the normalized
#: text, removed from comparison keys and skipped when deriving a CURP.
PARTICLES: frozenset[str] = frozenset(
    [
        "DA",
        "DAS",
        "DE",
        "DEL",
        "DER",
        "DI",
        "DIE",
        "DD",
        "EL",
        "LA",
        "LOS",
        "LAS",
        "LE",
        "LES",
        "MAC",
        "MC",
        "VAN",
        "VON",
        "Y",
    ]
)

_NOT_LETTER = re.compile(r"[^A-ZÑ ]+")
_SPACES = re.compile(r"\s+")
_MOJIBAKE_HINT = re.compile("[ÃÂ]")


def _fix_mojibake(s: str) -> str:
    """Undo UTF-8 text decoded as CP1252/Latin-1 (``MUÃ‘OZ`` → ``MUÑOZ``), if it is that."""
    if not _MOJIBAKE_HINT.search(s):
        return s
    for codec in ("cp1252", "latin-1"):
        try:
            return s.encode(codec).decode("utf-8")
        except (UnicodeEncodeError, UnicodeDecodeError):
            continue
    return s


@lru_cache(maxsize=1_000_000)
def fold_text(s: str) -> str:
    """Upper case, accents and diaereses removed, Ñ kept; other characters kept as they are."""
    s = _fix_mojibake(s).upper()
    out: list[str] = []
    for ch in unicodedata.normalize("NFD", s):
        if unicodedata.combining(ch):
            if ch == "\u0303" and out and out[-1] == "N":  # combining tilde on N: keep Ñ
                out[-1] = "Ñ"
            continue
        out.append(ch)
    return "".join(out)


@lru_cache(maxsize=1_000_000)
def _normalize_name(s: str) -> str | None:
    folded = fold_text(s)
    cleaned = _NOT_LETTER.sub(" ", folded)
    cleaned = _SPACES.sub(" ", cleaned).strip()
    return cleaned or None


def normalize_name(s: str | None) -> str | None:
    """Normalized form of a name: upper case, accents folded, Ñ kept, punctuation and digits
    replaced by spaces, whitespace collapsed; particles are kept (``"de la Cruz"`` → ``"DE LA CRUZ"``).

    ``None``, NaN and blank strings give ``None``.
    """
    if s is None or not isinstance(s, str):
        return None
    return _normalize_name(s)


def split_particles(s: str | None) -> tuple[list[str], list[str]]:
    """The words of a normalized name split into (particles, other words), order kept."""
    norm = normalize_name(s)
    if norm is None:
        return [], []
    words = norm.split(" ")
    return [w for w in words if w in PARTICLES], [w for w in words if w not in PARTICLES]


@lru_cache(maxsize=1_000_000)
def _name_key(norm: str) -> str:
    words = [w for w in norm.split(" ") if w not in PARTICLES]
    return " ".join(words) if words else norm


def name_key(s: str | None) -> str | None:
    """Comparison form of a name: :func:`normalize_name` with particles removed
    (``"De la Cruz"`` → ``"CRUZ"``, ``"del Ángel"`` → ``"ANGEL"``). A name made only of particles
    keeps them.
    """
    norm = normalize_name(s)
    if norm is None:
        return None
    return _name_key(norm)


def surname_pair_key(first_surname: str | None, second_surname: str | None) -> str | None:
    """Order-free comparison key of the two surnames (``"GARCIA|HERNANDEZ"`` for both Hernández
    García and García Hernández); one surname alone gives its key; ``None`` when both are missing."""
    keys = sorted(k for k in (name_key(first_surname), name_key(second_surname)) if k)
    return "|".join(keys) if keys else None


def surnames_compatible(
    first_a: str | None, second_a: str | None, first_b: str | None, second_b: str | None
) -> bool:
    """Whether two records' surnames can belong to one person allowing the usual recording
    differences: the same, swapped, or the second surname missing from one of them (then the
    surname present must match either of the other's). Missing first surnames are compatible
    with anything."""
    fa, sa, fb, sb = (name_key(x) for x in (first_a, second_a, first_b, second_b))
    if fa is None or fb is None:
        return True
    if (fa, sa) == (fb, sb) or (sa is not None and (fa, sa) == (sb, fb)):
        return True
    if sa is None or sb is None:
        present_a = {fa} | ({sa} if sa else set())
        present_b = {fb} | ({sb} if sb else set())
        return bool(present_a & present_b) and (
            present_a <= present_b or present_b <= present_a
        )
    return False
