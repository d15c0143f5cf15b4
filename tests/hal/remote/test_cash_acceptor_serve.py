"""``tellerhal serve`` serving a simulated cash acceptor to a client in another process.

A kiosk file names ``sim://cash_acceptor`` (with its ledger file); ``tellerhal serve``
opens it and serves it on ``ipc://``; the test's `RemoteCashAcceptor` (through
``hal.open`` of the printed ``zmq+ipc://`` address) opens a transaction, and a cash-in
with nobody at the slot times out. The open transaction lives in the server: a second
client sees it active and ends it; ``tellerhal ledger`` reads the server's file while
it runs.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

import hal
from hal.devices.cash_acceptor import CashAcceptor, CashInState
from hal.errors import CashInActive, HalTimeout, NoItems
from hal.money import Money
from tellerhal.cli.main import main
from tests.sim_process import ServerProcess


@pytest.fixture
def short_dir() -> Iterator[Path]:
    """A short private directory for ipc:// sockets (socket paths are < 108 bytes)."""
    path = Path(tempfile.mkdtemp(prefix="thca-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


async def test_serve_offers_a_simulated_cash_acceptor(
    tmp_path: Path, short_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ledger = tmp_path / "ledger.sqlite"
    kiosk = tmp_path / "kiosk.toml"
    kiosk.write_text(
        f'[cash_acceptor]\naddress = "sim://cash_acceptor?clock_scale=0.005&ledger={ledger}"\n'
    )
    endpoint = f"ipc://{short_dir}/kiosk.sock"
    with ServerProcess(tmp_path / "out", "serve", str(kiosk), "--endpoint", endpoint) as proc:
        address = proc.ready["devices"]["cash_acceptor"]
        assert address == f"zmq+ipc://{short_dir}/kiosk.sock/cash_acceptor"
        async with hal.open(address) as acceptor:
            assert isinstance(acceptor, CashAcceptor)
            assert (await acceptor.capabilities()).max_cash_in_items == 100
            assert {t.item for t in await acceptor.note_types()} >= {"CNY:10000", "CNY:100"}
            status = await acceptor.cash_in_start(max_amount=Money(100000, "CNY"))
            assert status.status is CashInState.ACTIVE
            with pytest.raises(HalTimeout):
                await acceptor.cash_in(timeout=0.3)  # nobody at the slot
        # The transaction is the server's: another client finds it open.
        async with hal.open(address) as again:
            assert isinstance(again, CashAcceptor)
            assert (await again.get_cash_in_status()).status is CashInState.ACTIVE
            with pytest.raises(CashInActive):
                await again.cash_in_start()
            assert (await again.status()).cash_in_active is True
            # The server's ledger, read while it holds the file.
            assert main(["ledger", str(ledger), "--json"]) == 0
            [device] = json.loads(capsys.readouterr().out)["devices"]
            assert device["cash"]["cash_in"]["escrow"]["notes"] == 0
            assert device["cash"]["cash_in"]["pending"] == []
            with pytest.raises(NoItems):
                await again.cash_in_end(timeout=5)  # ends it, with nothing to store
            assert (await again.get_cash_in_status()).status is CashInState.OK
        assert proc.stop() == 0
        assert "Traceback" not in proc.err
