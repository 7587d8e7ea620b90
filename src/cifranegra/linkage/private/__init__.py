"""Private linkage: agencies encode identifiers on their own machines; only encodings are linked.

Pure core (no I/O): the encoding spec (:mod:`.spec`), key derivation from the shared secret
(:mod:`.keys`, HKDF-SHA256), keyed record-level Bloom filters (:mod:`.bloom`), keyed blocking
signatures (:mod:`.blocking`), Dice similarity by popcount (:mod:`.similarity`) and linking of
encoded lists into the shared entities table (:mod:`.link`). Files are read and written by
:mod:`cifranegra.ingest.encoded`; the normative description is docs/private-linkage.md.
"""

from cifranegra.linkage.private.blocking import blocking_keys
from cifranegra.linkage.private.bloom import encode_fields
from cifranegra.linkage.private.encode import EncodedList, encode_records
from cifranegra.linkage.private.keys import LinkageSecret, generate_secret, hkdf_sha256, key_check
from cifranegra.linkage.private.link import (
    link_encoded,
    link_encoded_scored,
    match_posterior,
    mixture_threshold,
    score_pairs,
)
from cifranegra.linkage.private.similarity import all_pairs_above, dice_pairs
from cifranegra.linkage.private.spec import (
    FORMAT_NAME,
    FORMAT_VERSION,
    MEXICO_SPEC,
    MEXICO_SPEC_2,
    MEXICO_SPEC_UNSALTED,
    MEXICO_SPEC_V1,
    BlockSpec,
    EncodingSpec,
    FieldSpec,
)

__all__ = [
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "MEXICO_SPEC",
    "MEXICO_SPEC_2",
    "MEXICO_SPEC_UNSALTED",
    "MEXICO_SPEC_V1",
    "BlockSpec",
    "EncodedList",
    "EncodingSpec",
    "FieldSpec",
    "LinkageSecret",
    "all_pairs_above",
    "blocking_keys",
    "dice_pairs",
    "encode_fields",
    "encode_records",
    "generate_secret",
    "hkdf_sha256",
    "key_check",
    "link_encoded",
    "link_encoded_scored",
    "match_posterior",
    "mixture_threshold",
    "score_pairs",
]
