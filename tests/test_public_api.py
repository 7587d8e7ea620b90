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
