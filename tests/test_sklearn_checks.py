"""scikit-learn conformance on a deliberately tiny configuration.

No check is skipped or expected to fail. (scikit-learn itself skips its array-API
check unless SCIPY_ARRAY_API is set.)
"""

from __future__ import annotations

from sklearn.utils.estimator_checks import parametrize_with_checks

from diffputer import DiffPuterImputer

from .conftest import TINY


@parametrize_with_checks([DiffPuterImputer(**TINY)])
def test_sklearn_compatible(estimator, check):
    check(estimator)
