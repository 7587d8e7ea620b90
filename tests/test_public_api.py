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

    for name in est.__all__:
        assert getattr(est, name) is not None, name
    assert set(est.METHODS) >= set()  # registered lazily on first estimate()
    est.estimate  # noqa: B018
    from cifranegra.estimation.api import _load_builtin

    _load_builtin()
    assert {"loglinear", "independence", "chao", "saturated", "petersen", "chapman", "lcmcr", "dga",
            "sample-coverage"} <= set(est.METHODS)
