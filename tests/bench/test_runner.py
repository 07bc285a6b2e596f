"""The runner: protocol, seeds, the tidy file, failures, and resuming."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from diffputer.bench import baselines, runner
from diffputer.bench.baselines import MeanModeBaseline
from diffputer.bench.runner import (
    RESULT_COLUMNS,
    BenchConfig,
    ResultsFile,
    derive_rng,
    machine_label,
    run_benchmark,
    split_table,
)

from .conftest import make_structured

TINY = make_structured(120)


def loader(name: str):
    return TINY


def config(**changes) -> BenchConfig:
    base = dict(datasets=("tiny",), mechanisms=("MCAR", "MAR"), methods=("mean", "em"), n_masks=2)
    return BenchConfig(**(base | changes))


def run(cfg: BenchConfig, out, **kwargs) -> pd.DataFrame:
    return run_benchmark(cfg, out, loader=loader, progress=False, **kwargs)


def test_split_is_70_30_fixed_and_subsamples():
    a = split_table(TINY, config())
    b = split_table(TINY, config(mechanisms=("MNAR",), methods=("knn",)))
    assert len(a.train_rows) == 84 and len(a.test_rows) == 36
    assert np.array_equal(a.train_rows, b.train_rows)
    assert not set(a.train_rows) & set(a.test_rows)
    small = split_table(TINY, config(max_rows=50))
    assert len(small.truth) == 50 and len(small.train_rows) == 35
    other_seed = split_table(TINY, config(seed=1))
    assert not np.array_equal(a.train_rows, other_seed.train_rows)


def test_derived_generators_are_stable():
    x = derive_rng(0, "mask", "adult", "MAR", 3).random(3)
    assert np.array_equal(x, derive_rng(0, "mask", "adult", "MAR", 3).random(3))
    assert not np.array_equal(x, derive_rng(0, "mask", "adult", "MAR", 4).random(3))
    assert not np.array_equal(x, derive_rng(1, "mask", "adult", "MAR", 3).random(3))


def test_tidy_results(tmp_path):
    results = run(config(), tmp_path)
    assert list(results.columns) == RESULT_COLUMNS
    # 2 mechanisms x 2 masks x 2 methods = 8 cells; 2 settings x 3 metrics per cell
    assert results["cell_id"].nunique() == 8 and len(results) == 8 * 6
    assert set(results["metric"]) == {"mae", "rmse", "acc"}
    assert set(results["setting"]) == {"in-sample", "out-of-sample"}
    assert (results["status"] == "ok").all()
    assert results["value"].notna().all()
    assert (results["n_train"] == 84).all() and (results["n_test"] == 36).all()
    assert (results["fit_seconds"] >= 0).all() and (results["seconds"] >= 0).all()
    on_disk = pd.read_csv(tmp_path / "results.csv")
    assert len(on_disk) == len(results)
    assert [p.name for p in tmp_path.iterdir()] == ["results.csv"]  # no temporary left
    assert (results["host"] == machine_label()).all() and machine_label().strip()
    # mean imputation is worse than EM on this structured table
    mae = results[results["metric"] == "mae"].groupby("method")["value"].mean()
    assert mae["em"] < mae["mean"]


def test_results_written_before_the_host_column_still_load(tmp_path):
    # files (and docs/bench/results.csv rows) from before the host column: read as ""
    results = run(config(mechanisms=("MCAR",), n_masks=1), tmp_path)
    results.drop(columns="host").to_csv(tmp_path / "results.csv", index=False)
    old = ResultsFile(tmp_path / "results.csv")
    assert list(old.frame.columns) == RESULT_COLUMNS and (old.frame["host"] == "").all()
    assert old.done() == set(results["cell_id"])  # resuming still skips them
    more = run(config(mechanisms=("MCAR",), n_masks=2), tmp_path)
    hosts = more.groupby("mask")["host"].unique()
    assert list(hosts[0]) == [""] and list(hosts[1]) == [machine_label()]  # old rows kept


def test_masks_do_not_depend_on_which_methods_run(tmp_path):
    alone = run(config(methods=("mean",)), tmp_path / "a")
    both = run(config(methods=("em", "mean")), tmp_path / "b")
    pick = ["cell_id", "setting", "metric", "value", "n_cells"]
    a = alone[pick].sort_values(pick[:3]).reset_index(drop=True)
    b = both.loc[both["method"] == "mean", pick].sort_values(pick[:3]).reset_index(drop=True)
    pd.testing.assert_frame_equal(a, b)


def test_interrupted_run_resumes_where_it_stopped(tmp_path, monkeypatch):
    calls = []
    real = runner.run_cell

    def counting(table, mask, spec, random_state):
        if len(calls) == 3:
            raise KeyboardInterrupt
        calls.append(spec)
        return real(table, mask, spec, random_state)

    monkeypatch.setattr(runner, "run_cell", counting)
    with pytest.raises(KeyboardInterrupt):
        run(config(), tmp_path)
    assert ResultsFile(tmp_path / "results.csv").frame["cell_id"].nunique() == 3
    first = ResultsFile(tmp_path / "results.csv").frame

    calls.clear()
    monkeypatch.setattr(runner, "run_cell", lambda *a: calls.append(a[2]) or real(*a))
    results = run(config(), tmp_path)
    assert len(calls) == 5  # only the cells not yet done
    assert results["cell_id"].nunique() == 8
    kept = results[results["cell_id"].isin(first["cell_id"])].reset_index(drop=True)
    pd.testing.assert_frame_equal(kept, first)  # finished cells were not redone
    calls.clear()
    run(config(), tmp_path)
    assert calls == []


class Broken(MeanModeBaseline):
    """Fails in fit (``where="fit"``) or only on new rows (``where="transform"``)."""

    def __init__(self, *, where: str = "fit", random_state=None):
        self.where = where
        self.random_state = random_state

    def _fit_impute(self, x):
        if self.where == "fit":
            raise RuntimeError("boom in fit")
        return super()._fit_impute(x)

    def _impute_new(self, x):
        raise RuntimeError("boom in transform")


@pytest.fixture
def broken(monkeypatch):
    monkeypatch.setitem(baselines._REGISTRY, "broken", baselines.MethodInfo(Broken, "Broken", {}))


def test_a_failing_method_is_recorded_and_the_run_goes_on(tmp_path, broken):
    methods = ("broken", "broken:where=transform", "mean")
    cfg = config(mechanisms=("MCAR",), methods=methods, n_masks=1)
    results = run(cfg, tmp_path).set_index(["method", "setting"])
    assert (results.loc[("broken",), "status"] == "error").all()
    assert (results.loc[("broken", "in-sample"), "error"] == "RuntimeError: boom in fit").all()
    assert results.loc[("broken", "out-of-sample"), "error"].str.startswith("fit failed").all()
    half = results.loc["broken:where=transform"]
    assert (half.loc["in-sample", "status"] == "ok").all()
    assert (half.loc["out-of-sample", "error"] == "RuntimeError: boom in transform").all()
    assert (results.loc["mean", "status"] == "ok").all()
    # a rerun leaves failed cells alone unless asked to retry them
    assert len(run(cfg, tmp_path)) == len(results)
    again = run(cfg, tmp_path, retry_failed=True)
    assert len(again) == len(results)  # the failed cells' rows were replaced, not added


def test_bad_method_parameters_fail_before_any_work(tmp_path):
    with pytest.raises(ValueError, match="n_neighbors"):
        run(config(methods=("mean", "knn:n_neighbors=0")), tmp_path)
    assert not (tmp_path / "results.csv").exists()


def test_in_sample_only_method_is_marked_unsupported(tmp_path):
    spec = "missforest:keep_forests=False:n_estimators=5:n_jobs=1"
    results = run(config(mechanisms=("MCAR",), methods=(spec,), n_masks=1), tmp_path)
    status = results.groupby("setting")["status"].unique()
    assert list(status["in-sample"]) == ["ok"]
    assert list(status["out-of-sample"]) == ["unsupported"]
    assert results.loc[results["setting"] == "out-of-sample", "value"].isna().all()


def test_verbose_prints_a_line_per_cell(tmp_path, capsys):
    run(config(mechanisms=("MCAR",), n_masks=1), tmp_path, verbose=1)
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and err[0].startswith("[1/2] tiny MCAR mask 0 mean:")


def test_silent_by_default(tmp_path, capsys):
    run_benchmark(config(n_masks=1), tmp_path, loader=loader)  # stderr is not a terminal
    assert capsys.readouterr() == ("", "")


def test_results_file_refuses_foreign_csv(tmp_path):
    path = tmp_path / "results.csv"
    path.write_text("a,b\n1,2\n")
    with pytest.raises(ValueError, match="not a results file"):
        ResultsFile(path)


def test_config_spells_every_cell_one_way():
    cfg = BenchConfig(datasets=("Tiny",), mechanisms=("mcar",), methods=("KNN:weights=distance",))
    assert cfg.cells() == [("tiny", "MCAR", k, "knn:weights=distance") for k in range(10)]
    assert cfg.cell_id(*cfg.cells()[0]) == "tiny|MCAR|0.3|0|knn:weights=distance|0|all"


def test_mask_ids_run_a_subset_of_the_same_cells():
    full = BenchConfig(datasets=("tiny",), methods=("mean",), n_masks=3)
    part = BenchConfig(datasets=("tiny",), methods=("mean",), n_masks=3, mask_ids=(2, 0, 2))
    assert [k for _, _, k, _ in part.cells()] == [0, 2]
    assert set(part.cells()) < set(full.cells()) and part == full  # same grid, same ids
    with pytest.raises(ValueError, match="outside 0..2"):
        BenchConfig(datasets=("tiny",), n_masks=3, mask_ids=(3,))
