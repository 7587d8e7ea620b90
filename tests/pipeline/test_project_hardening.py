"""Issue 12, the project file: paths stay in the project folder unless the caller allows otherwise,
every setting is checked at load (methods, options, list limits, ingest), and no parsed project,
however odd its values' types, ends in anything but a clear InputError."""

from __future__ import annotations

import contextlib
import dataclasses
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cifranegra.cli import main
from cifranegra.errors import InputError, ValidationError
from cifranegra.pipeline import load_project, project_from_dict

TWO_LISTS = '[[lists]]\nsource = "A"\npath = "{a}"\n[[lists]]\nsource = "B"\npath = "{b}"\n'


def _project(folder: Path, body: str = "", a: str = "a.csv", b: str = "b.csv") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("a.csv", "b.csv"):  # two agencies' files differ (identical ones are refused as one list twice)
        (folder / name).write_text(f"curp\nHEGM900307MDFRRR09\n# {name}\n", encoding="utf-8")
    path = folder / "project.toml"
    path.write_text(TWO_LISTS.format(a=a, b=b) + body, encoding="utf-8")
    return path


def _codes(exc: pytest.ExceptionInfo[ValidationError]) -> dict[str | None, str]:
    return {p.column: p.code for p in exc.value.problems}


def test_list_path_outside_the_project_folder_is_refused(tmp_path):
    (tmp_path / "secret.csv").write_text("curp\nX\n", encoding="utf-8")
    path = _project(tmp_path / "proj", b="../secret.csv")
    with pytest.raises(ValidationError) as exc:
        load_project(path)
    assert _codes(exc) == {"lists[2].path": "outside_project"}
    assert "--allow-outside" in str(exc.value)
    project = load_project(path, allow_outside=True)  # the caller's decision, not the file's
    assert project.lists[1].path == (tmp_path / "secret.csv").resolve()


def test_absolute_paths_mapping_and_output_outside_are_refused(tmp_path):
    (tmp_path / "m.json").write_text("{}", encoding="utf-8")
    path = _project(tmp_path / "proj", a=str(tmp_path / "proj" / "a.csv"),
                    body='output = "../../.."\n')
    text = path.read_text(encoding="utf-8").replace(
        'path = "b.csv"', f'path = "b.csv"\nmapping = "{tmp_path / "m.json"}"')
    path.write_text('output = "../../.."\n' + text.replace('output = "../../.."\n', ""), encoding="utf-8")
    with pytest.raises(ValidationError) as exc:
        load_project(path)
    # an absolute path inside the folder is fine; the mapping and the output are not
    assert _codes(exc) == {"lists[2].mapping": "outside_project", "output": "outside_project"}
    assert load_project(path, allow_outside=True).output == tmp_path.parents[1].resolve()


def test_a_symbolic_link_out_of_the_folder_is_refused(tmp_path):
    (tmp_path / "elsewhere.csv").write_text("curp\nX\n", encoding="utf-8")
    path = _project(tmp_path / "proj")
    (tmp_path / "proj" / "b.csv").unlink()
    os.symlink(tmp_path / "elsewhere.csv", tmp_path / "proj" / "b.csv")
    with pytest.raises(ValidationError) as exc:
        load_project(path)
    assert _codes(exc) == {"lists[2].path": "outside_project"}
    # `..` that comes back inside is fine
    (tmp_path / "proj" / "b.csv").unlink()
    (tmp_path / "proj" / "b.csv").write_text("curp\nX\n", encoding="utf-8")
    path.write_text(TWO_LISTS.format(a="a.csv", b="../proj/b.csv"), encoding="utf-8")
    assert load_project(path).lists[1].path == (tmp_path / "proj" / "b.csv").resolve()


def test_etc_passwd_is_refused_without_reading_it(tmp_path, capsys):
    """The project file cannot opt itself in; its error never shows the file's contents."""
    passwd = Path("/etc/passwd")
    if not passwd.is_file():  # pragma: no cover - not a Unix system
        pytest.skip("no /etc/passwd here")
    first = passwd.read_text(encoding="utf-8", errors="replace").splitlines()[0]
    up = "../" * (len(tmp_path.parts) + 2)
    path = _project(tmp_path, b=f"{up}etc/passwd", body='allow_outside = true\n')
    assert main(["run", str(path), "-q"]) == 2
    err = capsys.readouterr().err
    assert "outside the project folder" in err and "allow_outside" in err  # unknown key, not an opt-in
    assert first not in err and "Traceback" not in err


def test_etc_passwd_as_a_list_never_echoes_its_contents(tmp_path, capsys):
    """Even when the user allows it, a file that is no agency list is refused without its lines."""
    passwd = Path("/etc/passwd")
    if not passwd.is_file():  # pragma: no cover
        pytest.skip("no /etc/passwd here")
    lines = [ln for ln in passwd.read_text(encoding="utf-8", errors="replace").splitlines() if ln][:3]
    path = _project(tmp_path, b=str(passwd))
    assert main(["run", str(path), "-q", "--allow-outside", "-o", str(tmp_path / "out")]) == 2
    out = capsys.readouterr()
    assert not any(line in out.err + out.out for line in lines)
    assert "Traceback" not in out.err


def test_methods_and_options_are_checked_at_load(tmp_path):
    path = _project(tmp_path, body='[estimation]\nmethods = ["lcmc", "loglinear"]\n'
                    '[estimation.options.loglinear]\nn_boots = 5\n')
    with pytest.raises(ValidationError) as exc:
        load_project(path)
    text = str(exc.value)
    assert "unknown method 'lcmc'" in text and "lcmcr" in text
    assert "'n_boots'" in text and "n_boot" in text
    path = _project(tmp_path, body='[estimation]\nmethods = ["loglinear"]\n'
                    '[estimation.options.loglinear]\nn_boot = -3\nseed = 4\n')
    with pytest.raises(ValidationError) as exc:
        load_project(path)
    text = str(exc.value)
    assert "n_boot" in text and "top-level `seed`" in text


def test_list_limits_of_each_method_are_checked_at_load(tmp_path):
    path = _project(tmp_path, body='[estimation]\nmethods = ["chao", "chapman"]\n')
    with pytest.raises(ValidationError) as exc:
        load_project(path)
    text = str(exc.value)
    assert "'chao' takes at least 3 lists" in text
    assert "chapman" not in text  # two lists are what chapman takes


def test_one_list_and_too_many_lists_are_refused_at_load(tmp_path):
    (tmp_path / "a.csv").write_text("curp\nX\n", encoding="utf-8")
    (tmp_path / "one.toml").write_text('[[lists]]\nsource = "A"\npath = "a.csv"\n', encoding="utf-8")
    with pytest.raises(ValidationError, match="at least two") as exc:
        load_project(tmp_path / "one.toml")
    assert _codes(exc) == {"lists": "too_few_lists"}
    for i in range(30):  # one file per list: a file named twice is refused as one list given twice
        (tmp_path / f"l{i}.csv").write_text(f"curp\nX{i}\n", encoding="utf-8")
    many = "".join(f'[[lists]]\nsource = "L{i}"\npath = "l{i}.csv"\n' for i in range(30))
    (tmp_path / "many.toml").write_text(many + '[estimation]\nmethods = ["lcmcr"]\n', encoding="utf-8")
    with pytest.raises(ValidationError, match="at most 24") as exc:
        load_project(tmp_path / "many.toml")
    assert set(_codes(exc).values()) == {"too_many_lists", "list_limit"}


def test_ingest_unrecognised_setting(tmp_path):
    assert load_project(_project(tmp_path)).on_unrecognised == "error"
    project = load_project(_project(tmp_path, body='[ingest]\nunrecognised = "unknown"\n'))
    assert project.on_unrecognised == "unknown"
    assert project.to_dict()["ingest"] == {"unrecognised": "unknown"}
    with pytest.raises(ValidationError) as exc:
        load_project(_project(tmp_path, body='[ingest]\nunrecognised = "drop"\nunrecognized = 1\n'))
    text = str(exc.value)
    assert "\"error\"" in text and "\"unknown\"" in text and "'unrecognized'" in text and "did you mean" in text


def test_misspelled_top_level_key_gets_a_did_you_mean(tmp_path):
    """docs/pipeline.md: "Unknown keys, at any level, are errors with a 'did you mean'"; the top level
    (`sed = 3` meant `seed`) used to name the key without the suggestion the nested sections give."""
    path = _project(tmp_path)
    path.write_text("sed = 3\n" + path.read_text(encoding="utf-8"), encoding="utf-8")
    with pytest.raises(ValidationError) as exc:
        load_project(path)
    text = str(exc.value)
    assert "unknown key(s) ['sed'] (did you mean 'seed'?)" in text
    assert "valid keys are" in text


def test_source_names_that_are_result_columns_are_refused(tmp_path):
    path = _project(tmp_path)
    path.write_text(path.read_text(encoding="utf-8").replace('"B"', '"count"'), encoding="utf-8")
    with pytest.raises(ValidationError, match="name of a column of the results"):
        load_project(path)


def test_odd_files(tmp_path):
    (tmp_path / "p.toml").mkdir()
    with pytest.raises(InputError, match="is a folder"):
        load_project(tmp_path / "p.toml")
    (tmp_path / "q.toml").write_bytes("name = 'é'".encode("utf-16"))
    with pytest.raises(InputError, match="not UTF-8"):
        load_project(tmp_path / "q.toml")
    path = _project(tmp_path / "r")
    (tmp_path / "r" / "b.csv").unlink()
    (tmp_path / "r" / "b.csv").mkdir()
    with pytest.raises(ValidationError, match="is not a file"):
        load_project(path)


_values = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 3) | st.floats(allow_nan=True) | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=8,
)
_keys = st.sampled_from(["name", "seed", "output", "lists", "ingest", "linkage", "tabulation", "estimation",
                         "publication"])
_sections = st.fixed_dictionaries({}, optional={
    "lists": st.lists(st.dictionaries(st.sampled_from(["source", "path", "mapping", "encoded"]), _values,
                                      max_size=4), max_size=3) | _values,
    "tabulation": st.dictionaries(st.just("strata"), _values) | _values,
    "estimation": st.dictionaries(st.sampled_from(["methods", "level", "options", "linkage_sensitivity"]),
                                  _values, max_size=4) | _values,
    "ingest": st.dictionaries(st.just("unrecognised"), _values) | _values,
    "linkage": st.dictionaries(st.sampled_from(["engine", "threshold", "private", "seed"]), _values) | _values,
    "publication": st.dictionaries(st.sampled_from(["title", "organisation", "reference_period", "languages",
                                                    "formats", "area", "denominators", "disclosure"]),
                                   _values | st.dictionaries(st.sampled_from(["threshold", "protection_width",
                                                                              "round_to", "min_lists"]), _values),
                                   max_size=4) | _values,
})


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=_sections, extra=st.dictionaries(_keys, _values, max_size=3))
def test_any_parsed_project_gives_a_project_or_an_input_error(tmp_path, data, extra):
    """Whatever the types in a parsed TOML file, the result is a Project or an InputError."""
    with contextlib.suppress(InputError):
        project_from_dict({**extra, **data}, base=tmp_path, file="p.toml")


def test_pipeline_surface_is_pinned():
    import cifranegra.pipeline as pipeline

    assert sorted(pipeline.__all__) == sorted([
        "MAX_LISTS", "STRATA", "UNRECOGNISED", "ListSpec", "Project", "RunResult", "check_compatible",
        "check_output", "check_strata", "demo_project", "estimate_all", "histories_by_stratum", "link_project",
        "linkage_sensitivity", "load_project", "project_from_dict", "read_project_lists", "run_project",
        "tabulate", "write_results",
    ])
    for name in pipeline.__all__:
        assert getattr(pipeline, name) is not None, name


def test_every_project_key_and_run_option_is_documented():
    """docs/pipeline.md names every key the project file takes and every option of `cifranegra run`."""
    import argparse

    from cifranegra.cli.run import register
    from cifranegra.pipeline import project as project_module

    docs = (Path(__file__).parents[2] / "docs" / "pipeline.md").read_text(encoding="utf-8")
    keys = set().union(project_module._TOP_KEYS, project_module._LIST_KEYS, project_module._INGEST_KEYS,
                       project_module._TABULATION_KEYS, project_module._ESTIMATION_KEYS,
                       project_module._PUBLICATION_KEYS)
    assert not [k for k in sorted(keys) if k not in docs]
    from cifranegra.report.disclosure import DisclosurePolicy

    policy_keys = [f.name for f in dataclasses.fields(DisclosurePolicy)]
    assert not [k for k in policy_keys if f"`{k}`" not in docs]
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    run_parser = parser._subparsers._group_actions[0].choices["run"]  # type: ignore[union-attr]
    flags = {o for a in run_parser._actions for o in a.option_strings if o.startswith("--") and o != "--help"}
    assert not [f for f in sorted(flags) if f not in docs]


def test_level_is_set_once(tmp_path):
    path = _project(tmp_path, body='[estimation]\nmethods = ["loglinear"]\nlevel = 0.9\n'
                    '[estimation.options.loglinear]\nlevel = 0.95\n')
    with pytest.raises(ValidationError, match="set once for every method"):
        load_project(path)


def test_an_all_model_search_too_large_for_the_lists_is_refused_at_load(tmp_path):
    """7 lists with select = "bic" would fit 2,097,152 models: refused at load, not after linkage."""
    (tmp_path / "a.csv").write_text("curp\nX\n", encoding="utf-8")
    for i in range(7):  # one file per list: a file named twice is refused as one list given twice
        (tmp_path / f"l{i}.csv").write_text(f"curp\nX{i}\n", encoding="utf-8")
    lists = "".join(f'[[lists]]\nsource = "L{i}"\npath = "l{i}.csv"\n' for i in range(7))
    bic = '[estimation]\nmethods = ["loglinear"]\n[estimation.options.loglinear]\nselect = "bic"\n'
    (tmp_path / "p.toml").write_text(lists + bic, encoding="utf-8")
    with pytest.raises(ValidationError, match="2,097,152") as exc:
        load_project(tmp_path / "p.toml")
    assert _codes(exc) == {"estimation.options.loglinear": "list_limit"}
    (tmp_path / "s.toml").write_text(lists + bic.replace('"bic"', '"stepwise"'), encoding="utf-8")
    assert load_project(tmp_path / "s.toml").methods == ("loglinear",)
