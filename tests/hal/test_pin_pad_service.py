"""`PinPadService`: argument validation against the capabilities, key usage enforced
before the device is asked, queueing, timeouts, cancellation, events and masked logs.

The first part checks refusals that must happen before any command reaches the device:
its backend (`_Unreachable`) fails the test if the service calls it for anything but
opening, closing, capabilities and status. The second part runs the service over the
simulator's PIN pad model, the real secure element: PIN blocks are deciphered with
`protocols.pinblock` and must give back the PIN typed.
"""

from __future__ import annotations

import dataclasses
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
    with pytest.raises(hal.InvalidData, match="check value is 1 to 8 bytes; got 0"):
        await pad.import_key_component("kek", component, algorithm=KeyAlgorithm.TDES, kcv=b"")
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
    with pytest.raises(hal.InvalidData, match="check value is 1 to 16 bytes; got 0"):
        await pad.activate_key("kek", kcv=b"")
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
        ({"kcv": b""}, hal.InvalidData, "check value is 1 to 8 bytes"),
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
