"""Independent oracles for the payment-crypto tests: psec and pyemv, warnings contained.

Both libraries hand double-length TDES keys straight to `cryptography` (and pyemv uses the
deprecated ``algorithms.TripleDES``), which raises a CryptographyDeprecationWarning inside
*their* code. Our tests turn such warnings into errors, so each oracle call runs under
`oracle_warnings_ignored`, which silences only that warning class, only for that call.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator

import pytest
from cryptography.utils import CryptographyDeprecationWarning

#: Applied by the crypto test modules: any deprecation warning from our code fails the test.
STRICT_WARNINGS = [
    pytest.mark.filterwarnings("error::DeprecationWarning"),
    pytest.mark.filterwarnings("error::cryptography.utils.CryptographyDeprecationWarning"),
]


@contextlib.contextmanager
def oracle_warnings_ignored() -> Iterator[None]:
    """Silence CryptographyDeprecationWarning raised inside an oracle library call."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CryptographyDeprecationWarning)
        yield
