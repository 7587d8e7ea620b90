"""Registers the built-in estimators with :mod:`cifranegra.estimation.api` (one line each)."""

from __future__ import annotations

from cifranegra.estimation import api

# log-linear family and classic estimators (issue 2)
from cifranegra.estimation.classic import Chao, Independence, SaturatedMinusTop
from cifranegra.estimation.loglinear import LogLinear
from cifranegra.estimation.petersen import Chapman, Petersen

api.register("loglinear", LogLinear)
api.register("independence", Independence)
api.register("chao", Chao)
api.register("saturated", SaturatedMinusTop)
api.register("petersen", Petersen)
api.register("chapman", Chapman)

# Bayesian and heterogeneity families (issue 3)
from cifranegra.estimation.coverage import SampleCoverage  # noqa: E402
from cifranegra.estimation.dga import DGA  # noqa: E402
from cifranegra.estimation.lcmcr import LCMCR  # noqa: E402

api.register("lcmcr", LCMCR)
api.register("dga", DGA)
api.register("sample-coverage", SampleCoverage)
