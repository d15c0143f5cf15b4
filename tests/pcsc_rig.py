"""Shared by the PC/SC tests: the machine's one pcscd, its two vpcd readers, the specs.

Every PC/SC test runs against the real pcscd that ``.ci/run`` starts (one per machine;
a pcscd started by hand is used too). `require_pcscd()` checks it answers: if not, the
test fails under ``CI=true`` and is skipped elsewhere, with the reason.

vpcd gives two readers: slot 0 (``Virtual PCD 00 00``, TCP 35963) and slot 1
(``Virtual PCD 00 01``, TCP 35964). Tests use one slot each at a time and must leave no
card connected (the leak check sees a card's TCP socket).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from drivers.card_reader.pcsc import PCSC_DRIVER
from hal.transports.pcsc import PCSC_TRANSPORT, pcsc_available, scard_module
from simulator.wire.vpcd import VPCD_PORTS
from tests.specs import registered

#: The vpcd readers' names, by slot, and their card ports.
READERS = ("Virtual PCD 00 00", "Virtual PCD 00 01")
PORTS = VPCD_PORTS
SELECT_PSE = bytes.fromhex("00A404000E") + b"1PAY.SYS.DDF01" + b"\x00"


def address(slot: int, options: str = "") -> str:
    """The ``pcsc://`` address of a vpcd slot's reader."""
    name = READERS[slot].replace(" ", "%20")
    return f"pcsc://{name}" + (f"?{options}" if options else "")


@functools.cache
def _pcscd_problem() -> str | None:
    """Why the PC/SC tests cannot run here, or ``None`` (asked once per run)."""
    return pcscd_problem()


def pcscd_ready() -> bool:
    """pcscd answers now and has both vpcd readers (asked afresh)."""
    return pcscd_problem() is None


def pcscd_problem() -> str | None:
    """Why the PC/SC tests cannot run here now, or ``None``."""
    if not pcsc_available():
        return "pyscard is not installed (pip install -e '.[pcsc]')"
    scard = scard_module()
    hresult, context = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
    if hresult != scard.SCARD_S_SUCCESS:
        return (
            "pcscd does not answer on /run/pcscd/pcscd.comm "
            f"({scard.SCardGetErrorMessage(hresult)}); .ci/run starts one"
        )
    try:
        hresult, readers = scard.SCardListReaders(context, [])
    finally:
        scard.SCardReleaseContext(context)
    missing = [r for r in READERS if r not in (readers or [])]
    if missing:
        return f"pcscd has no vpcd readers {missing} (install vsmartcard-vpcd); it has {readers}"
    return None


def require_pcscd() -> None:
    """Fail (``CI=true``) or skip unless pcscd with the two vpcd readers answers."""
    problem = _pcscd_problem()
    if problem is None:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"the PC/SC tests need pcscd under CI=true: {problem}", pytrace=False)
    pytest.skip(problem)


@contextmanager
def pcsc_registered() -> Iterator[None]:
    """The pcsc driver and transport registered (as their entry points would)."""
    with registered(PCSC_DRIVER, PCSC_TRANSPORT):
        yield
