#!/usr/bin/env bash
# Create the isolated environment that runs the `hyperimpute` package's HyperImpute and
# MIRACLE for `diffputer bench` (methods "hyperimpute" and "miracle").
#
#   scripts/make_hyperimpute_env.sh [ENV_DIR]      # default: .envs/hyperimpute
#
# Why a separate environment: hyperimpute 0.1.17 (its last release, 2023) needs the
# libraries of its time. With pandas 3, numpy >= 2.1 or scikit-learn >= 1.8 some of its
# plugins fail inside a try/except and silently hand back the mean fill. Our package
# never imports it: the runner writes the masked tables to files, runs
# src/diffputer/bench/_hyperimpute_worker.py with this environment's python, and reads
# the imputations back (diffputer.bench.baselines._isolated).
#
# Every version is pinned to a release contemporary with hyperimpute 0.1.17 that has
# wheels for Python 3.11, so the environment is the same wherever it is built:
# - numpy 1.26 / pandas 2.1 / scikit-learn 1.3: the last lines before the breaking
#   releases named above;
# - torch 2.13.0 CPU: the wheel this machine's pip mirror holds (no multi-GB CUDA
#   download); hyperimpute needs torch >= 1.10;
# - tensorflow-cpu 2.15: MIRACLE (package miracle-imputation) is TF1 code run through
#   tf.compat.v1; 2.15 is the last TF for numpy < 2 with Python 3.11 wheels;
# - pydantic 1.x: hyperimpute uses pydantic's v1 `validate_arguments`;
# - loguru 0.6.0: hyperimpute pins it.
# hyperimpute and miracle-imputation are installed with --no-deps: their metadata also
# pulls in jupyter, notebook and other tools that imputation does not use.
#
# The environment is git-ignored. Delete it to rebuild: rm -rf .envs/hyperimpute
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
ENV_DIR="${1:-$ROOT/.envs/hyperimpute}"
PYTHON="${PYTHON:-python3.11}"

if ! command -v "$PYTHON" >/dev/null 2>&1; then
    echo "make_hyperimpute_env: $PYTHON not found; set PYTHON to a Python 3.11 interpreter" >&2
    exit 1
fi

"$PYTHON" -m venv "$ENV_DIR"
PIP=("$ENV_DIR/bin/python" -m pip install --quiet --no-cache-dir)

# 1. the numerical stack, pinned
"${PIP[@]}" \
    "torch==2.13.0" \
    "numpy==1.26.4" \
    "scipy==1.11.4" \
    "pandas==2.1.4" \
    "scikit-learn==1.3.2" \
    "xgboost==2.0.3" \
    "catboost==1.2.2" \
    "lightgbm==4.1.0" \
    "optuna==3.5.0" \
    "loguru==0.6.0" \
    "pydantic==1.10.13" \
    "cloudpickle==3.0.0" \
    "redis==5.0.1" \
    "geomloss==0.2.6" \
    "tensorflow-cpu==2.15.1"

# 2. the two packages themselves, without their notebook extras
"${PIP[@]}" --no-deps "hyperimpute==0.1.17" "miracle-imputation==0.1.6"

# 3. a smoke check: both plugins load, and HyperImpute does better than the mean fill
"$ENV_DIR/bin/python" "$ROOT/src/diffputer/bench/_hyperimpute_worker.py" --self-check
echo "make_hyperimpute_env: ready at $ENV_DIR"
