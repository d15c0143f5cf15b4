"""``tellerhal serve`` of a kiosk with a simulated PIN pad, in a second process: the pad
is reached at its ``zmq+ipc://`` address, keys load over the wire, a PIN entry nobody
types times out, and nothing secret reaches the server's output."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

import hal
from hal.devices.pin_pad import (
    EncryptionState,
    KeyAlgorithm,
    KeyUsage,
    ModeOfUse,
    PinFormat,
    PinPad,
)
from hal.errors import HalTimeout, KeyNotFound, SequenceError
from hal.remote import RemotePinPad
from protocols.crypto_primitives import Algorithm, encrypt_ecb, xor_bytes
from protocols.kcv import compute_kcv
from simulator.models.pin_pad import PinPadModel
from tests.sim_process import ServerProcess

KIOSK = """
[card_reader]
address = "sim://card_reader?clock_scale=0.005"

[pin_pad]
address = "sim://pin_pad"
"""

COMPONENT_1 = bytes.fromhex("0123456789ABCDEFFEDCBA9876543210")
COMPONENT_2 = bytes.fromhex("A1B2C3D4E5F60718293A4B5C6D7E8F90")
KEK = xor_bytes(COMPONENT_1, COMPONENT_2)
PIN_KEY = bytes.fromhex("1C4F7A2B9E3D6C0815A2B7C9D4E6F031")
PAN = "4761739001010010"


def kcv(key: bytes) -> bytes:
    return compute_kcv(Algorithm.TDES, key)


@pytest.fixture
def short_dir() -> Iterator[Path]:
    """A short private directory for ipc:// sockets (socket paths are < 108 bytes)."""
    path = Path(tempfile.mkdtemp(prefix="thp-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


async def _use(address: str) -> None:
    async with hal.open(address) as pad:
        assert isinstance(pad, RemotePinPad)
        assert isinstance(pad, PinPad)
        assert await pad.capabilities() == PinPadModel().capabilities()
        assert (await pad.status()).encryption_state is EncryptionState.NOT_INITIALIZED
        tdes = KeyAlgorithm.TDES
        await pad.import_key_component("kek", COMPONENT_1, algorithm=tdes, kcv=kcv(COMPONENT_1))
        await pad.import_key_component("kek", COMPONENT_2, algorithm=tdes, kcv=kcv(COMPONENT_2))
        await pad.activate_key("kek", kcv=kcv(KEK))
        detail = await pad.import_key(
            "pin",
            encrypt_ecb(Algorithm.TDES, KEK, PIN_KEY),
            kek="kek",
            usage=KeyUsage.PIN,
            algorithm=tdes,
            mode_of_use=ModeOfUse.ENCRYPT,
            kcv=kcv(PIN_KEY),
        )
        assert detail.kcv == kcv(PIN_KEY)
        assert (await pad.status()).encryption_state is EncryptionState.READY
        # `serve` opens no control socket: nobody types, so the entry times out.
        with pytest.raises(HalTimeout):
            await pad.pin_entry(timeout=0.3)
        with pytest.raises(SequenceError):
            await pad.get_pin_block("pin", format=PinFormat.ISO0, customer_data=PAN)
        with pytest.raises(KeyNotFound):
            await pad.generate_kcv("nothing")
        assert len(await pad.generate_random(8)) == 8


def test_serve_a_kiosk_with_a_sim_pin_pad(tmp_path: Path, short_dir: Path) -> None:
    kiosk = tmp_path / "kiosk.toml"
    kiosk.write_text(KIOSK)
    endpoint = f"ipc://{short_dir}/run/kiosk.sock"
    with ServerProcess(tmp_path / "out", "serve", str(kiosk), "--endpoint", endpoint, "-v") as proc:
        address = f"zmq+ipc://{short_dir}/run/kiosk.sock/pin_pad"
        assert proc.ready["devices"] == {
            "card_reader": f"zmq+ipc://{short_dir}/run/kiosk.sock/card_reader",
            "pin_pad": address,
        }
        assert f"pin_pad {address}\n" in proc.out
        asyncio.run(_use(address))
        assert proc.stop() == 0
        err = proc.err
    assert "Traceback" not in err
    for secret in (COMPONENT_1, COMPONENT_2, KEK, PIN_KEY):
        assert secret.hex() not in err.lower()
    assert PAN not in err
