"""Start-up is part of every command's time: importing cifranegra, or asking for help, must not
import the heavy libraries (pandas, scipy.stats, the linkage engines, plotting). Each case runs in a
fresh interpreter and asserts which modules are in ``sys.modules`` — presence, never wall clock."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

HEAVY = ("numpy", "pandas", "scipy", "scipy.stats", "numba", "splink", "duckdb", "pyspark", "matplotlib")
# what no import and no --help may pull in; numpy/scipy alone are checked where the case says so
NEVER = ("pandas", "scipy.stats", "numba", "splink", "duckdb", "pyspark", "matplotlib")


def _loaded_after(code: str) -> set[str]:
    """The heavy modules present in ``sys.modules`` after running ``code`` in a fresh interpreter
    (stdout and SystemExit of the code are swallowed; its exceptions fail the test)."""
    body = textwrap.indent(textwrap.dedent(code).strip(), " " * 8)
    script = (
        "import contextlib, io, json, sys\n"
        "with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):\n"
        "    try:\n"
        f"{body}\n"
        "    except SystemExit:\n"
        "        pass\n"
        f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return set(json.loads(done.stdout.strip().splitlines()[-1]))


def _main(*argv: str) -> str:
    return f"from cifranegra.cli import main\nmain({list(argv)!r})"


def test_import_cifranegra_is_light() -> None:
    loaded = _loaded_after("import cifranegra")
    assert not loaded, f"`import cifranegra` imported {sorted(loaded)}"


def test_import_cli_is_light() -> None:
    loaded = _loaded_after("import cifranegra.cli\nimport cifranegra.errors")
    assert not loaded, f"`import cifranegra.cli` imported {sorted(loaded)}"


def test_import_estimation_package_is_light() -> None:
    loaded = _loaded_after("import cifranegra.estimation\nimport cifranegra.estimation.registry")
    assert not loaded & set(NEVER), f"`import cifranegra.estimation` imported {sorted(loaded)}"


def test_public_names_still_load_on_first_use() -> None:
    """The lazy re-exports resolve to the real objects (and only then import the estimation core)."""
    loaded = _loaded_after(
        "import cifranegra\nfrom cifranegra.estimation.histories import CaptureHistories\n"
        "assert cifranegra.CaptureHistories is CaptureHistories\n"
        "assert callable(cifranegra.estimate)"
    )
    assert "numpy" in loaded  # CaptureHistories is built on numpy: the case did load it
    assert "pandas" not in loaded  # and pandas only where a frame is read or made


@pytest.mark.parametrize("argv", [("--help",), (), ("--version",), ("no-such-command",)])
def test_top_level_help_is_light(argv: tuple[str, ...]) -> None:
    loaded = _loaded_after(_main(*argv))
    assert not loaded, f"`cifranegra {' '.join(argv)}` imported {sorted(loaded)}"


@pytest.mark.parametrize("command", ["describe", "validate", "encode", "compare", "report"])
def test_command_help_is_light(command: str) -> None:
    loaded = _loaded_after(_main(command, "--help"))
    assert not loaded & set(NEVER), f"`cifranegra {command} --help` imported {sorted(loaded)}"


@pytest.mark.parametrize("command", ["estimate", "run", "demo"])
def test_estimator_and_pipeline_help_is_light(command: str) -> None:
    """`estimate`, `run` and `demo` import the estimation core and the pipeline inside run(), so their
    --help loads not even numpy."""
    loaded = _loaded_after(_main(command, "--help"))
    assert not loaded, f"`cifranegra {command} --help` imported {sorted(loaded)}"


def test_a_result_needs_neither_pandas_nor_scipy_stats() -> None:
    """Building, serialising and reading back a result, and a BCa interval, load neither pandas nor
    scipy.stats (the normal quantiles come from scipy.special); summary() still gives a DataFrame."""
    loaded = _loaded_after(
        """
        import numpy as np
        from cifranegra.estimation.result import EstimateResult, Interval, bca_interval
        r = EstimateResult(method="x", estimate=10.0, observed=8, lists=("a", "b"),
                           intervals=(Interval(9.0, 12.0, 0.95, "profile"),))
        assert EstimateResult.from_json(r.to_json()).estimate == 10.0
        lo, hi = bca_interval(np.arange(1.0, 101.0), 40.0, 0.01, 0.95)
        assert lo < 40.0 < hi
        """
    )
    assert not loaded & {"pandas", "scipy.stats"}, sorted(loaded)
    assert "pandas" in _loaded_after(
        "from cifranegra.estimation.result import EstimateResult\n"
        "EstimateResult(method='x', estimate=10.0, observed=8, lists=('a', 'b')).summary()"
    )


def test_a_command_imports_only_its_own_module() -> None:
    """`describe --help` imports the module of `describe`, not those of `estimate`, `run`, `demo`
    (nor the pipeline)."""
    script = textwrap.dedent(
        """
        import contextlib, io, json, sys
        from cifranegra.cli import main
        with contextlib.redirect_stdout(io.StringIO()):
            try:
                main(["describe", "--help"])
            except SystemExit:
                pass
        print(json.dumps(sorted(m for m in sys.modules if m.startswith("cifranegra"))))
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    mods = set(json.loads(done.stdout.strip().splitlines()[-1]))
    assert "cifranegra.cli.describe" in mods
    assert not {"cifranegra.cli.estimate", "cifranegra.cli.run", "cifranegra.cli.demo", "cifranegra.pipeline"} & mods


def test_top_level_help_lists_every_command_as_its_module_does() -> None:
    """`--help` without importing the commands shows the same text as with them all registered
    (``_HELP`` kept equal to each module's own ``help=``)."""
    from cifranegra import cli

    assert set(cli._HELP) == set(cli._COMMANDS)
    assert cli.build_parser(only="").format_help() == cli.build_parser().format_help()


def test_reading_a_capture_table_skips_the_list_validator() -> None:
    """`estimate`/`describe` read a table of counts: the identity normalizers (CURP via python-stdnum,
    dates, records) and the agency-list validator stay unloaded."""
    script = (
        "import json, sys\n"
        "from cifranegra.ingest.capture_table import read_capture_histories\n"
        "from cifranegra.schema import mask_value\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith(('cifranegra', 'stdnum')))))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    mods = set(json.loads(done.stdout.strip().splitlines()[-1]))
    assert not {"cifranegra.ingest.lists", "cifranegra.schema.records", "cifranegra.schema.curp", "stdnum"} & mods


def test_lazy_packages_still_offer_every_public_name() -> None:
    import cifranegra.ingest as ingest
    import cifranegra.schema as schema
    from cifranegra.ingest.lists import sibling_mapping, validate_files

    for module in (ingest, schema):
        for name in module.__all__:
            assert getattr(module, name) is not None, (module.__name__, name)
        assert set(module.__all__) <= set(dir(module))
    assert ingest.validate_files is validate_files
    assert ingest.sibling_mapping is sibling_mapping  # in __all__ but was never imported here


def test_simulate_help_is_light_and_quotes_the_simulators_limits() -> None:
    loaded = _loaded_after(_main("simulate", "--help"))
    assert not loaded, f"`cifranegra simulate --help` imported {sorted(loaded)}"
    import importlib

    import cifranegra.cli.simulate as cmd

    lib = importlib.import_module("cifranegra.datasets.synthetic.simulate")

    assert (cmd._HELP_MAX_PERSONS, cmd._HELP_MAX_AGENCIES) == (lib.MAX_PERSONS, lib.MAX_AGENCIES)
    assert cmd.simulate is lib.simulate and cmd.MAX_PERSONS == lib.MAX_PERSONS


@pytest.mark.parametrize(
    ("argv", "absent"),
    [
        (("--select", "bic", "--interval", "none"), ("pandas", "scipy.stats", "scipy.optimize", "numba")),
        (("--method", "dga"), ("pandas", "scipy", "numba")),
        (("--method", "lcmcr"), ("pandas", "scipy.special", "scipy.stats", "scipy.linalg")),
        (("--method", "mh-poisson2"), ("pandas", "scipy", "numba")),
        (("--method", "mth-chao"), ("pandas", "scipy", "numba")),
    ],
)
def test_an_estimate_loads_only_what_its_fit_needs(argv: tuple[str, ...], absent: tuple[str, ...]) -> None:
    """The quantiles come from scipy.special, so no estimate loads scipy.stats; scipy.optimize loads
    only for a profile interval or an existence check that needs it (not for BIC without interval).
    A plain table is read without pandas, and dga (and LCMCR's diagnostics) need no scipy at all
    (``estimation._special``), nor do Rcapture's models (their profile intervals use its Brent solvers);
    numba's own import of scipy.linalg is skipped (``cifranegra._numba``)."""
    watched = ("pandas", "scipy", "scipy.special", "scipy.stats", "scipy.optimize", "scipy.linalg", "numba")
    code = (
        "import sys\nfrom cifranegra.cli import main\n"
        f"main(['estimate', 'SparseMSE_UKdat_5', *{list(argv)!r}, '--seed', '1'])\n"
        f"print('LOADED', [m for m in {watched!r} if m in sys.modules])"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    loaded = json.loads(done.stdout.split("LOADED", 1)[1].strip().replace("'", '"'))
    assert not set(loaded) & set(absent), f"`estimate {' '.join(argv)}` imported {loaded}"


def _blas_setting_after(env_extra: dict[str, str]) -> tuple[str | None, str | None]:
    import os

    from cifranegra.cli import BLAS_THREAD_VARS

    env = {k: v for k, v in os.environ.items() if k not in BLAS_THREAD_VARS}
    env.update(env_extra)
    code = (
        "import os, contextlib, io\nfrom cifranegra.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    main(['estimate', 'SparseMSE_Artificial_3', '--method', 'chapman', '--lists', 'A', 'B'])\n"
        "import numpy\n"
        "print('BLAS', os.environ.get('OPENBLAS_NUM_THREADS'), os.environ.get('MKL_NUM_THREADS'))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    words = done.stdout.split("BLAS", 1)[1].split()
    return tuple(None if w == "None" else w for w in words)  # type: ignore[return-value]


def test_the_command_gives_linear_algebra_one_thread_unless_the_user_chose() -> None:
    """BLAS threads only spin beside cifranegra's own parallel work (docs/estimation.md); a user's
    setting wins, and a process that loaded numpy before is left alone (a library reads it once)."""
    assert _blas_setting_after({}) == ("1", "1")
    assert _blas_setting_after({"OPENBLAS_NUM_THREADS": "4"}) == ("4", None)
    assert _blas_setting_after({"OMP_NUM_THREADS": "3"}) == (None, None)
    from cifranegra.cli import one_blas_thread

    assert "numpy" in sys.modules and one_blas_thread() is False


def test_numba_without_scipy_linalg_keeps_its_linear_algebra() -> None:
    """``cifranegra._numba.load`` hides scipy.linalg only while numba checks for a BLAS: the LCMCR
    kernels then load without it, and a kernel using ``np.dot`` still compiles and is right (numba
    imports scipy.linalg for it then)."""
    code = textwrap.dedent(
        """
        import sys
        import numpy as np
        from cifranegra.estimation import lcmcr_kernels
        from cifranegra._numba import load
        pat = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 0]], dtype=np.int8)
        lcmcr_kernels.run_chain(pat, np.array([[5, 5, 5, 2]]), 3, 0.25, 0.25, 0, 10, 1, 1, 0.0, 0, True,
                                1, 2, 40, 8, 0.0)
        before = "scipy.linalg" in sys.modules
        numba = load()
        dot = numba.njit(lambda a, b: np.dot(a, b))
        a = np.arange(6.0).reshape(2, 3)
        assert np.allclose(dot(a, a.T), a @ a.T)
        print("STATE", before, "scipy.linalg" in sys.modules)
        """
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split("STATE", 1)[1].split() == ["False", "True"]
