"""Run a project with its linkage on the Spark session that ``spark-submit`` provides.

::

    spark-submit --master spark://HOST:7077 [--conf ...] \\
        "$(python -c 'import cifranegra.cli.spark_submit as m; print(m.__file__)')" \\
        PROJECT [--output DIR] [--checkpoint-dir URI] [--no-publish] [--json] [--quiet]

The session comes from ``SparkSession.builder.getOrCreate()``: whatever ``spark-submit`` (or
Databricks, EMR...) configured, never one built here. The project runs exactly as ``cifranegra
run PROJECT`` would (same outputs, same checks), except that its linkage uses ``engine = "spark"``
on that session whatever the project file says (a project of encoded lists has no Splink linkage
and is refused). ``--checkpoint-dir`` sets ``[linkage.extra] spark_checkpoint_dir``, which a
cluster requires (shared storage only you can read; the linkage's files there are deleted at its
end). The session is left running: ``spark-submit`` stops it when this script ends, and a managed
platform's shared session must not be stopped by a job. Exit codes as ``cifranegra``: 0 done,
2 bad input (its message on stderr), 3 a bug (the exception's type only: a message may quote data).
See docs/scale.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Sequence
from typing import Any

EXIT_BAD_INPUT = 2
EXIT_INTERNAL = 3


def build_parser() -> argparse.ArgumentParser:
    from cifranegra.cli.run import add_project_options

    p = argparse.ArgumentParser(
        prog="spark-submit ... cifranegra/cli/spark_submit.py",
        description="Run a cifranegra project (TOML) with its linkage on the Spark session that "
        "spark-submit provides; outputs as `cifranegra run`.",
    )
    add_project_options(p)
    p.add_argument("--checkpoint-dir", metavar="URI",
                   help="folder for Splink's Parquet checkpoints on storage every executor reaches "
                   "(hdfs://, s3://, dbfs:/...); sets [linkage.extra] spark_checkpoint_dir")
    return p


def spark_project(project: Any, checkpoint_dir: str | None = None) -> Any:
    """``project`` with its linkage on Spark (and ``checkpoint_dir``, when given)."""
    from cifranegra.errors import InputError

    if project.encoded:
        raise InputError(
            "this project's lists are encoded (private linkage), which runs without Spark; "
            "use `cifranegra run PROJECT` instead"
        )
    extra = dict(project.linkage.extra)
    if checkpoint_dir:
        extra["spark_checkpoint_dir"] = checkpoint_dir
    linkage = dataclasses.replace(project.linkage, engine="spark", extra=extra)
    return dataclasses.replace(project, linkage=linkage)


def main(argv: Sequence[str] | None = None) -> int:
    from cifranegra.errors import CifranegraError

    args = build_parser().parse_args(list(sys.argv[1:] if argv is None else argv))
    try:
        from pyspark.sql import SparkSession

        from cifranegra.cli.run import execute
        from cifranegra.pipeline import load_project

        SparkSession.builder.getOrCreate()  # spark-submit's session: the linkage finds it active
        project = spark_project(load_project(args.project, allow_outside=args.allow_outside), args.checkpoint_dir)
        return execute(project, args.output, args)
    except CifranegraError as exc:
        print(f"cifranegra: error: {exc}", file=sys.stderr)
        return int(getattr(exc, "exit_code", EXIT_BAD_INPUT))
    except ImportError as exc:
        print(f"cifranegra: error: {exc.name or 'a module'} cannot be imported by this Python; install "
              "cifranegra[spark] where spark-submit's driver runs (PYSPARK_DRIVER_PYTHON)", file=sys.stderr)
        return EXIT_BAD_INPUT
    except Exception as exc:
        print(f"cifranegra: internal error ({type(exc).__name__}); this is a bug", file=sys.stderr)
        return EXIT_INTERNAL


if __name__ == "__main__":  # pragma: no cover - run by spark-submit
    sys.exit(main())
