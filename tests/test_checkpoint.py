"""Long runs survive interruption: checkpoints after every EM iteration, and resuming."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from diffputer import DiffPuterImputer, ModelFileError
from diffputer import _em as em
from diffputer._checkpoint import CHECKPOINT_FILE, EMCheckpoint, read_progress
from diffputer.cli import main
from diffputer.config import get_preset

from .conftest import TINY, make_mixed_frame, mask_frame

PARAMS = {**TINY, "n_em_iter": 3}


@pytest.fixture
def masked():
    return mask_frame(make_mixed_frame(n=40))[0]


def _interrupt_after(monkeypatch, n_saves: int) -> None:
    """Raise KeyboardInterrupt right after the ``n_saves``-th checkpoint is written."""
    real = EMCheckpoint.save
    saves = []

    def save(self, state):
        real(self, state)
        saves.append(1)
        if len(saves) == n_saves:
            raise KeyboardInterrupt

    monkeypatch.setattr(EMCheckpoint, "save", save)


def _count_m_steps(monkeypatch) -> list[int]:
    real, calls = em.m_step, []

    def m_step(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(em, "m_step", m_step)
    return calls


@pytest.mark.parametrize("warm_start", [True, False])
@pytest.mark.parametrize("stop_after", [1, 2])
def test_resumed_fit_equals_an_uninterrupted_one(
    masked, tmp_path, monkeypatch, warm_start, stop_after
):
    params = {**PARAMS, "warm_start": warm_start}
    reference = DiffPuterImputer(**params)
    expected = reference.fit_transform(masked)

    with monkeypatch.context() as m:
        _interrupt_after(m, stop_after)
        with pytest.raises(KeyboardInterrupt):
            DiffPuterImputer(**params).fit(masked, checkpoint_dir=tmp_path)
    assert read_progress(tmp_path) == stop_after

    m_steps = _count_m_steps(monkeypatch)
    imp = DiffPuterImputer(**params)
    out = imp.fit_transform(masked, checkpoint_dir=tmp_path)
    assert len(m_steps) == 3 - stop_after  # the saved iterations were not recomputed
    pd.testing.assert_frame_equal(out, expected)
    pd.testing.assert_frame_equal(imp.transform(masked), reference.transform(masked))
    for a, b in zip(imp.denoiser_.parameters(), reference.denoiser_.parameters(), strict=True):
        assert torch.equal(a, b)
    assert [r["epochs"] for r in imp.history_] == [r["epochs"] for r in reference.history_]
    assert read_progress(tmp_path) == 3


def test_resume_with_another_eval_workers_count(masked, tmp_path, monkeypatch):
    """``eval_workers`` is speed only (every chunk has its own generator), so it is not
    part of the fingerprint: a fit interrupted with one count resumes with another and
    ends as an uninterrupted run with a third."""
    fast = get_preset("fast")
    expected = DiffPuterImputer(**PARAMS, preset=fast.replace(eval_workers=3)).fit_transform(masked)
    with monkeypatch.context() as m:
        _interrupt_after(m, 1)
        with pytest.raises(KeyboardInterrupt):
            DiffPuterImputer(**PARAMS, preset=fast.replace(eval_workers=1)).fit(
                masked, checkpoint_dir=tmp_path
            )
    m_steps = _count_m_steps(monkeypatch)
    out = DiffPuterImputer(**PARAMS, preset=fast.replace(eval_workers=2)).fit_transform(
        masked, checkpoint_dir=tmp_path
    )
    assert len(m_steps) == 2  # resumed, not refused or restarted
    pd.testing.assert_frame_equal(out, expected)


def test_finished_checkpoint_makes_a_rerun_instant(masked, tmp_path, monkeypatch):
    first = DiffPuterImputer(**PARAMS)
    a = first.fit_transform(masked, checkpoint_dir=tmp_path / "new" / "dir")  # created
    m_steps = _count_m_steps(monkeypatch)
    second = DiffPuterImputer(**PARAMS)
    b = second.fit_transform(masked, checkpoint_dir=tmp_path / "new" / "dir")
    assert m_steps == [] and second.history_ == first.history_
    pd.testing.assert_frame_equal(a, b)


@pytest.mark.parametrize(
    "change",
    [
        lambda frame, params: (frame.assign(a=frame["a"] + 1), params),
        lambda frame, params: (frame, {**params, "max_epochs": 4}),
        lambda frame, params: (frame, {**params, "random_state": 1}),
        lambda frame, params: (frame.rename(columns={"a": "A"}), params),
    ],
    ids=["data", "settings", "seed", "column_names"],
)
def test_checkpoint_of_another_fit_is_refused(masked, tmp_path, change):
    DiffPuterImputer(**{**PARAMS, "n_em_iter": 1}).fit(masked, checkpoint_dir=tmp_path)
    before = (tmp_path / CHECKPOINT_FILE).read_bytes()
    frame, params = change(masked, {**PARAMS, "n_em_iter": 1})
    with pytest.raises(ValueError, match="checkpoint of a different fit .* delete this file"):
        DiffPuterImputer(**params).fit(frame, checkpoint_dir=tmp_path)
    assert (tmp_path / CHECKPOINT_FILE).read_bytes() == before  # left as it was


def test_unseeded_fit_resumes_its_own_random_stream(masked, tmp_path, monkeypatch):
    params = {**PARAMS, "random_state": None}
    with monkeypatch.context() as m:
        _interrupt_after(m, 1)
        with pytest.raises(KeyboardInterrupt):
            DiffPuterImputer(**params).fit(masked, checkpoint_dir=tmp_path)
    m_steps = _count_m_steps(monkeypatch)
    imp = DiffPuterImputer(**params).fit(masked, checkpoint_dir=tmp_path)
    assert len(m_steps) == 2 and imp.n_iter_ == 3


def test_checkpoint_is_safetensors_with_json_and_damage_is_reported(masked, tmp_path):
    DiffPuterImputer(**PARAMS).fit(masked, checkpoint_dir=tmp_path)
    path = tmp_path / CHECKPOINT_FILE
    data = path.read_bytes()
    (n,) = np.frombuffer(data[:8], dtype="<u8")
    meta = json.loads(data[8 : 8 + int(n)])["__metadata__"]
    assert meta["format"] == "diffputer-checkpoint"
    assert json.loads(meta["payload"])["iterations_done"] == 3
    assert [p.name for p in tmp_path.iterdir()] == [CHECKPOINT_FILE]  # no temporary left
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelFileError, match="not a readable diffputer checkpoint"):
        DiffPuterImputer(**PARAMS).fit(masked, checkpoint_dir=tmp_path)


def test_a_model_file_is_not_a_checkpoint(masked, tmp_path):
    DiffPuterImputer(**PARAMS).fit(masked).save(tmp_path / CHECKPOINT_FILE)
    with pytest.raises(ModelFileError, match="not a diffputer checkpoint"):
        DiffPuterImputer(**PARAMS).fit(masked, checkpoint_dir=tmp_path)


def test_complete_table_with_checkpoint(tmp_path):
    full = make_mixed_frame(n=30)
    out = DiffPuterImputer(**PARAMS).fit_transform(full, checkpoint_dir=tmp_path)
    pd.testing.assert_frame_equal(out, full)
    assert read_progress(tmp_path) == 1


def test_verbose_resume_says_so(masked, tmp_path, capsys):
    DiffPuterImputer(**PARAMS).fit(masked, checkpoint_dir=tmp_path)
    capsys.readouterr()
    DiffPuterImputer(**{**PARAMS, "verbose": 2}).fit(masked, checkpoint_dir=tmp_path)
    err = capsys.readouterr().err
    assert "resuming from" in err and "3 of 3 EM iteration(s) already done" in err
    assert "EM iteration 1" not in err


# ---------------------------------------------------------------------- the CLI, killed
# Settings that make one EM iteration take about a second in a fresh process.
SLOW = {
    "n_em_iter": 3,
    "hidden_dim": 32,
    "max_epochs": 200,
    "batch_size": 64,
    "patience": 1000,
    "num_steps": 8,
    "resample_repeats": 2,
    "num_samples": 4,
}


def _slow_table(path: Path) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    n = 300
    a = rng.normal(size=n)
    frame = pd.DataFrame(
        {"a": a, "b": a + 0.1 * rng.normal(size=n), "c": rng.choice(["x", "y", "z"], n)}
    )
    frame = frame.mask(rng.random(frame.shape) < 0.2)
    frame.to_csv(path, index=False)
    return frame


def _wait_for(path: Path, proc: subprocess.Popen, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if proc.poll() is not None:
            pytest.fail(f"the run ended before its first checkpoint: {proc.communicate()}")
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail("no checkpoint appeared")
        time.sleep(0.01)


@pytest.mark.parametrize(
    "sig, code, message",
    [
        (signal.SIGKILL, -signal.SIGKILL, None),
        (signal.SIGINT, 130, "diffputer: interrupted; no output was written"),
        (signal.SIGTERM, 143, "diffputer: terminated; no output was written"),
    ],
    ids=["SIGKILL", "SIGINT", "SIGTERM"],
)
def test_cli_killed_mid_fit_resumes_from_its_checkpoint(tmp_path, capsys, sig, code, message):
    src, dst, ckpt = tmp_path / "in.csv", tmp_path / "out.csv", tmp_path / "ckpt"
    frame = _slow_table(src)
    args = ["impute", str(src), "-o", str(dst), "--checkpoint-dir", str(ckpt), "--seed", "3"]
    args += [f"--set={k}={v}" for k, v in SLOW.items()]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}  # as the autouse fixture does in-process
    proc = subprocess.Popen(
        [sys.executable, "-m", "diffputer", *args, "-q"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        # a suite started in the background (`cmd &` without job control) passes SIGINT
        # down as ignored, and Python then never raises KeyboardInterrupt: Ctrl-C's
        # default, as a terminal user has it
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    _wait_for(ckpt / CHECKPOINT_FILE, proc)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == code
    assert not dst.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt", "in.csv"]  # no partial file
    done = read_progress(ckpt)
    assert 1 <= done < SLOW["n_em_iter"]
    if message is not None:  # one line, no traceback
        assert err.strip() == f"{message}; rerun the same command to resume after EM " + (
            f"iteration {done} (in {ckpt})"
        )

    assert main([*args, "-v"]) == 0  # rerun: resumes, then completes
    err = capsys.readouterr().err
    assert f"{done} of 3 EM iteration(s) already done" in err
    assert f"EM iteration {done}:" not in err and "EM iteration 3:" in err
    out = pd.read_csv(dst)
    assert out.shape == frame.shape and not out.isna().any().any()
    observed = frame.notna().to_numpy()
    assert (out.to_numpy()[observed] == frame.to_numpy()[observed]).all()
    assert read_progress(ckpt) == 3
