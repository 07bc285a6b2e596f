"""Docstring examples run, and every public name of the bench package has a docstring."""

from __future__ import annotations

import doctest
import importlib

import pytest

import diffputer.bench as bench

MODULES = [
    "diffputer.bench",
    "diffputer.bench.baselines",
    "diffputer.bench.cli",
    "diffputer.bench.datasets",
    "diffputer.bench.masks",
    "diffputer.bench.metrics",
    "diffputer.bench.reference",
    "diffputer.bench.report",
    "diffputer.bench.runner",
]


@pytest.mark.parametrize("name", MODULES)
def test_examples(name):
    module = importlib.import_module(name)
    assert module.__doc__
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0


@pytest.mark.parametrize("name", bench.__all__)
def test_public_names_are_documented(name):
    obj = getattr(bench, name)
    if isinstance(obj, dict):  # MECHANISMS
        return
    assert (obj.__doc__ or "").strip(), name
