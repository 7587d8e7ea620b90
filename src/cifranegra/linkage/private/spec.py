"""What an encoding is made of: the fields, how each is tokenized and how often each token is
inserted, the blocking signatures, and the stratum columns carried in clear.

An :class:`EncodingSpec` is data (it round-trips through JSON) and has a fingerprint; two encoded
files can be linked only if they were made with the same spec, secret and project salt. The
default, :data:`MEXICO_SPEC` (version ``clk-mx-3``), encodes the normalized Records frame of
:mod:`cifranegra.schema`; :data:`MEXICO_SPEC_2` (``clk-mx-2``) and :data:`MEXICO_SPEC_V1`
(``clk-mx-1``) stay readable. The method is the
record-level Bloom filter (CLK-RBF) of Schnell, Bachteler
& Reiher (2009; 2011) and Durham et al. (2013), with keyed hashing (BLAKE2b) and random positions per
token (Niedermeyer et al. 2014, which avoids the double-hashing attack), optional salting of names with a
record attribute (Christen et al. 2018, "Efficient cryptanalysis of Bloom filters"; Schnell 2016; the
default does not salt: see MEXICO_SPEC) and XOR folding
(Schnell, Borgs & Encina 2016). See docs/private-linkage.md for the normative description.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from typing import Any

from cifranegra.errors import InputError

FORMAT_NAME = "cifranegra-encoded"
FORMAT_VERSION = 1

TOKENIZERS = ("bigram", "positional", "date", "exact")
BLOCK_TRANSFORMS = ("value", "prefix", "year")


@dataclass(frozen=True)
class FieldSpec:
    """One identifying field of the record-level filter.

    ``tokenizer``: ``bigram`` (names, places: the value padded with ``_`` at both ends, spaces as
    ``_``, each distinct bigram once), ``positional`` (CURP and codes: each character with its
    position), ``date`` (positional over ``YYYYMMDD``), ``exact`` (the whole value as one token).
    ``k``: bit positions set per token (insertions). ``salt``: column whose value is mixed into every
    token of this field (names are salted with the year of birth so that the same name in different
    birth cohorts sets different bits, which defeats frequency attacks on names). ``key``: the
    label its key is derived from (default: ``name``). ``salt_unknown``: salt values under which the
    tokens are inserted, each, when the record's salt is missing or ``unknown`` (names salted with
    sex: a record of unknown sex carries its names under both sexes, so it still shares its name
    bits with the same person recorded with a sex); empty: the missing salt is ``""``.
    """

    name: str
    tokenizer: str
    k: int
    salt: str | None = None
    key: str | None = None
    salt_unknown: tuple[str, ...] = ()

    @property
    def key_label(self) -> str:
        """The label of this field's key; fields sharing a label share a key (so that, e.g., the
        two surnames set the same bits whichever order an agency records them in)."""
        return self.key or self.name

    def __post_init__(self) -> None:
        if self.tokenizer not in TOKENIZERS:
            raise InputError(f"field {self.name!r}: tokenizer must be one of {TOKENIZERS}, got {self.tokenizer!r}")
        if not 1 <= self.k <= 128:
            raise InputError(f"field {self.name!r}: k (insertions per token) must be 1..128, got {self.k}")
        object.__setattr__(self, "salt_unknown", tuple(str(v) for v in self.salt_unknown))
        if self.salt_unknown and not self.salt:
            raise InputError(f"field {self.name!r}: salt_unknown needs a salt column")


@dataclass(frozen=True)
class BlockSpec:
    """One blocking signature: a keyed HMAC of a coarse combination of attributes.

    ``parts`` are ``(column, transform, n)`` with transform ``value`` (the whole value), ``prefix``
    (the first ``n`` characters, spaces removed) or ``year`` (the year of a date). The signature is
    null when any part is missing, so the record is simply not blocked on it.
    """

    name: str
    parts: tuple[tuple[str, str, int], ...]

    def __post_init__(self) -> None:
        for col, transform, _n in self.parts:
            if transform not in BLOCK_TRANSFORMS:
                raise InputError(
                    f"blocking signature {self.name!r}, column {col!r}: transform must be one of "
                    f"{BLOCK_TRANSFORMS}, got {transform!r}"
                )


@dataclass(frozen=True)
class EncodingSpec:
    """A complete, versioned encoding: filter length, folding, fields, blocking and strata.

    ``threshold`` is the Dice similarity at which linking accepts a pair of records of different
    lists by default, ``dedupe_threshold`` the one at which two records of the same list are taken
    as duplicates (above 1: never): their scale depends on the fields and the fill (unrelated
    records score about the fill, ~0.5 here), so they belong to the spec and are tuned with it.
    """

    version: str
    fields: tuple[FieldSpec, ...]
    blocks: tuple[BlockSpec, ...] = ()
    strata: tuple[str, ...] = ()
    bits: int = 2048
    fold: bool = True
    block_key_bytes: int = 8
    threshold: float = 0.8
    dedupe_threshold: float = 2.0
    description: str = ""

    def __post_init__(self) -> None:
        if self.bits % 128 or self.bits < 128:
            raise InputError(f"bits must be a positive multiple of 128, got {self.bits}")
        if not 0.0 < self.threshold <= 1.0:
            raise InputError(f"the spec's Dice threshold must be in (0, 1], got {self.threshold}")
        if self.bits > 65536:
            raise InputError("bits must be at most 65536 (positions are 16-bit)")
        names = [f.name for f in self.fields]
        if len(set(names)) != len(names) or not names:
            raise InputError("an encoding spec needs at least one field and each field once")

    @property
    def encoded_bits(self) -> int:
        """Bits in the stored encoding (half of ``bits`` when XOR-folded)."""
        return self.bits // 2 if self.fold else self.bits

    @property
    def encoded_bytes(self) -> int:
        return self.encoded_bits // 8

    @property
    def columns(self) -> tuple[str, ...]:
        """Every input column the encoding reads (identifying fields, salts, blocking parts)."""
        cols: list[str] = []
        for f in self.fields:
            cols.append(f.name)
            if f.salt:
                cols.append(f.salt)
        for b in self.blocks:
            cols.extend(part[0] for part in b.parts)
        return tuple(dict.fromkeys(cols))

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        # optional attributes at their defaults are left out, so older specs keep their fingerprints
        d["fields"] = [
            {k: (list(v) if k == "salt_unknown" else v) for k, v in asdict(f).items()
             if not (k == "key" and v is None) and not (k == "salt_unknown" and not v)}
            for f in self.fields
        ]
        d["blocks"] = [{"name": b.name, "parts": [list(p) for p in b.parts]} for b in self.blocks]
        d["strata"] = list(self.strata)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> EncodingSpec:
        return cls(
            version=str(d["version"]),
            fields=tuple(FieldSpec(**f) for f in d["fields"]),
            blocks=tuple(
                BlockSpec(b["name"], tuple((str(c), str(t), int(n)) for c, t, n in b["parts"]))
                for b in d.get("blocks", [])
            ),
            strata=tuple(d.get("strata", ())),
            bits=int(d.get("bits", 2048)),
            fold=bool(d.get("fold", True)),
            block_key_bytes=int(d.get("block_key_bytes", 8)),
            threshold=float(d.get("threshold", 0.8)),
            dedupe_threshold=float(d.get("dedupe_threshold", 2.0)),
            description=str(d.get("description", "")),
        )

    def fingerprint(self) -> str:
        """SHA-256 (first 16 hex digits) of the canonical JSON of everything that changes the bits
        (not the description nor the linking thresholds, which can be revised without re-encoding)."""
        d = self.to_dict()
        for linking_only in ("description", "threshold", "dedupe_threshold"):
            d.pop(linking_only, None)
        text = json.dumps(d, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


#: The first encoding of the normalized Records frame (issue 4's schema), kept readable but no
#: longer the default: its blocking signatures leak the year of birth to frequency analysis
#: (docs/private-linkage.md, "Attacks, measured").
MEXICO_SPEC_V1 = EncodingSpec(
    version="clk-mx-1",
    description="normalized Mexican victim records: names salted with year of birth, birth date, "
    "CURP, sex; 2048 bits XOR-folded to 1024",
    fields=(
        FieldSpec("given_names_canonical", "bigram", k=30, salt="birth_year_est"),
        FieldSpec("first_surname", "bigram", k=30, salt="birth_year_est", key="surnames"),
        FieldSpec("second_surname", "bigram", k=26, salt="birth_year_est", key="surnames"),
        FieldSpec("birth_date", "date", k=30),
        FieldSpec("birth_year_est", "positional", k=30),
        FieldSpec("curp", "positional", k=18),
        FieldSpec("sex", "exact", k=6),
    ),
    blocks=(
        BlockSpec("sn3_yob", (("first_surname", "prefix", 3), ("birth_year_est", "value", 0))),
        BlockSpec("gn2_sn2_ssn2", (("given_names_canonical", "prefix", 2), ("first_surname", "prefix", 2),
                                   ("second_surname", "prefix", 2))),
        BlockSpec("dob", (("birth_date", "value", 0),)),
        BlockSpec("gn3_yob_sex", (("given_names_canonical", "prefix", 3), ("birth_year_est", "value", 0),
                                  ("sex", "value", 0))),
    ),
    strata=("year", "sex", "age_group", "state", "exploitation"),
    threshold=0.65,
    dedupe_threshold=0.75,
)


#: ``clk-mx-1`` without year-of-birth salting of names (kept readable; not the default).
MEXICO_SPEC_UNSALTED = EncodingSpec(
    version="clk-mx-1u",
    description="as clk-mx-1, names not salted with the year of birth",
    fields=tuple(
        FieldSpec(f.name, f.tokenizer, f.k, None, f.key) if f.salt else f for f in MEXICO_SPEC_V1.fields
    ),
    blocks=MEXICO_SPEC_V1.blocks,
    strata=MEXICO_SPEC_V1.strata,
    threshold=0.65,
    dedupe_threshold=0.75,
)


#: The default encoding from issue 15's hardening until 2026-12-05 (kept readable): the fields of
#: ``clk-mx-1`` with names salted with sex, a record attribute that is stable between agencies (the
#: year of birth is often only estimated from an age, and a wrong salt loses every name bit), and
#: **no blocking signatures**: nothing deterministic is stored next to the encodings but the strata,
#: so frequency analysis has nothing to count, and the hub compares every pair of records of
#: different lists (popcount kernel). Replaced because a record whose sex is not recorded shares no
#: name bits with the same person recorded with a sex (docs/private-linkage.md, "clk-mx-3").
MEXICO_SPEC_2 = EncodingSpec(
    version="clk-mx-2",
    description="normalized Mexican victim records: names salted with sex, birth date, year of birth, "
    "CURP, sex; 2048 bits XOR-folded to 1024; no blocking signatures (every pair compared)",
    fields=tuple(FieldSpec(f.name, f.tokenizer, f.k, "sex", f.key) if f.salt else f for f in MEXICO_SPEC_V1.fields),
    blocks=(),
    strata=MEXICO_SPEC_V1.strata,
    # chosen on simulator seeds 30-49 and reported on seeds 3-14 (docs/private-linkage.md)
    threshold=0.66,
    dedupe_threshold=0.8,
)


#: The default encoding: ``clk-mx-1``'s fields, names **not salted**, no blocking signatures. Sex is
#: not recorded for 9-23% of SESNSP's victims (2015-2025), and under ``clk-mx-2``'s sex salt such a
#: record cannot be linked by its name: with 15% of records of unknown sex the simulator's lists
#: linked with recall 0.74 and N-hat 47-54% too high (docs/private-linkage.md, "clk-mx-3"). Without
#: the salt, recall stays at 0.98-0.99 in both regimes; the attacks stay at the baseline (the
#: hardening table's "no signatures, unsalted" row, re-measured for this spec).
MEXICO_SPEC = EncodingSpec(
    version="clk-mx-3",
    description="normalized Mexican victim records: names (not salted), birth date, year of birth, CURP, "
    "sex; 2048 bits XOR-folded to 1024; no blocking signatures (every pair compared)",
    fields=tuple(FieldSpec(f.name, f.tokenizer, f.k, None, f.key) for f in MEXICO_SPEC_V1.fields),
    blocks=(),
    strata=MEXICO_SPEC_V1.strata,
    # chosen on simulator seeds 30-49, with the simulator's 0.5% and with 15% of records of unknown
    # sex (the threshold whose worse regime has the most seeds within 3% of the true linkage's N-hat,
    # model held fixed), and reported on seeds 3-14 (docs/private-linkage.md, "clk-mx-3"); a linking
    # default, not part of the encoding
    threshold=0.67,
    dedupe_threshold=0.8,
)
