"""Synthetic Mexican victims and agency lists with known truth (``cifranegra simulate``).

See docs/synthetic.md. :func:`simulate` returns a :class:`SimulatedLists` with each agency's raw
frame (its own headers, language, date format), the truth (record → person) and true N by stratum;
:meth:`SimulatedLists.write` writes the agency files, ``truth.csv``, ``truth_by_stratum.csv`` and
the mapping files an ingest needs.
"""

from cifranegra.datasets.synthetic.profiles import (
    AgencyProfile,
    RecordingErrors,
    default_profiles,
    default_referrals,
)
from cifranegra.datasets.synthetic.recording import ERROR_KINDS
from cifranegra.datasets.synthetic.simulate import MAX_AGENCIES, MAX_PERSONS, SimulatedLists, simulate

__all__ = [
    "ERROR_KINDS",
    "MAX_AGENCIES",
    "MAX_PERSONS",
    "AgencyProfile",
    "RecordingErrors",
    "SimulatedLists",
    "default_profiles",
    "default_referrals",
    "simulate",
]
