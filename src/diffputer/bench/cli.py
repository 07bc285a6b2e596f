"""``diffputer bench``: run the benchmark grid, or render its report.

::

    diffputer bench [run] --datasets california,adult --mechanisms MCAR,MAR,MNAR --masks 10 \\
        --rate 0.3 --methods mean,knn,mice,missforest,softimpute,em,diffputer --out DIR
    diffputer bench report DIR [-o REPORT.md] [--reference REFERENCE-RESULTS.md]
    diffputer bench merge SOURCE TARGET [--archive OLD.csv] [--include-errors] [--dry-run]
    diffputer bench list

``run`` is optional: ``diffputer bench --datasets ...`` runs the grid.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from .baselines import available, check_spec, unavailable
from .datasets import available_datasets, load_dataset
from .masks import MECHANISMS

__all__ = ["main"]

DEFAULT_METHODS = "mean,knn,mice,missforest,softimpute,em,diffputer"


def _split(text: str) -> list[str]:
    return [item.strip() for item in text.split(",") if item.strip()]


def _run_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="diffputer bench",
        description="Run imputers over datasets x mechanisms x masks; results go to "
        "OUT/results.csv, one cell at a time, and a rerun resumes where it stopped. "
        "Also: 'diffputer bench report DIR', 'diffputer bench merge SOURCE TARGET' and "
        "'diffputer bench list'.",
    )
    p.add_argument(
        "--datasets",
        required=True,
        help=f"comma-separated, or 'all' ({','.join(available_datasets())})",
    )
    p.add_argument("--mechanisms", default="MCAR", help="comma-separated: MCAR,MAR,MNAR")
    p.add_argument("--masks", type=int, default=10, help="masks per setting (default 10)")
    p.add_argument(
        "--mask-ids",
        default=None,
        help="comma-separated: run only these of the --masks masks, e.g. '1,2' (for "
        "sharing a grid out between processes; a mask's cells do not depend on the others)",
    )
    p.add_argument("--rate", type=float, default=0.3, help="missing rate (default 0.3)")
    p.add_argument(
        "--methods",
        default=DEFAULT_METHODS,
        help="comma-separated specs, name[:key=value...], e.g. "
        f"'mean,missforest:n_estimators=50,diffputer:preset=paper' (default {DEFAULT_METHODS})",
    )
    p.add_argument("--out", required=True, metavar="DIR", help="results folder")
    p.add_argument("--seed", type=int, default=0, help="root seed (default 0)")
    p.add_argument("--max-rows", type=int, default=None, help="subsample each dataset first")
    p.add_argument("--data-dir", default=None, help="data folder (default $DIFFPUTER_DATA_DIR)")
    p.add_argument("--retry-failed", action="store_true", help="rerun cells that failed")
    p.add_argument("-v", "--verbose", action="count", default=0, help="a line per cell")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    return p


def _report_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="diffputer bench report",
        description="Render DIR/results.csv as markdown tables (mean ± std over masks, "
        "the paper's numbers beside ours) and PNG figures.",
    )
    p.add_argument("dir", metavar="DIR", help="results folder")
    p.add_argument("-o", "--output", default=None, help="markdown file (default DIR/report.md)")
    p.add_argument("--reference", default=None, help="the paper's REFERENCE-RESULTS.md")
    return p


def _merge_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="diffputer bench merge",
        description="Put the cells of one results file (e.g. a rerun in a scratch folder) "
        "into another: each replaces the rows of the same cell where they stood, new "
        "cells go at the end. Values not replaced are written back as read.",
    )
    p.add_argument("source", metavar="SOURCE", help="results.csv, or its folder, to take")
    p.add_argument("target", metavar="TARGET", help="results.csv, or its folder, to update")
    p.add_argument(
        "--archive", default=None, metavar="FILE", help="append the replaced rows to this CSV"
    )
    p.add_argument(
        "--include-errors", action="store_true", help="also take cells that failed in SOURCE"
    )
    p.add_argument("--dry-run", action="store_true", help="say what would change; write nothing")
    return p


def _mask_ids(text: str) -> list[int]:
    try:
        return [int(k) for k in _split(text)]
    except ValueError:
        raise ValueError(f"--mask-ids expects comma-separated integers; got {text!r}") from None


def _config(args: argparse.Namespace):
    from .runner import BenchConfig

    datasets = available_datasets() if args.datasets == "all" else _split(args.datasets)
    unknown = [d for d in datasets if d.lower() not in available_datasets()]
    if unknown:
        raise ValueError(f"unknown dataset(s) {unknown}; expected {available_datasets()}")
    mechanisms = [m.upper() for m in _split(args.mechanisms)]
    bad = [m for m in mechanisms if m not in MECHANISMS]
    if bad:
        raise ValueError(f"unknown mechanism(s) {bad}; expected {list(MECHANISMS)}")
    methods = _split(args.methods)
    for option, names in (("--datasets", datasets), ("--mechanisms", mechanisms)):
        if not names:
            raise ValueError(f"{option} names nothing: the grid would be empty")
    if not methods:
        raise ValueError("--methods names nothing: the grid would be empty")
    for spec in methods:
        check_spec(spec)  # unknown names and bad parameters fail here, before any work
    if args.masks < 1:
        raise ValueError(f"--masks must be at least 1; got {args.masks}")
    if not 0 < args.rate < 1:
        raise ValueError(f"--rate must be in (0, 1); got {args.rate}")
    if args.max_rows is not None and args.max_rows < 10:
        raise ValueError(f"--max-rows must be at least 10; got {args.max_rows}")
    _check_out(args.out)
    for name in datasets:  # a missing data file now, not hours into the grid
        load_dataset(name, args.data_dir)
    return BenchConfig(
        datasets=tuple(datasets),
        mechanisms=tuple(mechanisms),
        methods=tuple(methods),
        n_masks=args.masks,
        rate=args.rate,
        seed=args.seed,
        max_rows=args.max_rows,
        data_dir=args.data_dir,
        mask_ids=None if args.mask_ids is None else tuple(_mask_ids(args.mask_ids)),
    )


def _check_out(out: str) -> None:
    """``--out`` can be the results folder: refused before any work if not."""
    path = Path(out)
    if path.exists() and not path.is_dir():
        raise ValueError(f"--out {out} is a file; it must name a folder for results.csv")
    folder = path if path.exists() else next((p for p in path.parents if p.exists()), Path("."))
    if not folder.is_dir() or not os.access(folder, os.W_OK | os.X_OK):
        raise ValueError(f"--out {out}: cannot write in {folder}")


def _run(argv: list[str]) -> int:
    from .runner import run_benchmark

    args = _run_parser().parse_args(argv)
    config = _config(args)
    try:
        results = run_benchmark(
            config, args.out, retry_failed=args.retry_failed, verbose=args.verbose,
            progress=not args.quiet,
        )  # fmt: skip
    except KeyboardInterrupt as exc:
        from ..cli import EXIT_INTERRUPTED, EXIT_TERMINATED, Terminated

        results_file = Path(args.out) / "results.csv"
        where = (
            f"finished cells are in {results_file} and the same command resumes"
            if results_file.is_file()
            else "no cell had finished"
        )
        what = "terminated" if isinstance(exc, Terminated) else "interrupted"
        print(f"diffputer bench: {what}; {where}", file=sys.stderr)
        return EXIT_TERMINATED if isinstance(exc, Terminated) else EXIT_INTERRUPTED
    ids = {config.cell_id(*c) for c in config.cells()}
    mine = results[results["cell_id"].isin(ids)]
    failed = mine.loc[mine["status"] == "error", "cell_id"].nunique()
    if failed:
        print(
            f"diffputer bench: {failed} cell(s) failed; see {args.out}/results.csv (rerun "
            "with --retry-failed to run them again)",
            file=sys.stderr,
        )
        return 1
    elif args.verbose:
        print(f"diffputer bench: {len(ids)} cell(s) in {args.out}/results.csv", file=sys.stderr)
    return 0


def _report(argv: list[str]) -> int:
    from .report import write_report

    args = _report_parser().parse_args(argv)
    path = write_report(args.dir, args.output, args.reference)
    print(path)
    return 0


def _merge(argv: list[str]) -> int:
    from .merge import merge_results, results_path

    args = _merge_parser().parse_args(argv)
    summary = merge_results(
        args.source,
        args.target,
        archive=args.archive,
        include_errors=args.include_errors,
        dry_run=args.dry_run,
    )
    text = summary.describe(results_path(args.source), results_path(args.target), args.archive)
    print(("would merge " if args.dry_run else "merged ") + text)
    return 0


def _list(argv: list[str]) -> int:
    argparse.ArgumentParser(
        prog="diffputer bench list",
        description="List the datasets, mechanisms and methods the benchmark knows (methods "
        "whose package is not installed are left out).",
    ).parse_args(argv)
    print("datasets:", ", ".join(available_datasets()))
    print("mechanisms:", ", ".join(MECHANISMS))
    print("methods:", ", ".join(available()))
    for name, problem in unavailable().items():
        print(f"not available here: {name} ({problem})")
    return 0


def main(argv: list[str]) -> int:
    """Entry point of ``diffputer bench``; returns the exit status.

    Errors in the options or the data (unknown names, missing files) are raised as
    ``ValueError``/``OSError`` for the main CLI to print in one line.
    """
    argv = list(argv)
    if argv[:1] == ["--"]:  # ``diffputer bench -- --datasets ...``
        argv = argv[1:]
    if argv[:1] == ["report"]:
        return _report(argv[1:])
    if argv[:1] == ["merge"]:
        return _merge(argv[1:])
    if argv[:1] == ["list"]:
        return _list(argv[1:])
    if argv[:1] == ["run"]:
        argv = argv[1:]
    return _run(argv)
