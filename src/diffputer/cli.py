"""The ``diffputer`` command: a thin layer turning options into library calls."""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import shlex
import signal
import sys
import traceback
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.utils._param_validation import StrOptions

from ._imputer import OVERRIDES, DiffPuterImputer
from ._io import to_numbers
from ._version import __version__

__all__ = ["main"]


class CLIError(Exception):
    """A problem to report in one line, with exit status ``code``."""

    def __init__(self, message: str, code: int = 1):
        super().__init__(message)
        self.code = code


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised like Ctrl-C so that temporary files are cleaned up on the way out."""


# exit statuses: 0 done, 1 error, 130 interrupted (Ctrl-C), 143 terminated (SIGTERM)
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 143


def _add_verbosity(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=0,
        help="more output: -v adds a line per EM iteration and full tracebacks on errors",
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bars")


def _seed(text: str) -> int:
    """``--seed``: an integer from 0 to 2**32 - 1 (numpy's seeds)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if not 0 <= value < 2**32:
        raise argparse.ArgumentTypeError(f"expected 0 to 4294967295, got {value}")
    return value


def _rate(text: str) -> float:
    """``--rate``: a share strictly between 0 and 1."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not 0 < value < 1:  # NaN fails too
        raise argparse.ArgumentTypeError(f"expected a share in (0, 1), got {text}")
    return value


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
    imp.add_argument("--preset", default=None, help="settings preset (fast, paper, conditional)")
    imp.add_argument("--seed", type=_seed, default=0, help="random seed (default 0)")
    imp.add_argument(
        "--device", default="auto", help="auto, cpu, cuda, cuda:N or mps (default auto)"
    )
    imp.add_argument(
        "--categorical",
        default=None,
        metavar="A,B",
        help="comma-separated columns to treat as categorical whatever their type",
    )
    imp.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a setting of the preset, e.g. --set n_em_iter=5 --set lr=1e-3 "
        "(repeatable; KEY is one of DiffPuterImputer's setting parameters: "
        f"{', '.join(OVERRIDES)})",
    )
    imp.add_argument(
        "--checkpoint-dir",
        metavar="DIR",
        help="save the fit after every EM iteration in DIR and, when rerun with the same "
        "DIR, resume from the last completed iteration",
    )
    imp.add_argument(
        "--sep",
        default=",",
        metavar="C",
        help="a CSV file's column separator, e.g. ';' or '\\t' (default ','; a CSV output "
        "uses the same)",
    )
    imp.add_argument("--encoding", default="utf-8", help="a CSV file's text encoding (utf-8)")
    imp.add_argument(
        "--decimal",
        default=".",
        metavar="C",
        help="a CSV file's decimal mark: '.' (default) or ',' for numbers such as 3,25 "
        "(usually with --sep ';'; imputed numbers are written with it too)",
    )
    imp.add_argument(
        "--na-values",
        default=None,
        metavar="A,B",
        help="comma-separated texts that mark a missing CSV cell besides the empty one "
        "(default pandas' markers: NA, N/A, NaN, null, None, ...; --na-values '' "
        "for empty cells only); spaces "
        "around a cell are ignored. For a Parquet file: text cells to read as missing "
        "besides its nulls (none by default)",
    )
    imp.add_argument("--save-model", metavar="M", help="also save the fitted model to M")
    imp.add_argument("--model", metavar="M", help="use a saved model: impute without training")
    imp.add_argument("--force", action="store_true", help="overwrite OUT (and M) if they exist")
    _add_verbosity(imp)

    demo = sub.add_parser(
        "demo",
        help="impute a masked sample of UCI Adult and compare with mean/mode",
        description="Hide 30% of a 1,500-row sample of UCI Adult (shipped with the "
        "package), impute it, and print the scores next to mean/mode imputation.",
    )
    demo.add_argument("--preset", default=None, help="settings preset (fast, paper, conditional)")
    demo.add_argument("--seed", type=_seed, default=0, help="random seed (default 0)")
    demo.add_argument(
        "--rate", type=_rate, default=0.3, help="share of cells to hide, in (0, 1) (default 0.3)"
    )
    _add_verbosity(demo)

    bench = sub.add_parser(
        "bench", help="benchmark imputers on the paper's datasets", add_help=False
    )
    bench.add_argument("args", nargs=argparse.REMAINDER)
    return parser


def _verbosity(args: argparse.Namespace) -> int:
    return 0 if args.quiet else 1 + args.verbose


def _check_paths(src: Path, dst: Path, force: bool, what: str = "OUT") -> None:
    """Refuse to write over the input, or over an existing file without ``--force``."""
    if not src.is_file():
        raise CLIError(f"input file {src} does not exist")
    if dst.resolve() == src.resolve() or (dst.exists() and os.path.samefile(src, dst)):
        raise CLIError(f"refusing to overwrite the input file {src}; choose another {what}")
    if dst.is_dir():
        raise CLIError(f"{dst} is a folder; {what} must name a file")
    if dst.exists() and not force:
        raise CLIError(f"{dst} already exists; pass --force to overwrite it")
    folder = dst.parent
    if not folder.exists():
        raise CLIError(f"output folder {folder} does not exist")
    if not folder.is_dir():
        raise CLIError(f"{folder} is not a folder; cannot write {dst}")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise CLIError(f"output folder {folder} is not writable")


def _parse_value(text: str) -> Any:
    """``"3"`` -> 3, ``"1e-3"`` -> 0.001, ``"true"`` -> True; anything else is an error."""
    lowered = text.strip().lower()
    if lowered in ("true", "yes", "on"):
        return True
    if lowered in ("false", "no", "off"):
        return False
    for convert in (int, float):
        try:
            return convert(lowered)
        except ValueError:
            continue
    raise CLIError(f"--set value {text!r} is not a number or true/false")


def _parse_settings(pairs: list[str]) -> dict[str, Any]:
    """``["n_em_iter=5", "lr=1e-3"]`` -> constructor overrides, checked by name."""
    settings, words = {}, _word_settings()
    for pair in pairs:
        key, sep, value = pair.partition("=")
        key = key.strip()
        if not sep or key not in OVERRIDES:
            raise CLIError(
                f"--set expects KEY=VALUE with KEY one of {', '.join(OVERRIDES)}; got {pair!r}"
            )
        # a word the setting accepts goes through as text (word-only settings: any
        # text, the imputer checks it); everything else must be a number or true/false
        text = value.strip()
        allowed, words_only = words.get(key, (set(), False))
        if text in allowed or words_only:
            settings[key] = text
            continue
        try:
            settings[key] = _parse_value(value)
        except CLIError:
            if not allowed:
                raise
            raise CLIError(
                f"--set {key}={text!r}: expected a number or one of {sorted(allowed)}"
            ) from None
    return settings


def _word_settings() -> dict[str, tuple[set[str], bool]]:
    """Settings that take words: the words each accepts, and whether it takes only words."""
    constraints = DiffPuterImputer._parameter_constraints
    found = {}
    for key in OVERRIDES:
        options = [c for c in constraints[key] if isinstance(c, StrOptions)]
        if options:
            others = [c for c in constraints[key] if c is not None and c not in options]
            found[key] = (set().union(*(c.options for c in options)), not others)
    return found


def _check_model_options(args: argparse.Namespace) -> None:
    clashing = [
        flag
        for flag, value in (
            ("--preset", args.preset),
            ("--categorical", args.categorical),
            ("--set", args.set),
            ("--save-model", args.save_model),
            ("--checkpoint-dir", args.checkpoint_dir),
        )
        if value
    ]
    if clashing:
        raise CLIError(f"--model imputes with a fitted model; drop {', '.join(clashing)}")


def _separator(text: str) -> str:
    """``--sep``'s value: one character, ``\\t`` (as typed in a shell) for a tab."""
    sep = {"\\t": "\t", "tab": "\t"}.get(text, text)
    if len(sep) != 1:
        raise CLIError(f"--sep expects one character (or \\t); got {text!r}")
    return sep


def _impute(args: argparse.Namespace) -> int:
    from ._io import mark_missing, read_csv_text, read_table, table_format

    src, dst = Path(args.input), Path(args.output)
    _check_paths(src, dst, args.force)
    if args.save_model:
        model = Path(args.save_model)
        _check_paths(src, model, args.force, what="M")
        if model.resolve() == dst.resolve():
            raise CLIError("--save-model and -o name the same file; choose another M")
    if args.model:
        _check_model_options(args)
    settings = _parse_settings(args.set)
    sep = _separator(args.sep)
    decimal = args.decimal
    if decimal not in (".", ","):
        raise CLIError(f"--decimal expects '.' or ','; got {decimal!r}")
    # unknown extensions fail before any work
    csv_in, csv_out = table_format(src) == "csv", table_format(dst) == "csv"
    verbose = _verbosity(args)
    imputer = DiffPuterImputer.load(args.model, device=args.device) if args.model else None
    # None: pandas' markers for a CSV, none for Parquet (markers are matched stripped)
    na_values = None if args.na_values is None else args.na_values.split(",")
    text, as_text = None, None
    if csv_in:
        # as text: observed cells are written back as they were read
        text = read_csv_text(
            src, sep=sep, encoding=args.encoding, na_values=na_values, decimal=decimal
        )
        kinds = {c.name: c for c in imputer.encoder_.columns_} if imputer else None
        categorical = _named_columns(args.categorical, list(text.text.columns), src)
        frame = text.typed(categorical, kinds)
    else:
        frame = read_table(src)
        if na_values is not None:  # a Parquet file's text cells, when asked
            frame = mark_missing(frame, na_values)
        if imputer is not None:
            _check_text_categories(imputer, frame, src)
            frame, as_text = _numbers_from_text(imputer, frame)
        categorical = _named_columns(args.categorical, list(frame.columns), src)
    n_missing = int(text.missing.sum()) if text is not None else int(frame.isna().to_numpy().sum())
    if n_missing == 0 and not args.save_model:
        # nothing to impute and no model asked for: no training (minutes on a large
        # table), the table written as it was read
        _write(frame, text, dst, csv_out, sep)
        if verbose:
            print(
                f"diffputer: no missing cell in {src}; wrote it unchanged to {dst}", file=sys.stderr
            )
        return 0
    try:
        if imputer is not None:
            imputer.set_params(verbose=verbose, random_state=args.seed)
            # a file's columns go by name: the model's order for it, the file's back
            order = _model_order(imputer, list(frame.columns), src)
            result = imputer.transform(frame if order is None else frame[order])
            if order is not None:
                result = result[list(frame.columns)]
            if as_text is not None:
                result = as_text(result)
        else:
            params = dict(random_state=args.seed, device=args.device, verbose=verbose, **settings)
            if args.preset:
                params["preset"] = args.preset
            if categorical:
                params["categorical_columns"] = categorical
            imputer = DiffPuterImputer(**params)
            result = imputer.fit_transform(frame, checkpoint_dir=args.checkpoint_dir)
    except (ValueError, TypeError) as exc:
        problem = getattr(exc, "column_problem", None)
        if problem is None:
            raise
        raise CLIError(_file_fix(problem, src, text)) from exc
    # the table first: a model that cannot be saved does not cost the imputations
    _write(result, text, dst, csv_out, sep)
    if args.save_model:
        imputer.save(args.save_model)
    if verbose:
        print(f"diffputer: imputed {n_missing} cell(s); wrote {dst}", file=sys.stderr)
    return 0


def _write(result: Any, text: Any, dst: Path, csv_out: bool, sep: str) -> None:
    """The imputed table to ``dst``: a CSV read as text, as its text with the missing
    cells filled; otherwise typed (codes such as 04256 read from a CSV stay text)."""
    from ._io import write_table

    if text is not None and csv_out:
        text.write(text.filled(result, copy=False), dst)
        return
    if text is not None:
        result = text.with_codes(result)
    write_table(result, dst, sep=sep)


def _named_columns(spec: str | None, columns: list[Any], src: Path) -> list[Any]:
    """``--categorical``'s comma-separated names, each as the file spells it (spaces
    around a name are dropped unless the file's name has them); an unknown name is an
    error listing the file's columns."""
    if not spec:
        return []
    names = [raw if raw in columns else raw.strip() for raw in spec.split(",")]
    unknown = [n for n in names if n not in columns]
    if unknown:
        shown = ", ".join(repr(c) for c in columns[:10]) + (", ..." if len(columns) > 10 else "")
        raise CLIError(f"--categorical names {unknown}, not columns of {src} ({shown})")
    return names


def _numbers_from_text(imputer: DiffPuterImputer, frame: Any) -> tuple[Any, Any]:
    """A Parquet file's text columns of numbers (codes such as ``09933``, as the CLI
    writes them from a CSV) that the model knows as numeric: read as numbers for the
    model, and given back as text (imputed ones written like the observed, padded).
    Returns the frame for the model and the function that restores the text."""
    from ._io import _number_text

    originals, read = {}, {}
    for info in imputer.encoder_.columns_:
        if info.kind == "categorical" or info.name not in frame.columns:
            continue
        column = frame[info.name]
        values = column.dropna()
        if values.empty or not all(isinstance(v, str) for v in values):
            continue
        numbers = to_numbers(column.astype(object).where(column.notna()), errors="coerce")
        if numbers[column.notna()].isna().any():
            continue  # not all numbers: the imputer's own check names the column
        originals[info.name], read[info.name] = column, numbers
    if not originals:
        return frame, lambda result: result
    frame = frame.copy()
    for name, numbers in read.items():
        frame[name] = numbers

    def restore(result: Any) -> Any:
        result = result.copy()
        for name, column in originals.items():
            missing = column.isna().to_numpy()
            texts = column.astype(object).copy()
            write = _number_text(column[~missing].astype(str), ".")
            imputed = result[name][missing]
            if len(imputed) and (imputed == imputed.round()).all():
                imputed = imputed.astype("Int64")  # whole: written as 9933 (padded), not 9933.0
            texts[missing] = write(imputed)
            result[name] = texts.astype(column.dtype)
        return result

    return frame, restore


def _check_text_categories(imputer: DiffPuterImputer, frame: Any, src: Path) -> None:
    """A model trained on a CSV file knows a true/false or number column as text
    categories ('True', '3'); in a Parquet file the column holds booleans or numbers,
    which it would take for unseen values. Refuse that before any sampling."""
    for info in imputer.encoder_.columns_:
        if info.kind != "categorical" or info.name not in frame.columns:
            continue
        categories = info.categories or []
        if not categories or not all(isinstance(c, str) for c in categories):
            continue
        values = frame[info.name].dropna()
        other = next((v for v in values if not isinstance(v, str)), None)
        if other is not None:
            raise CLIError(
                f"column {info.name!r} held text when the model was trained (categories "
                f"such as {categories[:3]}) but holds {type(other).__name__} values in "
                f"{src} (such as {other!r}); impute a CSV version of the file, or train "
                "a model on Parquet files"
            )


def _model_order(imputer: DiffPuterImputer, columns: list[Any], src: Path) -> list[Any] | None:
    """The file's columns in the order the model was trained on (None: already so);
    a column the model lacks, or one it needs and the file lacks, is an error."""
    fitted = [c.name for c in imputer.encoder_.columns_]
    if columns == fitted:
        return None
    lacking = [c for c in fitted if c not in columns]
    if lacking:
        raise CLIError(f"{src} lacks column(s) {lacking} that the model was trained on")
    unknown = [c for c in columns if c not in fitted]
    if unknown:
        raise CLIError(
            f"{src} has column(s) {unknown} that the model was not trained on; remove them "
            f"from the file (the model imputes the {len(fitted)} columns it was trained on)"
        )
    return fitted


def _file_fix(problem: Any, src: Path, text: Any) -> str:
    """A refused column's problem, with the fix for a file instead of the library's
    pandas one. ``problem``: the error's :class:`~diffputer._validation.ColumnProblem`;
    ``text``: the CSV as read (None for Parquet), to quote the cells at fault."""
    if problem.reason == "no_observed":
        return (
            f"{problem.text} in {src}, so there is nothing to learn them from; remove them "
            "from the file (or fill them) before imputing"
        )
    if problem.reason == "dtype":
        return (
            f"{problem.text}: diffputer imputes numbers and categories only; convert the "
            "column to numbers or text in the file, or remove it"
        )
    if problem.reason not in ("infinite", "not_numeric"):
        return str(problem.text)
    infinite = problem.reason == "infinite"
    if text is None:  # Parquet
        if infinite:
            return (
                f"{problem.text}: values, not missing cells; to have them imputed, make "
                "them missing in the file"
            )
        return f"{problem.text}; convert the column to numbers in the file"
    cells = _cells_at_fault(text, problem.columns[0], infinite)
    if not cells:  # not expected: every such column has a cell at fault
        return str(problem.text)
    quoted = ", ".join(repr(c) for c in cells)
    markers = list(dict.fromkeys(c.strip() for c in cells))  # matched without spaces
    example = ""
    if not any("," in m for m in markers):
        example = ", e.g. " + shlex.quote("--na-values=" + ",".join(["NA", *markers]))
    if infinite:
        head = f"{problem.text}, written {quoted}: values, not missing cells"
    else:
        head = (
            f"column {problem.columns[0]!r} was numeric when the model was trained but holds "
            f"text in {src}, such as {quoted}"
        )
    return (
        f"{head}; to have such cells imputed, list their text with --na-values (which "
        f"replaces the default markers){example}"
    )


def _cells_at_fault(text: Any, name: Any, infinite: bool, most: int = 5) -> list[str]:
    """Up to ``most`` distinct observed texts of a CSV column that read as infinite
    numbers (``infinite``), or as no number at all."""
    i = list(text.text.columns).index(name)
    cells = text.text.iloc[:, i][~text.missing[:, i]]
    numbers = to_numbers(cells, text.decimal, errors="coerce").to_numpy(dtype=float)
    at_fault = np.isinf(numbers) if infinite else np.isnan(numbers)
    return [str(c) for c in cells[at_fault].unique()[:most]]


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


def _one_line(exc: BaseException) -> str:
    """An exception's message on one line (some, like scikit-learn's, span several)."""
    text = ""
    for line in str(exc).splitlines():
        line = line.strip().removeprefix("- ")
        if line:
            text += line if not text else (" " if text.endswith((":", ".")) else "; ") + line
    return text or type(exc).__name__


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    print(f"diffputer: warning: {_one_line(Warning(message))}", file=sys.stderr)


def _resume_hint(args: argparse.Namespace) -> str:
    """After an interruption: how to go on, when a checkpoint holds finished work."""
    directory = getattr(args, "checkpoint_dir", None)
    if not directory:
        return ""
    from ._checkpoint import read_progress

    try:
        done = read_progress(directory)
    except (OSError, ValueError):
        return ""
    if not done:
        return ""
    return f"; rerun the same command to resume after EM iteration {done} (in {directory})"


def _terminate(signum: int, frame: Any) -> None:
    raise Terminated


@contextlib.contextmanager
def _cli_signals_and_warnings() -> Iterator[None]:
    """One-line warnings, and SIGTERM handled like Ctrl-C, for the duration of a command."""
    with warnings.catch_warnings():
        if not sys.warnoptions:  # python -W ... keeps its say
            warnings.simplefilter("default")
        warnings.showwarning = _show_warning
        previous = None
        with contextlib.suppress(ValueError):  # signals can only be set in the main thread
            previous = signal.signal(signal.SIGTERM, _terminate)
        try:
            yield
        finally:
            if previous is not None:
                signal.signal(signal.SIGTERM, previous)


def _dash_values(argv: list[str]) -> list[str]:
    """``--na-values -,?`` as ``--na-values=-,?``: argparse takes a value starting with
    '-' for an option; one that is not an option of ours is the markers."""
    out, i = [], 0
    while i < len(argv):
        if argv[i] == "--na-values" and i + 1 < len(argv):
            value = argv[i + 1]
            short_option = re.fullmatch(r"-[ovqh]+", value) is not None
            if value.startswith("-") and not value.startswith("--") and not short_option:
                out.append(f"--na-values={value}")
                i += 2
                continue
        out.append(argv[i])
        i += 1
    return out


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit status.

    0: done. 1: an error, reported in one line on stderr (with the traceback under
    ``-v``). 130: interrupted by Ctrl-C, 143: terminated by SIGTERM; in both cases no
    output file was written or changed, and a checkpoint of the last completed EM
    iteration is kept when ``--checkpoint-dir`` was given.
    """
    parser = _build_parser()
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["bench"]:
        # the bench tools parse their own options: hand them everything after "bench"
        args = argparse.Namespace(command="bench", args=argv[1:], verbose=0)
    else:
        args = parser.parse_args(_dash_values(argv))
    handler = {"impute": _impute, "demo": _demo, "bench": _bench}[args.command]
    verbose = getattr(args, "verbose", 0)
    try:
        with _cli_signals_and_warnings():
            return handler(args)
    except KeyboardInterrupt as exc:
        what = "terminated" if isinstance(exc, Terminated) else "interrupted"
        print(f"diffputer: {what}; no output was written{_resume_hint(args)}", file=sys.stderr)
        return EXIT_TERMINATED if isinstance(exc, Terminated) else EXIT_INTERRUPTED
    except CLIError as exc:
        if verbose and exc.__cause__ is not None:  # a library error, reworded
            traceback.print_exc()
        print(f"diffputer: error: {exc}", file=sys.stderr)
        return exc.code
    except (ValueError, TypeError, OSError, FloatingPointError, MemoryError) as exc:
        if verbose:
            traceback.print_exc()
        print(f"diffputer: error: {_one_line(exc)}", file=sys.stderr)
        return 1
    except Exception as exc:  # a bug: still one line, the traceback under -v
        if verbose:
            traceback.print_exc()
        hint = "" if verbose else " (rerun with -v for the traceback)"
        print(
            f"diffputer: error: unexpected {type(exc).__name__}: {_one_line(exc)}{hint}",
            file=sys.stderr,
        )
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
