"""The ``diffputer`` command: a thin layer turning options into library calls."""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from pathlib import Path

from ._version import __version__

__all__ = ["main"]


class CLIError(Exception):
    """A problem to report in one line, with exit status ``code``."""

    def __init__(self, message: str, code: int = 1):
        super().__init__(message)
        self.code = code


def _add_verbosity(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=0,
        help="more output: -v adds a line per EM iteration and full tracebacks on errors",
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bars")


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="diffputer",
        description="Impute missing values in CSV/Parquet tables with DiffPuter.",
    )
    parser.add_argument("--version", action="version", version=f"diffputer {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    imp = sub.add_parser(
        "impute",
        help="fill the missing cells of a CSV or Parquet file",
        description="Fill the missing cells of IN and write the table to OUT (format by "
        "extension: .csv, .csv.gz, .parquet). Observed cells are written unchanged.",
    )
    imp.add_argument("input", metavar="IN", help="input table (.csv or .parquet)")
    imp.add_argument("-o", "--output", metavar="OUT", required=True, help="output table")
    imp.add_argument("--preset", default=None, help="settings preset (fast, paper)")
    imp.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    imp.add_argument("--device", default="auto", help="auto, cpu or cuda (default auto)")
    imp.add_argument(
        "--categorical",
        default=None,
        metavar="A,B",
        help="comma-separated columns to treat as categorical whatever their type",
    )
    imp.add_argument("--save-model", metavar="M", help="also save the fitted model to M")
    imp.add_argument("--model", metavar="M", help="use a saved model: impute without training")
    imp.add_argument("--force", action="store_true", help="overwrite OUT if it exists")
    _add_verbosity(imp)

    demo = sub.add_parser(
        "demo",
        help="impute a masked sample of UCI Adult and compare with mean/mode",
        description="Hide 30%% of a 1,500-row sample of UCI Adult (shipped with the "
        "package), impute it, and print the scores next to mean/mode imputation.",
    )
    demo.add_argument("--preset", default=None, help="settings preset (fast, paper)")
    demo.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    demo.add_argument("--rate", type=float, default=0.3, help="share of cells to hide")
    _add_verbosity(demo)

    bench = sub.add_parser(
        "bench", help="benchmark imputers on the paper's datasets", add_help=False
    )
    bench.add_argument("args", nargs=argparse.REMAINDER)
    return parser


def _verbosity(args: argparse.Namespace) -> int:
    return 0 if args.quiet else 1 + args.verbose


def _check_paths(src: Path, dst: Path, force: bool) -> None:
    if not src.is_file():
        raise CLIError(f"input file {src} does not exist")
    if dst.exists() and os.path.samefile(src, dst):
        raise CLIError(f"refusing to overwrite the input file {src}; choose another OUT")
    if dst.resolve() == src.resolve():
        raise CLIError(f"refusing to overwrite the input file {src}; choose another OUT")
    if dst.exists() and not force:
        raise CLIError(f"{dst} already exists; pass --force to overwrite it")
    if not dst.parent.exists():
        raise CLIError(f"output folder {dst.parent} does not exist")


def _impute(args: argparse.Namespace) -> int:
    from ._imputer import DiffPuterImputer
    from ._io import read_table, table_format, write_table

    src, dst = Path(args.input), Path(args.output)
    _check_paths(src, dst, args.force)
    table_format(src), table_format(dst)  # unknown extensions fail before any work
    frame = read_table(src)
    verbose = _verbosity(args)
    if args.model:
        if args.categorical or args.preset:
            raise CLIError("--model fixes the settings; drop --preset/--categorical")
        imputer = DiffPuterImputer.load(args.model, device=args.device)
        imputer.set_params(verbose=verbose, random_state=args.seed)
        result = imputer.transform(frame)
    else:
        params = dict(random_state=args.seed, device=args.device, verbose=verbose)
        if args.preset:
            params["preset"] = args.preset
        if args.categorical:
            params["categorical_columns"] = [c.strip() for c in args.categorical.split(",")]
        imputer = DiffPuterImputer(**params)
        result = imputer.fit_transform(frame)
        if args.save_model:
            imputer.save(args.save_model)
    write_table(result, dst)
    if verbose:
        n = int(frame.isna().to_numpy().sum())
        print(f"diffputer: imputed {n} cell(s); wrote {dst}", file=sys.stderr)
    return 0


def _demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    table = run_demo(rate=args.rate, seed=args.seed, preset=args.preset, verbose=_verbosity(args))
    print(table.attrs["summary"])
    print()
    print(table.to_string(float_format=lambda v: f"{v:.3f}"))
    return 0


def _bench(args: argparse.Namespace) -> int:
    try:
        from .bench.cli import main as bench_main
    except ImportError as exc:
        raise CLIError(f"the benchmark tools are not available: {exc}") from None
    return bench_main(args.args)


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit status."""
    parser = _build_parser()
    args = parser.parse_args(argv)
    handler = {"impute": _impute, "demo": _demo, "bench": _bench}[args.command]
    try:
        return handler(args)
    except KeyboardInterrupt:
        print("diffputer: interrupted; no output was written", file=sys.stderr)
        return 130
    except CLIError as exc:
        print(f"diffputer: error: {exc}", file=sys.stderr)
        return exc.code
    except (ValueError, TypeError, OSError, FloatingPointError) as exc:
        if getattr(args, "verbose", 0):
            traceback.print_exc()
        print(f"diffputer: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
