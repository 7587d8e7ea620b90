"""The deliberate public surface of `cifranegra` (DESIGN.md): changing it must be a decision."""

import cifranegra


def test_all_is_pinned() -> None:
    assert sorted(cifranegra.__all__) == sorted([
        "CaptureHistories",
        "CifranegraError",
        "EstimateResult",
        "HierarchicalModel",
        "InputError",
        "Interval",
        "ModelError",
        "ValidationError",
        "__version__",
        "estimate",
    ])
    for name in cifranegra.__all__:
        assert hasattr(cifranegra, name)


def test_estimation_surface() -> None:
    import cifranegra.estimation as est

    assert sorted(est.__all__) == sorted([
        "DGA", "LCMCR", "METHODS", "CaptureDataWarning", "CaptureHistories", "Chao", "Chapman",
        "EstimateResult", "HierarchicalModel", "Independence", "Interval", "ListLimits", "LogLinear",
        "Petersen", "SampleCoverage", "SaturatedMinusTop", "StrataTables", "check_estimator",
        "check_lists", "compare", "enumerate_models", "estimate", "from_dict", "list_limits",
        "max_lists", "register", "to_dict",
    ])  # fmt: skip
    for name in est.__all__:
        assert getattr(est, name) is not None, name
    assert {"loglinear", "independence", "mt", "chao", "saturated", "petersen", "chapman", "lcmcr", "dga",
            "sample-coverage"} <= set(est.METHODS)
    assert callable(est.compare)  # the function, not the module of the same name


def test_compare_stays_the_function_after_its_module_is_imported() -> None:
    import subprocess
    import sys

    code = ("from cifranegra.estimation.compare import Comparison\n"
            "import cifranegra.estimation as est\nassert callable(est.compare), est.compare\n")
    subprocess.run([sys.executable, "-c", code], check=True)
