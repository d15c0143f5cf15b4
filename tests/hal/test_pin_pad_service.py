"""`PinPadService`: argument validation against the capabilities, key usage enforced
before the device is asked, queueing, timeouts, cancellation, events and masked logs.

The first part checks refusals that must happen before any command reaches the device:
its backend (`_Unreachable`) fails the test if the service calls it for anything but
opening, closing, capabilities and status. The second part runs the service over the
simulator's PIN pad model, the real secure element: PIN blocks are deciphered with
`protocols.pinblock` and must give back the PIN typed.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

import hal
from hal.device import BackendListener
from hal.devices.pin_pad_model import (
    DIGIT_KEYS,
    KeyAlgorithm,
    KeyUsage,
    ModeOfUse,
    PinFormat,
    PinPadCapabilities,
    PinPadStatus,
)
from hal.devices.pin_pad_service import PinPadService
from protocols import dukpt, dukpt_aes, pinblock, tr31
from protocols.crypto_primitives import encrypt_cbc, encrypt_ecb
from protocols.kcv import kcv_legacy
from protocols.pinblock import decipher_pin_block
from protocols.tr31_header import Header, Version
from simulator.models.pin_pad import PinPadModel
from simulator.pin_pad_control import PinPadControl

PAN = "4761739001010010"
KEY_HEX = "0123456789ABCDEFFEDCBA9876543210"


class _Unreachable:
    """A backend whose device must never be reached: validation refuses first."""

    def __init__(self, caps: PinPadCapabilities) -> None:
        self.caps = caps

    async def open(self, listener: BackendListener[PinPadStatus]) -> None:
        pass

    async def close(self) -> None:
        pass

    def capabilities(self) -> PinPadCapabilities:
        return self.caps

    async def get_status(self) -> PinPadStatus:
        return PinPadStatus()

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"the service reached the device ({name}) before refusing")


async def _opened(**caps: Any) -> PinPadService:
    service = PinPadService(_Unreachable(PinPadCapabilities(**caps)))  # type: ignore[arg-type]
    await service.open()
    return service


@pytest.fixture
async def pad() -> AsyncIterator[PinPadService]:
    service = await _opened()
    yield service
    await service.close()


# --- refused before the device ----------------------------------------------------------


async def test_a_closed_service_refuses_every_command() -> None:
    service = PinPadService(_Unreachable(PinPadCapabilities()))  # type: ignore[arg-type]
    with pytest.raises(hal.DeviceNotReady, match="not open"):
        await service.pin_entry()
    with pytest.raises(hal.DeviceNotReady):
        await service.capabilities()
    with pytest.raises(hal.DeviceNotReady):
        await service.keys()


async def test_entry_keys_the_keyboard_lacks_are_key_invalid(pad: PinPadService) -> None:
    with pytest.raises(hal.KeyInvalid, match="no key fdk01") as info:
        await pad.pin_entry(active_keys=[*DIGIT_KEYS, "enter", "fdk01"])
    assert info.value.error_code == "keyInvalid"
    with pytest.raises(hal.KeyInvalid, match="help"):
        await pad.data_entry(max_len=4, terminate_keys=["help"])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"active_keys": [*DIGIT_KEYS, "enter"]}, "terminate keys must be active keys; cancel"),
        ({"terminate_keys": ["enter", "five"]}, "must be a function key, not five"),
        ({"active_keys": "enter"}, "not one string"),
        ({"terminate_keys": "enter"}, "not one string"),
        ({"auto_end": 1}, "auto_end must be True or False"),
    ],
)
async def test_entry_key_sets_are_checked(
    pad: PinPadService, kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(hal.InvalidData, match=message):
        await pad.pin_entry(**kwargs)


async def test_an_entry_that_cannot_end_is_refused(pad: PinPadService) -> None:
    with pytest.raises(hal.InvalidData, match="no terminate key") as info:
        await pad.pin_entry(terminate_keys=[])
    assert info.value.error_code == "noTerminatekeys"
    with pytest.raises(hal.InvalidData) as info:
        await pad.data_entry(max_len=3, terminate_keys=())
    assert info.value.error_code == "noTerminatekeys"


@pytest.mark.parametrize(
    ("min_len", "max_len"), [(5, 4), (-1, 4), (0, 0), (4, 13), (13, 13), (True, 4)]
)
async def test_pin_entry_lengths_out_of_range(
    pad: PinPadService, min_len: int, max_len: int
) -> None:
    with pytest.raises(hal.InvalidData) as info:
        await pad.pin_entry(min_len=min_len, max_len=max_len)
    if not isinstance(min_len, bool):
        assert info.value.error_code == "minimumLength"
        assert "12" in str(info.value)  # names the pad's pin_max


async def test_pin_max_comes_from_the_capabilities() -> None:
    service = await _opened(pin_max=6)
    try:
        with pytest.raises(hal.InvalidData, match="max_len <= 6"):
            await service.pin_entry(max_len=8)
    finally:
        await service.close()


async def test_entries_the_keyboard_cannot_do_are_unsupported() -> None:
    service = await _opened(data_entry=False, keys=frozenset({"enter", "cancel", "fdk01"}))
    try:
        with pytest.raises(hal.UnsupportedOperation, match="no clear data entry"):
            await service.data_entry(max_len=4)
        with pytest.raises(hal.UnsupportedOperation, match="no PIN entry"):
            await service.pin_entry()
    finally:
        await service.close()


@pytest.fixture(params=["get_pin_block", "set_pin_block_data"])
def pin_block_call(
    request: pytest.FixtureRequest, pad: PinPadService
) -> Callable[..., Awaitable[Any]]:
    method: Callable[..., Awaitable[Any]] = getattr(pad, request.param)
    return method


async def test_a_format_the_pad_lacks_is_refused(
    pin_block_call: Callable[..., Awaitable[Any]],
) -> None:
    with pytest.raises(hal.FormatNotSupported, match="no ibm3624 PIN blocks; it makes iso0"):
        await pin_block_call("pin", format=PinFormat.IBM3624)
    with pytest.raises(hal.InvalidData, match="format must be one of"):
        await pin_block_call("pin", format="iso9")


@pytest.mark.parametrize(
    ("fmt", "pan", "message"),
    [
        (PinFormat.ISO0, "47617390010100A0", "digits only; got 16 characters"),
        (PinFormat.ISO0, "4761 7390 0101 0010", "digits only; got 19 characters"),
        (PinFormat.ISO0, "４７６１７３９００１０１００１０", "digits only"),  # fullwidth
        (PinFormat.ISO0, "476173900101", "13 to 19 digits; got 12"),
        (PinFormat.ISO3, "", "13 to 19 digits; got 0"),
        (PinFormat.ISO4, "47617390010", "12 to 19 digits; got 11"),
        (PinFormat.ISO0, PAN + "0000", "13 to 19 digits; got 20"),
        (PinFormat.ISO1, PAN + "1234", "0 to 19 digits; got 20"),
    ],
)
async def test_customer_data_must_be_the_pan_digits_the_format_needs(
    pin_block_call: Callable[..., Awaitable[Any]], fmt: PinFormat, pan: str, message: str
) -> None:
    with pytest.raises(hal.InvalidData, match=message) as info:
        await pin_block_call("pin", format=fmt, customer_data=pan)
    text = str(info.value)
    if pan:
        assert pan not in text
        assert pan[:12] not in text  # not even most of it


@pytest.mark.parametrize("padding", [-1, 16, 0x3F, True, "F"])
async def test_padding_is_one_nibble(
    pin_block_call: Callable[..., Awaitable[Any]], padding: object
) -> None:
    with pytest.raises(hal.InvalidData, match="padding is one nibble"):
        await pin_block_call("pin", format=PinFormat.ISO0, customer_data=PAN, padding=padding)


@pytest.mark.parametrize("name", ["", "a" * 65, "pin key", "pin/1", KEY_HEX + " ", None, b"pin"])
async def test_bad_key_names_are_refused_without_being_quoted(
    pin_block_call: Callable[..., Awaitable[Any]], name: object
) -> None:
    with pytest.raises(hal.InvalidData, match="key must name a key") as info:
        await pin_block_call(name, format=PinFormat.ISO0, customer_data=PAN)
    if isinstance(name, str) and name:
        assert name.strip() not in str(info.value)


async def test_clear_components_are_checked_before_the_device(pad: PinPadService) -> None:
    component = bytes.fromhex(KEY_HEX)
    kcv = bytes.fromhex("08D7B4")
    with pytest.raises(hal.InvalidData, match="only key-encryption keys") as info:
        await pad.import_key_component(
            "pin", component, algorithm=KeyAlgorithm.TDES, kcv=kcv, usage=KeyUsage.PIN
        )
    with pytest.raises(hal.InvalidKeyLength, match="8, 16, 24 bytes long; got 15 bytes"):
        await pad.import_key_component("kek", component[:15], algorithm=KeyAlgorithm.TDES, kcv=kcv)
    with pytest.raises(hal.InvalidKeyLength, match="16 bytes long; got 24"):
        await pad.import_key_component(
            "kek", component + component[:8], algorithm=KeyAlgorithm.SM4, kcv=kcv
        )
    with pytest.raises(hal.InvalidKeyLength, match="component is empty"):
        await pad.import_key_component("kek", b"", algorithm=KeyAlgorithm.TDES, kcv=kcv)
    for short in (b"", kcv[:1], kcv[:2]):  # a 1-byte KCV checks next to nothing
        with pytest.raises(hal.InvalidData, match=f"check value is 3 to 8 bytes; got {len(short)}"):
            await pad.import_key_component("kek", component, algorithm=KeyAlgorithm.TDES, kcv=short)
    with pytest.raises(hal.InvalidData, match="kcv must be bytes"):
        await pad.import_key_component(
            "kek",
            component,
            algorithm=KeyAlgorithm.TDES,
            kcv="08D7B4",  # type: ignore[arg-type]
        )
    with pytest.raises(hal.InvalidData, match="may not have mode of use G"):
        await pad.import_key_component(
            "kek", component, algorithm=KeyAlgorithm.TDES, kcv=kcv, mode_of_use=ModeOfUse.GENERATE
        )
    for short in (b"", kcv[:1], kcv[:2]):
        with pytest.raises(
            hal.InvalidData, match=f"check value is 3 to 16 bytes; got {len(short)}"
        ):
            await pad.activate_key("kek", kcv=short)
    # No message quotes the component.
    assert KEY_HEX not in str(info.value)


async def test_a_pad_without_components_refuses_them() -> None:
    service = await _opened(key_components=False)
    try:
        with pytest.raises(hal.UnsupportedOperation, match="no clear key components"):
            await service.import_key_component(
                "kek", bytes(16), algorithm=KeyAlgorithm.TDES, kcv=b"\x00\x00\x00"
            )
        with pytest.raises(hal.UnsupportedOperation, match="no clear key components"):
            await service.activate_key("kek", kcv=b"\x00\x00\x00")
    finally:
        await service.close()


def _import(pad: PinPadService, **changes: Any) -> Awaitable[Any]:
    kwargs: dict[str, Any] = {
        "kek": "kek",
        "usage": KeyUsage.PIN,
        "algorithm": KeyAlgorithm.TDES,
        "mode_of_use": ModeOfUse.ENCRYPT,
        "kcv": b"\x01\x02\x03",
    }
    name = changes.pop("name", "pin")
    value = changes.pop("value", bytes(16))
    kwargs.update(changes)
    return pad.import_key(name, value, **kwargs)


@pytest.mark.parametrize(
    ("changes", "error", "message"),
    [
        ({"usage": "Z9"}, hal.InvalidData, "usage must be one of B1, D0"),
        ({"algorithm": "des"}, hal.InvalidData, "algorithm must be one of aes, sm4, tdes"),
        ({"mode_of_use": ModeOfUse.DECRYPT}, hal.InvalidData, "P0 key may not have mode of use D"),
        (
            {"usage": KeyUsage.MAC_ISO9797_1, "mode_of_use": ModeOfUse.BOTH},
            hal.InvalidData,
            "M1 key may not have mode of use B",
        ),
        (
            {
                "usage": KeyUsage.MAC_ISO9797_3,
                "algorithm": KeyAlgorithm.AES,
                "mode_of_use": ModeOfUse.GENERATE_VERIFY,
            },
            hal.ModeNotSupported,
            "algorithm 3 .* TDES keys, not aes",
        ),
        (
            {"usage": KeyUsage.INITIAL_DUKPT, "mode_of_use": ModeOfUse.DERIVE},
            hal.InvalidData,
            "10-byte initial KSN; got 0 bytes",
        ),
        (
            {
                "usage": KeyUsage.INITIAL_DUKPT,
                "algorithm": KeyAlgorithm.AES,
                "mode_of_use": ModeOfUse.DERIVE,
                "ksn": bytes(10),
            },
            hal.InvalidData,
            "12-byte initial KSN; got 10 bytes",
        ),
        ({"ksn": bytes(10)}, hal.InvalidData, "only an initial DUKPT key"),
        ({"value": b""}, hal.InvalidKeyLength, "value is empty"),
        ({"value": "00" * 16}, hal.InvalidData, "value must be bytes"),
        ({"kcv": b""}, hal.InvalidData, "check value is 3 to 8 bytes"),
        ({"kcv": b"\x08"}, hal.InvalidData, "check value is 3 to 8 bytes; got 1"),
        ({"kcv": b"\x08\xd7"}, hal.InvalidData, "check value is 3 to 8 bytes; got 2"),
        ({"kek": "kek!"}, hal.InvalidData, "kek must name a key"),
        ({"name": ""}, hal.InvalidData, "key must name a key"),
    ],
)
async def test_import_key_arguments(
    pad: PinPadService, changes: dict[str, Any], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        await _import(pad, **changes)


async def test_import_key_against_the_capabilities() -> None:
    service = await _opened(
        algorithms=frozenset({KeyAlgorithm.TDES, KeyAlgorithm.AES}),
        usages=frozenset({KeyUsage.PIN, KeyUsage.KEK, KeyUsage.INITIAL_DUKPT}),
        dukpt=frozenset({KeyAlgorithm.TDES}),
    )
    try:
        with pytest.raises(hal.ModeNotSupported, match="stores no sm4 keys"):
            await _import(service, algorithm=KeyAlgorithm.SM4)
        with pytest.raises(hal.InvalidData, match="takes no D0 keys; it takes B1, K0, P0"):
            await _import(service, usage=KeyUsage.DATA)
        with pytest.raises(hal.ModeNotSupported, match="derives no aes DUKPT keys"):
            await _import(
                service,
                usage=KeyUsage.INITIAL_DUKPT,
                algorithm=KeyAlgorithm.AES,
                mode_of_use=ModeOfUse.DERIVE,
                ksn=bytes(12),
            )
    finally:
        await service.close()
    service = await _opened(encrypted_keys=False)
    try:
        with pytest.raises(hal.UnsupportedOperation, match="no keys enciphered under a KEK"):
            await _import(service)
    finally:
        await service.close()


def _block(header: str, body: int = 112) -> str:
    """A key block of the given 16-character header with its length filled in."""
    total = 16 + body
    return f"{header[0]}{total:04d}{header[5:]}" + "0" * body


@pytest.mark.parametrize(
    ("block", "error", "message"),
    [
        ("D0112P0AE00E00", hal.InvalidData, "malformed TR-31 key block"),
        ("X0128P0AE00E0000" + "0" * 112, hal.InvalidData, "malformed TR-31 key block"),
        ("D0144P0AE00E0000" + "0" * 112, hal.InvalidData, "says it is 144 characters"),
        (_block("D....E0AE00E0000"), hal.FormatNotSupported, "usage 'E0'"),
        (_block("D....P0RE00E0000"), hal.FormatNotSupported, "algorithm 'R'"),
        (_block("D....P0AV00E0000"), hal.InvalidData, "P0 key may not have mode of use 'V'"),
        ("D0128P0AE00E0000" + "é" * 112, hal.InvalidData, "string of ASCII"),
    ],
)
async def test_key_block_headers_are_checked_before_the_device(
    pad: PinPadService, block: str, error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        await pad.import_key_block("pin", block, kbpk="kbpk")


async def test_key_blocks_against_the_capabilities() -> None:
    service = await _opened(tr31=False)
    try:
        with pytest.raises(hal.UnsupportedOperation, match="no TR-31 key blocks"):
            await service.import_key_block("pin", _block("D....P0AE00E0000"), kbpk="kbpk")
    finally:
        await service.close()
    service = await _opened(dukpt=frozenset({KeyAlgorithm.TDES}))
    try:
        with pytest.raises(hal.FormatNotSupported, match="derives no aes DUKPT keys"):
            await service.import_key_block("ipek", _block("D....B1AX00N0000"), kbpk="kbpk")
    finally:
        await service.close()


async def test_crypto_arguments_are_checked_before_the_device() -> None:
    service = await _opened(cipher_modes=frozenset({hal.CipherMode.ECB}))
    try:
        with pytest.raises(hal.ModeNotSupported, match="does no CBC; it does ECB"):
            await service.encrypt("data", bytes(8), mode=hal.CipherMode.CBC)
        with pytest.raises(hal.InvalidData, match="mode must be one of cbc, ecb"):
            await service.decrypt("data", bytes(8), mode="ofb")  # type: ignore[arg-type]
        with pytest.raises(hal.InvalidData, match="ECB takes no IV"):
            await service.encrypt("data", bytes(8), iv=bytes(8))
        with pytest.raises(hal.InvalidData, match="data is empty"):
            await service.encrypt("data", b"")
        with pytest.raises(hal.InvalidData, match="data must be bytes"):
            await service.encrypt("data", "secret")  # type: ignore[arg-type]
        with pytest.raises(hal.InvalidData, match="padding is ISO/IEC 9797-1 padding method 1"):
            await service.generate_mac("mac", b"data", padding=3)
        with pytest.raises(hal.InvalidData, match="data is empty"):
            await service.generate_mac("mac", b"")
        with pytest.raises(hal.InvalidData, match="at most one cipher block"):
            await service.verify_mac("mac", b"data", bytes(17))
        with pytest.raises(hal.InvalidData, match="mac is empty"):
            await service.verify_mac("mac", b"data", b"")
        for length in (0, 257, True):
            with pytest.raises(hal.InvalidData, match="1 to 256 bytes"):
                await service.generate_random(length)
        with pytest.raises(hal.InvalidData, match="method must be one of cmac, legacy"):
            await service.generate_kcv("kek", method="sha")  # type: ignore[arg-type]
    finally:
        await service.close()


async def test_what_the_pad_lacks_is_unsupported() -> None:
    service = await _opened(
        cipher_modes=frozenset(),
        usages=frozenset({KeyUsage.PIN, KeyUsage.KEK}),
        random=False,
        delete_key=False,
    )
    try:
        with pytest.raises(hal.UnsupportedOperation, match="no data encryption"):
            await service.encrypt("data", bytes(8))
        with pytest.raises(hal.UnsupportedOperation, match="makes no MACs"):
            await service.verify_mac("mac", b"data", bytes(4))
        with pytest.raises(hal.UnsupportedOperation, match="no random numbers"):
            await service.generate_random()
        with pytest.raises(hal.UnsupportedOperation, match="erases only all keys"):
            await service.delete_key("pin")
    finally:
        await service.close()


async def test_the_service_repr_names_the_backend_only(pad: PinPadService) -> None:
    assert repr(pad) == "PinPadService(name='pin_pad', backend=_Unreachable)"
    assert dataclasses.is_dataclass(await pad.capabilities())
    assert await pad.status() == PinPadStatus()


# --- over the simulator's PIN pad ---------------------------------------------------------
#
# Keys go in through the service as a custodian loads them: an AES-256 KEK from two clear
# components with their check values, then working keys enciphered under it (AES-256
# protects TDES and AES keys alike; one value per key: key separation).

PIN = "739182"  # distinctive: it must be found nowhere but in the block
KEK_PARTS = (
    bytes.fromhex("0123456789ABCDEFFEDCBA98765432100F1E2D3C4B5A69788796A5B4C3D2E1F0"),
    bytes.fromhex("F0E1D2C3B4A5968778695A4B3C2D1E0F13579BDF02468ACEECA8642FDB975310"),
)
KEK = bytes(a ^ b for a, b in zip(*KEK_PARTS, strict=True))
PIN_KEY = bytes.fromhex("1C2D3E4F5A6B7C8D9EAFB0C1D2E3F405")
AES_PIN_KEY = bytes.fromhex("00112233445566778899AABBCCDDEEFF")
DATA_KEY = bytes.fromhex("89ABCDEF0123456776543210FEDCBA98")
DATA_E_KEY = bytes.fromhex("2C4E6A8193B5D7F01F3D5B7968A4C2E0")
MAC_KEY = bytes.fromhex("3131313131313131A2A2A2A2A2A2A2A2")
MAC_V_KEY = bytes.fromhex("A2A2A2A2A2A2A2A23131313131313131")
KBPK_KEY = bytes.fromhex("DD7515F2BFC17F85CE48F3CA25CB21F6")
# ANSI X9.24-1:2009 A.4: the BDK's IPEK for KSN FFFF9876543210E00000.
IPEK = bytes.fromhex("6AC292FAA1315B4D858AB3A3D7D5933A")
IPEK_KSN = bytes.fromhex("FFFF9876543210E00000")
SECRET_KEYS = (
    *KEK_PARTS,
    KEK,
    PIN_KEY,
    AES_PIN_KEY,
    DATA_KEY,
    DATA_E_KEY,
    MAC_KEY,
    MAC_V_KEY,
    KBPK_KEY,
    IPEK,
)


def _kcv(key: bytes, algorithm: KeyAlgorithm = KeyAlgorithm.TDES) -> bytes:
    return kcv_legacy(algorithm, key)


async def _load_kek(
    pad: PinPadService,
    name: str = "kek",
    *,
    usage: KeyUsage = KeyUsage.KEK,
    mode: ModeOfUse = ModeOfUse.BOTH,
) -> None:
    aes = KeyAlgorithm.AES
    for part in KEK_PARTS:
        await pad.import_key_component(
            name, part, algorithm=aes, kcv=_kcv(part, aes), usage=usage, mode_of_use=mode
        )
    await pad.activate_key(name, kcv=_kcv(KEK, aes))


async def _load(
    pad: PinPadService,
    name: str,
    key: bytes,
    usage: KeyUsage,
    mode: ModeOfUse,
    *,
    algorithm: KeyAlgorithm = KeyAlgorithm.TDES,
    ksn: bytes = b"",
    kek: str = "kek",
) -> hal.KeyDetail:
    return await pad.import_key(
        name,
        encrypt_ecb(KeyAlgorithm.AES, KEK, key),
        kek=kek,
        usage=usage,
        algorithm=algorithm,
        mode_of_use=mode,
        kcv=_kcv(key, algorithm),
        ksn=ksn,
    )


@dataclasses.dataclass
class Sim:
    pad: PinPadService
    control: PinPadControl
    model: PinPadModel

    async def enter(self, pin: str = PIN, **kwargs: Any) -> hal.PinEntryResult:
        """A PIN entry the customer completes with ``pin`` and enter."""
        entry = asyncio.create_task(self.pad.pin_entry(timeout=5, **kwargs))
        await self.control.type_pin(pin, timeout=5)
        return await entry


@pytest.fixture
async def sim() -> AsyncIterator[Sim]:
    model = PinPadModel()
    pad = PinPadService(model)
    await pad.open()
    try:
        await _load_kek(pad)
        await _load(pad, "pin", PIN_KEY, KeyUsage.PIN, ModeOfUse.ENCRYPT)
        await _load(
            pad, "pin_aes", AES_PIN_KEY, KeyUsage.PIN, ModeOfUse.BOTH, algorithm=KeyAlgorithm.AES
        )
        await _load(pad, "data", DATA_KEY, KeyUsage.DATA, ModeOfUse.BOTH)
        await _load(pad, "data_e", DATA_E_KEY, KeyUsage.DATA, ModeOfUse.ENCRYPT)
        await _load(pad, "mac", MAC_KEY, KeyUsage.MAC_ISO9797_3, ModeOfUse.GENERATE_VERIFY)
        await _load(pad, "mac_v", MAC_V_KEY, KeyUsage.MAC_ISO9797_1, ModeOfUse.VERIFY)
        yield Sim(pad, PinPadControl(model), model)
    finally:
        await pad.close()


@pytest.mark.parametrize(
    ("key", "fmt", "pan", "secret"),
    [
        ("pin", PinFormat.ISO0, PAN, PIN_KEY),
        ("pin", PinFormat.ISO1, "", PIN_KEY),
        ("pin", PinFormat.ISO3, PAN, PIN_KEY),
        ("pin_aes", PinFormat.ISO4, PAN, AES_PIN_KEY),
    ],
)
async def test_a_pin_typed_comes_back_from_its_block(
    sim: Sim, key: str, fmt: PinFormat, pan: str, secret: bytes
) -> None:
    events = sim.pad.events(kinds=[hal.EnterData, hal.KeyEvent])
    result = await sim.enter()
    assert result == hal.PinEntryResult(len(PIN), hal.EntryCompletion.ENTER, "enter")
    block = await sim.pad.get_pin_block(key, format=fmt, customer_data=pan)
    assert block.format is fmt
    assert block.ksn == b""
    number = {"iso0": 0, "iso1": 1, "iso3": 3, "iso4": 4}[fmt.value]
    assert decipher_pin_block(number, secret, block.block, pan or None) == PIN
    seen = events.drain()
    assert isinstance(seen[0], hal.EnterData)
    keys = [e for e in seen if isinstance(e, hal.KeyEvent)]
    assert [(e.completion, e.digit) for e in keys] == [
        *[(hal.EntryCompletion.CONTINUE, None)] * len(PIN),
        (hal.EntryCompletion.ENTER, "enter"),
    ]
    ids = {e.command_id for e in seen}
    assert len(ids) == 1
    assert None not in ids
    # A PIN makes one block.
    with pytest.raises(hal.SequenceError, match="no PIN is waiting"):
        await sim.pad.get_pin_block(key, format=fmt, customer_data=pan)


async def test_a_dukpt_pin_block_comes_with_its_ksn(sim: Sim) -> None:
    detail = await _load(
        sim.pad, "ipek", IPEK, KeyUsage.INITIAL_DUKPT, ModeOfUse.DERIVE, ksn=IPEK_KSN
    )
    assert detail.usage is KeyUsage.INITIAL_DUKPT
    blocks = []
    for _ in range(2):
        await sim.enter()
        blocks.append(await sim.pad.get_pin_block("ipek", format=PinFormat.ISO0, customer_data=PAN))
    assert blocks[0].ksn != blocks[1].ksn
    for block in blocks:
        assert block.ksn[:8] == IPEK_KSN[:8]
        clear = dukpt.decrypt_pin_block(IPEK, block.ksn, block.block)
        assert pinblock.recover_pin(0, clear, PAN) == PIN
    with pytest.raises(hal.FormatNotSupported, match="iso4 PIN block is enciphered under aes"):
        await sim.pad.get_pin_block("ipek", format=PinFormat.ISO4, customer_data=PAN)


async def test_an_aes_dukpt_key_makes_format_4_blocks(sim: Sim) -> None:
    initial_key = bytes.fromhex("1273671EA26AC29AFA4D1084127652A1")
    initial_ksn = bytes.fromhex("123456789012345600000000")
    await _load(
        sim.pad,
        "ipek_aes",
        initial_key,
        KeyUsage.INITIAL_DUKPT,
        ModeOfUse.DERIVE,
        algorithm=KeyAlgorithm.AES,
        ksn=initial_ksn,
    )
    await sim.enter()
    with pytest.raises(hal.FormatNotSupported, match="iso0 PIN block is enciphered under tdes"):
        await sim.pad.get_pin_block("ipek_aes", format=PinFormat.ISO0, customer_data=PAN)
    block = await sim.pad.get_pin_block("ipek_aes", format=PinFormat.ISO4, customer_data=PAN)
    assert len(block.ksn) == 12
    pin_key = dukpt_aes.derive_working_key(
        initial_key,
        block.ksn,
        dukpt_aes.AesKeyUsage.PIN_ENCRYPTION,
        dukpt_aes.AesKeyType.aes_of_length(16),
    )
    assert pinblock.decipher_iso4(pin_key, block.block, PAN) == PIN


async def test_a_refused_key_leaves_the_pin_for_the_right_one(sim: Sim) -> None:
    await sim.enter()
    events = sim.pad.events(kinds=[hal.IllegalKeyAccess])
    with pytest.raises(hal.UseViolation, match="'mac' is a M3 key; PIN blocks need a PIN key"):
        await sim.pad.get_pin_block("mac", format=PinFormat.ISO0, customer_data=PAN)
    (event,) = events.drain()
    assert event == hal.IllegalKeyAccess(
        key_name="mac",
        error_code="useViolation",
        device="pin_pad",
        timestamp=event.timestamp,
    )
    assert event.command_id is None
    block = await sim.pad.get_pin_block("pin", format=PinFormat.ISO0, customer_data=PAN)
    assert decipher_pin_block(0, PIN_KEY, block.block, PAN) == PIN


async def _refused(
    sim: Sim, call: Awaitable[Any], error: type[hal.HalError], key: str, message: str
) -> None:
    events = sim.pad.events(kinds=[hal.IllegalKeyAccess])
    with pytest.raises(error, match=message) as info:
        await call
    code = info.value.error_code
    assert [(e.key_name, e.error_code) for e in events.drain()] == [(key, code)]


async def test_key_usage_is_enforced(sim: Sim) -> None:
    pad = sim.pad
    await _refused(sim, pad.encrypt("pin", bytes(8)), hal.UseViolation, "pin", "only data keys")
    await _refused(sim, pad.decrypt("mac", bytes(8)), hal.UseViolation, "mac", "only data keys")
    await _refused(
        sim, pad.decrypt("data_e", bytes(8)), hal.UseViolation, "data_e", "may not decipher"
    )
    await _refused(
        sim, pad.generate_mac("data", b"payload"), hal.UseViolation, "data", "need a MAC key"
    )
    await _refused(
        sim,
        pad.generate_mac("mac_v", b"payload"),
        hal.UseViolation,
        "mac_v",
        "may not generate MACs",
    )
    await _refused(
        sim, pad.verify_mac("kek", b"payload", bytes(4)), hal.UseViolation, "kek", "MAC key"
    )
    await _refused(
        sim,
        _load(pad, "x", DATA_KEY, KeyUsage.DATA, ModeOfUse.BOTH, kek="pin"),
        hal.UseViolation,
        "pin",
        "not a key-encryption key",
    )
    await _refused(
        sim,
        pad.import_key_block("x", _block("B....P0TE00E0000"), kbpk="kek"),
        hal.UseViolation,
        "kek",
        "not a key block protection key",
    )
    await _refused(
        sim, pad.generate_kcv("nothing"), hal.KeyNotFound, "nothing", "holds no key 'nothing'"
    )
    await _refused(sim, pad.encrypt("gone", bytes(8)), hal.KeyNotFound, "gone", "no key")


async def test_a_kek_that_may_only_encrypt_cannot_unwrap(sim: Sim) -> None:
    await _load(sim.pad, "kek_e", KBPK_KEY, KeyUsage.KEK, ModeOfUse.ENCRYPT)
    await _refused(
        sim,
        _load(sim.pad, "x", DATA_KEY, KeyUsage.DATA, ModeOfUse.BOTH, kek="kek_e"),
        hal.UseViolation,
        "kek_e",
        "may not decipher the keys it protects",
    )


async def test_a_key_still_in_components_has_no_value(sim: Sim) -> None:
    part = KEK_PARTS[0][:16]
    with pytest.raises(hal.InvalidData, match="'pin' holds a loaded key"):
        await sim.pad.import_key_component("pin", part, algorithm=KeyAlgorithm.TDES, kcv=_kcv(part))
    with pytest.raises(hal.KeyNotFound, match="no components are being loaded under 'pin'"):
        await sim.pad.activate_key("pin", kcv=_kcv(part))
    await sim.pad.initialize()  # clear components build the first KEK only
    await sim.pad.import_key_component("kek2", part, algorithm=KeyAlgorithm.TDES, kcv=_kcv(part))
    detail = await sim.pad.key_detail("kek2")
    assert detail.state is hal.KeyState.CONSTRUCTING
    assert detail.components == 1
    await _refused(sim, sim.pad.generate_kcv("kek2"), hal.KeyNoValue, "kek2", "no value yet")
    with pytest.raises(hal.KeyNoValue, match="1 component"):
        await sim.pad.activate_key("kek2", kcv=_kcv(part))
    with pytest.raises(hal.InvalidData, match="components of 'kek2' are usage=K0"):
        await sim.pad.import_key_component(
            "kek2", part, algorithm=KeyAlgorithm.TDES, kcv=_kcv(part), usage=KeyUsage.KBPK
        )
    longer = part + KEK_PARTS[1][:8]
    with pytest.raises(hal.InvalidKeyLength, match="16 bytes long; this one is 24"):
        await sim.pad.import_key_component(
            "kek2", longer, algorithm=KeyAlgorithm.TDES, kcv=_kcv(longer)
        )
    with pytest.raises(hal.KcvMismatch):
        await sim.pad.import_key_component(
            "kek2", KEK_PARTS[1][:16], algorithm=KeyAlgorithm.TDES, kcv=_kcv(part)
        )


async def test_an_enciphered_key_of_a_wrong_length_is_refused(sim: Sim) -> None:
    with pytest.raises(hal.InvalidKeyLength, match="16, 32 bytes long; got 12"):
        await sim.pad.import_key(
            "x",
            bytes(12),
            kek="kek",
            usage=KeyUsage.DATA,
            algorithm=KeyAlgorithm.TDES,
            mode_of_use=ModeOfUse.BOTH,
            kcv=b"\x00\x00\x00",
        )


async def test_a_tr31_key_block_loads_and_makes_pin_blocks(sim: Sim) -> None:
    await _load(sim.pad, "kbpk", KBPK_KEY, KeyUsage.KBPK, ModeOfUse.BOTH)
    block = tr31.wrap(
        KBPK_KEY, Header(version=Version.B, key_usage="P0", algorithm="T", mode_of_use="E"), PIN_KEY
    )
    detail = await sim.pad.import_key_block("pin31", block, kbpk="kbpk")
    assert (detail.usage, detail.algorithm, detail.mode_of_use) == (
        KeyUsage.PIN,
        KeyAlgorithm.TDES,
        ModeOfUse.ENCRYPT,
    )
    assert detail.kcv == _kcv(PIN_KEY)
    await sim.enter()
    made = await sim.pad.get_pin_block("pin31", format=PinFormat.ISO0, customer_data=PAN)
    assert decipher_pin_block(0, PIN_KEY, made.block, PAN) == PIN
    aes_block = _block("D....P0AE00E0000")
    with pytest.raises(hal.FormatNotSupported, match="version D key block is protected by a aes"):
        await sim.pad.import_key_block("x", aes_block, kbpk="kbpk")
    tampered = block[:-1] + ("0" if block[-1] != "0" else "1")
    with pytest.raises(hal.InvalidData):
        await sim.pad.import_key_block("x", tampered, kbpk="kbpk")


async def test_encrypt_mac_random_and_kcv_go_through(sim: Sim) -> None:
    pad = sim.pad
    data = bytes(range(16))
    ciphertext = await pad.encrypt("data", data)
    assert ciphertext == encrypt_ecb(KeyAlgorithm.TDES, DATA_KEY, data)
    assert await pad.decrypt("data", ciphertext) == data
    iv = bytes(range(8, 16))
    cbc = await pad.encrypt("data_e", data, mode=hal.CipherMode.CBC, iv=iv)
    assert cbc == encrypt_cbc(KeyAlgorithm.TDES, DATA_E_KEY, data, iv)
    with pytest.raises(hal.InvalidData, match="whole 8-byte blocks; got 12 bytes"):
        await pad.encrypt("data", bytes(12))
    with pytest.raises(hal.InvalidData, match="IV is 8 bytes; got 16"):
        await pad.encrypt("data", data, mode=hal.CipherMode.CBC, iv=bytes(16))
    payload = b"a payload of three blocks"
    mac = await pad.generate_mac("mac", payload)
    assert await pad.verify_mac("mac", payload, mac)
    assert not await pad.verify_mac("mac", payload[:-1] + b"S", mac)
    # Another key (one value, one usage) does not verify it.
    assert not await pad.verify_mac("mac_v", payload, mac)
    random = await pad.generate_random(32)
    assert len(random) == 32
    assert random != await pad.generate_random(32)
    assert await pad.generate_kcv("data") == _kcv(DATA_KEY)
    assert len(await pad.generate_kcv("pin_aes", method=hal.KcvMethod.CMAC)) == 5


async def test_keys_and_key_detail(sim: Sim) -> None:
    keys = await sim.pad.keys()
    assert [k.name for k in keys] == ["data", "data_e", "kek", "mac", "mac_v", "pin", "pin_aes"]
    pin = await sim.pad.key_detail("pin")
    assert pin == next(k for k in keys if k.name == "pin")
    assert (pin.usage, pin.mode_of_use, pin.length, pin.kcv) == (
        KeyUsage.PIN,
        ModeOfUse.ENCRYPT,
        16,
        _kcv(PIN_KEY),
    )
    with pytest.raises(hal.KeyNotFound, match="holds no key 'nope'"):
        await sim.pad.key_detail("nope")
    status = await sim.pad.status()
    assert (status.encryption_state, status.keys) == (hal.EncryptionState.READY, 7)
    changes = sim.pad.events(kinds=[hal.StatusChanged])
    await sim.pad.delete_key("data_e")
    with pytest.raises(hal.KeyNotFound):
        await sim.pad.delete_key("data_e")
    (changed,) = changes.drain()
    assert isinstance(changed, hal.StatusChanged)
    assert changed.changed == frozenset({"keys"})
    assert changed.new.keys == 6


async def test_initialize_erases_every_key_and_says_so_once(sim: Sim) -> None:
    events = sim.pad.events(kinds=[hal.Initialized])
    await sim.enter()
    await sim.pad.initialize()
    assert [type(e) for e in events.drain()] == [hal.Initialized]
    assert await sim.pad.keys() == ()
    status = await sim.pad.status()
    assert (status.keys, status.encryption_state) == (0, hal.EncryptionState.NOT_INITIALIZED)
    with pytest.raises(hal.KeyNotFound):
        await sim.pad.get_pin_block("pin", format=PinFormat.ISO0, customer_data=PAN)


async def test_initialize_says_so_when_the_backend_does_not() -> None:
    class Forgetful(PinPadModel):
        def _emit(self, event: hal.Event) -> None:
            if not isinstance(event, hal.Initialized):
                super()._emit(event)

    pad = PinPadService(Forgetful())
    await pad.open()
    try:
        events = pad.events(kinds=[hal.Initialized])
        await pad.initialize()
        (event,) = events.drain()
        assert isinstance(event, hal.Initialized)
        assert event.command_id is None
    finally:
        await pad.close()


async def test_an_entry_that_times_out_leaves_no_pin(sim: Sim) -> None:
    # Long enough for the four keys on a loaded machine; the customer never presses enter.
    entry = asyncio.create_task(sim.pad.pin_entry(timeout=1.0))
    await sim.control.press_keys(["seven", "three", "nine", "one"], timeout=5)
    assert sim.model.keys_pressed == 4
    with pytest.raises(hal.HalTimeout, match=r"PinPad.PinEntry did not finish within 1.0 s"):
        await entry
    assert not sim.model.entry_active
    assert not sim.model.pin_held
    with pytest.raises(hal.SequenceError, match="no PIN is waiting"):
        await sim.pad.get_pin_block("pin", format=PinFormat.ISO0, customer_data=PAN)
    # The pad is ready for the next customer.
    await sim.enter()
    block = await sim.pad.get_pin_block("pin", format=PinFormat.ISO0, customer_data=PAN)
    assert decipher_pin_block(0, PIN_KEY, block.block, PAN) == PIN


async def test_cancelling_an_entry_ends_it_on_the_pad(sim: Sim) -> None:
    entry = asyncio.create_task(sim.pad.pin_entry())
    await sim.control.press_keys(["seven", "three"], timeout=5)
    entry.cancel()
    with pytest.raises(asyncio.CancelledError):
        await entry
    assert not sim.model.entry_active
    assert not sim.model.pin_held
    with pytest.raises(hal.SequenceError):
        await sim.pad.get_pin_block("pin", format=PinFormat.ISO0, customer_data=PAN)


async def test_the_cancel_key_discards_the_pin(sim: Sim) -> None:
    entry = asyncio.create_task(sim.pad.pin_entry(timeout=5))
    await sim.control.press_keys(["seven", "three", "nine", "one", "cancel"], timeout=5)
    assert await entry == hal.PinEntryResult(0, hal.EntryCompletion.CANCEL, "cancel")
    with pytest.raises(hal.SequenceError):
        await sim.pad.get_pin_block("pin", format=PinFormat.ISO0, customer_data=PAN)


async def test_commands_queue_behind_an_entry_but_status_does_not(sim: Sim) -> None:
    entry = asyncio.create_task(sim.pad.pin_entry(timeout=5))
    await sim.control.wait_for_entry(timeout=5)
    later = asyncio.create_task(sim.pad.keys(timeout=5))
    await asyncio.sleep(0.01)
    assert not later.done()
    assert (await sim.pad.status()).device is hal.DeviceState.ONLINE
    assert (await sim.pad.capabilities()).pin_max == 12
    await sim.control.type_pin(PIN, timeout=5)
    await entry
    assert len(await later) == 7


async def test_a_data_entry_names_its_keys(sim: Sim) -> None:
    events = sim.pad.events(kinds=[hal.KeyEvent])
    entry = asyncio.create_task(sim.pad.data_entry(max_len=6, timeout=5))
    await sim.control.press_keys(["one", "two", "decPoint", "five", "enter"], timeout=5)
    assert await entry == hal.DataEntryResult("12.5", hal.EntryCompletion.ENTER, "enter")
    assert [e.digit for e in events.drain() if isinstance(e, hal.KeyEvent)] == [
        "one",
        "two",
        "decPoint",
        "five",
        "enter",
    ]


async def test_pin_block_data_given_first_must_match(sim: Sim) -> None:
    await sim.pad.set_pin_block_data("pin", format=PinFormat.ISO0, customer_data=PAN)
    await sim.enter()
    other = PAN[:-1] + "7"
    with pytest.raises(hal.InvalidData, match=r"^customer_data differ") as info:
        await sim.pad.get_pin_block("pin", format=PinFormat.ISO0, customer_data=other)
    assert PAN not in str(info.value)
    assert other not in str(info.value)
    block = await sim.pad.get_pin_block("pin", format=PinFormat.ISO0, customer_data=PAN)
    assert decipher_pin_block(0, PIN_KEY, block.block, PAN) == PIN
    await _refused(
        sim,
        sim.pad.set_pin_block_data("mac", format=PinFormat.ISO0, customer_data=PAN),
        hal.UseViolation,
        "mac",
        "PIN blocks need a PIN key",
    )


async def test_a_pad_that_formats_first_needs_the_data_before_the_entry() -> None:
    class FormatsFirst(PinPadModel):
        def capabilities(self) -> PinPadCapabilities:
            return dataclasses.replace(super().capabilities(), pin_block_data_first=True)

    model = FormatsFirst()
    pad = PinPadService(model)
    await pad.open()
    try:
        await _load_kek(pad)
        await _load(pad, "pin", PIN_KEY, KeyUsage.PIN, ModeOfUse.ENCRYPT)
        with pytest.raises(hal.SequenceError, match="call set_pin_block_data before pin_entry"):
            await pad.pin_entry(timeout=5)
        await pad.set_pin_block_data("pin", format=PinFormat.ISO0, customer_data=PAN)
        await Sim(pad, PinPadControl(model), model).enter()
        block = await pad.get_pin_block("pin", format=PinFormat.ISO0, customer_data=PAN)
        assert decipher_pin_block(0, PIN_KEY, block.block, PAN) == PIN
        with pytest.raises(hal.SequenceError):  # the data went with that block
            await pad.pin_entry(timeout=5)
    finally:
        await pad.close()


async def test_debug_logs_show_commands_but_no_secret(
    sim: Sim, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    await _load(sim.pad, "data2", DATA_KEY, KeyUsage.DATA, ModeOfUse.BOTH)
    await sim.enter()
    block = await sim.pad.get_pin_block("pin", format=PinFormat.ISO0, customer_data=PAN)
    plain = b"account 4761739001010010"
    ciphertext = await sim.pad.encrypt("data", plain[:16])
    mac = await sim.pad.generate_mac("mac", plain)
    with pytest.raises(hal.UseViolation):
        await sim.pad.get_pin_block("mac", format=PinFormat.ISO3, customer_data=PAN)
    text = "\n".join(record.getMessage() for record in caplog.records)
    # The commands are there, with what may be shown.
    assert "GetPinBlock" in text
    assert "476173******0010" in text
    assert "value=<16 bytes>" in text
    assert "data=<16 bytes>" in text
    secrets_ = [PIN, PAN, plain.decode()[:16]]
    for value in (*SECRET_KEYS, block.block, ciphertext, mac):
        secrets_ += [value.hex(), value.hex().upper(), repr(value)[2:-1]]
    leaked = [s for s in secrets_ if s in text]
    assert not leaked


# --- key separation enforced by the service (security review of issue 5) -------------------
#
# `_Lax` is the simulator's pad with a secure element that trusts its host (the rules
# of the review switched off), standing for a backend that cannot enforce them (the
# ZT588 combines components on the host): what it is asked to do, it counts. The
# service must refuse before the device is asked.

TDES = KeyAlgorithm.TDES
LAX_KEK_PARTS = (
    bytes.fromhex("0123456789ABCDEFFEDCBA9876543210"),
    bytes.fromhex("5DB50B454F8389ADCE573BE50861F2BF"),
)
LAX_KEK = bytes(a ^ b for a, b in zip(*LAX_KEK_PARTS, strict=True))


class _Lax(PinPadModel):
    def __init__(self) -> None:
        super().__init__()
        self.asked: list[str] = []
        element = self.secure_element
        # White-box: switch off the element's own key separation rules.
        element._check_no_kek = lambda name: None  # type: ignore[method-assign]
        element._check_replaceable = lambda name, attributes: None  # type: ignore[method-assign]
        element._check_strength = lambda *args: None  # type: ignore[method-assign]

    async def load_component(self, *args: Any) -> hal.KeyDetail:
        self.asked.append("load_component")
        return await super().load_component(*args)

    async def activate_key(self, *args: Any) -> hal.KeyDetail:
        self.asked.append("activate_key")
        return await super().activate_key(*args)

    async def load_key(self, *args: Any) -> hal.KeyDetail:
        self.asked.append("load_key")
        return await super().load_key(*args)

    async def load_key_block(self, *args: Any) -> hal.KeyDetail:
        self.asked.append("load_key_block")
        return await super().load_key_block(*args)


@pytest.fixture
async def lax() -> AsyncIterator[tuple[PinPadService, _Lax]]:
    model = _Lax()
    pad = PinPadService(model)
    await pad.open()
    try:
        yield pad, model
    finally:
        await pad.close()


async def _lax_kek(pad: PinPadService, name: str = "kek") -> None:
    for part in LAX_KEK_PARTS:
        await pad.import_key_component(name, part, algorithm=TDES, kcv=_kcv(part))
    await pad.activate_key(name, kcv=_kcv(LAX_KEK))


async def test_the_service_takes_components_for_the_first_kek_only(
    lax: tuple[PinPadService, _Lax],
) -> None:
    # The review's attack A (/tmp/rev/attack1.py): with the bank's KEK in, the host
    # loads a KEK of its own from components.
    pad, model = lax
    await pad.import_key_component("late", DATA_KEY, algorithm=TDES, kcv=_kcv(DATA_KEY))
    await _lax_kek(pad)
    model.asked.clear()
    own = bytes(range(16))
    with pytest.raises(hal.UseViolation, match=r"clear components .* are no longer taken"):
        await pad.import_key_component("evil", own, algorithm=TDES, kcv=_kcv(own))
    with pytest.raises(hal.UseViolation, match="no longer taken"):
        await pad.import_key_component(
            "evil", own, algorithm=TDES, kcv=_kcv(own), usage=KeyUsage.KBPK
        )
    # Components begun before the KEK was activated cannot be completed after it.
    with pytest.raises(hal.UseViolation, match="no longer taken"):
        await pad.import_key_component("late", MAC_KEY, algorithm=TDES, kcv=_kcv(MAC_KEY))
    with pytest.raises(hal.UseViolation, match="no longer taken"):
        await pad.activate_key("late", kcv=_kcv(bytes(16)))
    assert model.asked == []
    # A later KEK arrives enciphered under the first.
    await pad.import_key(
        "kek2",
        encrypt_ecb(TDES, LAX_KEK, DATA_KEY),
        kek="kek",
        usage=KeyUsage.KEK,
        algorithm=TDES,
        mode_of_use=ModeOfUse.BOTH,
        kcv=_kcv(DATA_KEY),
    )
    # After initialize the first KEK is loaded again from components.
    await pad.initialize()
    await _lax_kek(pad)


async def test_the_service_refuses_weak_and_repeated_components(
    lax: tuple[PinPadService, _Lax],
) -> None:
    # The review's zero.py: one caller sends one component twice: an all-zero KEK.
    pad, model = lax
    part = LAX_KEK_PARTS[0]
    await pad.import_key_component("kek", part, algorithm=TDES, kcv=_kcv(part))
    model.asked.clear()
    flipped = bytes(b ^ 1 for b in part)  # parity bits only: the same DES key
    for same in (part, flipped):
        with pytest.raises(hal.KeyInvalid, match="identical to one already given") as info:
            await pad.import_key_component("kek", same, algorithm=TDES, kcv=_kcv(same))
        assert KEY_HEX not in str(info.value)
        assert KEY_HEX.lower() not in str(info.value)
    half = bytes.fromhex("1122334455667788")
    for weak in (bytes(16), half * 2, half * 2 + part[:8], part[:8] + half * 2):
        with pytest.raises(hal.KeyInvalid, match=r"zeros|single-DES"):
            await pad.import_key_component("kek", weak, algorithm=TDES, kcv=_kcv(weak))
    assert model.asked == []
    # Three components that cancel out: refused at activation by the zero key's KCV.
    second, third = (
        LAX_KEK_PARTS[1],
        bytes(a ^ b for a, b in zip(part, LAX_KEK_PARTS[1], strict=True)),
    )
    for component in (second, third):
        await pad.import_key_component("kek", component, algorithm=TDES, kcv=_kcv(component))
    model.asked.clear()
    with pytest.raises(hal.KeyInvalid, match="all zeros"):
        await pad.activate_key("kek", kcv=_kcv(bytes(16)))
    assert model.asked == []


async def test_a_name_in_use_keeps_its_attributes(lax: tuple[PinPadService, _Lax]) -> None:
    pad, model = lax
    await _lax_kek(pad)
    pin = {"usage": KeyUsage.PIN, "algorithm": TDES, "mode_of_use": ModeOfUse.ENCRYPT}
    await pad.import_key(
        "pin", encrypt_ecb(TDES, LAX_KEK, PIN_KEY), kek="kek", kcv=_kcv(PIN_KEY), **pin
    )
    model.asked.clear()
    for usage, mode in ((KeyUsage.DATA, ModeOfUse.BOTH), (KeyUsage.PIN, ModeOfUse.BOTH)):
        with pytest.raises(hal.DuplicateKey, match="does not replace it") as info:
            await pad.import_key(
                "pin",
                encrypt_ecb(TDES, LAX_KEK, DATA_KEY),
                kek="kek",
                usage=usage,
                algorithm=TDES,
                mode_of_use=mode,
                kcv=_kcv(DATA_KEY),
            )
        assert info.value.error_code == "duplicateKey"
    await pad.import_key(
        "kbpk",
        encrypt_ecb(TDES, LAX_KEK, KBPK_KEY),
        kek="kek",
        usage=KeyUsage.KBPK,
        algorithm=TDES,
        mode_of_use=ModeOfUse.BOTH,
        kcv=_kcv(KBPK_KEY),
    )
    model.asked.clear()
    header = Header(version=Version.B, key_usage="D0", algorithm="T", mode_of_use="B")
    with pytest.raises(hal.DuplicateKey):
        await pad.import_key_block("pin", tr31.wrap(KBPK_KEY, header, DATA_KEY), kbpk="kbpk")
    assert model.asked == []
    # The same attributes replace it.
    detail = await pad.import_key(
        "pin", encrypt_ecb(TDES, LAX_KEK, MAC_KEY), kek="kek", kcv=_kcv(MAC_KEY), **pin
    )
    assert detail.kcv == _kcv(MAC_KEY)


async def test_no_key_stronger_than_its_kek_reaches_the_device(
    lax: tuple[PinPadService, _Lax],
) -> None:
    pad, model = lax
    await _lax_kek(pad)
    await pad.import_key(
        "kbpk",
        encrypt_ecb(TDES, LAX_KEK, KBPK_KEY),
        kek="kek",
        usage=KeyUsage.KBPK,
        algorithm=TDES,
        mode_of_use=ModeOfUse.BOTH,
        kcv=_kcv(KBPK_KEY),
    )
    model.asked.clear()
    events = pad.events(kinds=[hal.IllegalKeyAccess])
    aes_256 = bytes(range(0x21, 0x41))
    for value, algorithm in ((aes_256, KeyAlgorithm.AES), (AES_PIN_KEY, KeyAlgorithm.SM4)):
        with pytest.raises(hal.UseViolation, match="stronger than 'kek'"):
            await pad.import_key(
                "strong",
                encrypt_ecb(TDES, LAX_KEK, value),
                kek="kek",
                usage=KeyUsage.DATA,
                algorithm=algorithm,
                mode_of_use=ModeOfUse.BOTH,
                kcv=_kcv(value, algorithm),
            )
    header = Header(version=Version.B, key_usage="D0", algorithm="A", mode_of_use="B")
    with pytest.raises(hal.UseViolation, match="stronger than 'kbpk'"):
        await pad.import_key_block("strong", tr31.wrap(KBPK_KEY, header, aes_256), kbpk="kbpk")
    assert model.asked == []
    assert [e.key_name for e in events.drain()] == ["kek", "kek", "kbpk"]
    # A 24-byte TDES key's length shows in its enciphered value: refused here too.
    with pytest.raises(hal.UseViolation, match="stronger"):
        await pad.import_key(
            "strong",
            encrypt_ecb(TDES, LAX_KEK, DATA_KEY + PIN_KEY[:8]),
            kek="kek",
            usage=KeyUsage.DATA,
            algorithm=TDES,
            mode_of_use=ModeOfUse.BOTH,
            kcv=_kcv(DATA_KEY + PIN_KEY[:8]),
        )
    assert model.asked == []


async def test_the_review_attacks_fail_on_the_simulated_pad() -> None:
    # /tmp/rev/attack1.py end to end over the real secure element: a host KEK from
    # components (A), the wrapped PIN key re-imported as a data key (B) or a KEK (C).
    model = PinPadModel()
    pad = PinPadService(model)
    await pad.open()
    try:
        await _lax_kek(pad)
        wrapped = encrypt_ecb(TDES, LAX_KEK, PIN_KEY)
        common = {"kek": "kek", "algorithm": TDES, "kcv": _kcv(PIN_KEY)}
        await pad.import_key(
            "pin", wrapped, usage=KeyUsage.PIN, mode_of_use=ModeOfUse.ENCRYPT, **common
        )
        own = bytes(range(16))
        with pytest.raises(hal.UseViolation):
            await pad.import_key_component("evil", own, algorithm=TDES, kcv=_kcv(own))
        for usage, mode in ((KeyUsage.DATA, ModeOfUse.BOTH), (KeyUsage.KEK, ModeOfUse.BOTH)):
            with pytest.raises(hal.UseViolation, match="loaded before as a P0") as info:
                await pad.import_key("twin", wrapped, usage=usage, mode_of_use=mode, **common)
            for secret in (PIN_KEY.hex(), PIN_KEY.hex().upper(), _kcv(PIN_KEY).hex().upper()):
                assert secret not in str(info.value)
        assert [k.name for k in await pad.keys()] == ["kek", "pin"]
    finally:
        await pad.close()


async def test_a_bad_name_or_enum_is_refused_without_quoting_it(pad: PinPadService) -> None:
    key = bytes.fromhex(KEY_HEX)
    calls: list[Callable[[], Awaitable[Any]]] = [
        lambda: pad.key_detail(key),  # type: ignore[arg-type]
        lambda: pad.key_detail(KEY_HEX * 3),
        lambda: pad.import_key(
            "x",
            key,
            kek=key,
            usage=KeyUsage.PIN,
            algorithm=TDES,  # type: ignore[arg-type]
            mode_of_use=ModeOfUse.ENCRYPT,
            kcv=b"abc",
        ),
        lambda: pad.import_key(
            "x",
            key,
            kek="kek",
            usage=key,
            algorithm=TDES,  # type: ignore[arg-type]
            mode_of_use=ModeOfUse.ENCRYPT,
            kcv=b"abc",
        ),
    ]
    for call in calls:
        with pytest.raises(hal.InvalidData) as info:
            await call()
        error = info.value
        assert error.__context__ is None
        assert error.__cause__ is None
        for text in (str(error), repr(error)):
            assert KEY_HEX not in text
            assert KEY_HEX.lower() not in text
            assert "\\x01#E" not in text
