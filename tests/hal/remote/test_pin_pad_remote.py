"""`RemotePinPad` against a real server over ZeroMQ, serving the simulator's PIN pad
(`PinPadService` over `PinPadModel`), with the customer's keys pressed through its
`PinPadControl`: keys loaded over the wire, a PIN entry whose block the host deciphers
to the PIN typed, usage violations and illegal key access, timeouts and cancellation,
and the same results and errors as in-process."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest

import hal
from hal.device import Device
from hal.devices.pin_pad import (
    CipherMode,
    EncryptionState,
    EnterData,
    EntryCompletion,
    IllegalKeyAccess,
    Initialized,
    KcvMethod,
    KeyAlgorithm,
    KeyEvent,
    KeyState,
    KeyUsage,
    ModeOfUse,
    PinFormat,
    PinPad,
)
from hal.devices.pin_pad_service import PinPadService
from hal.errors import (
    ConfigurationError,
    DeviceNotReady,
    HalTimeout,
    InvalidData,
    KcvMismatch,
    KeyNotFound,
    ProtocolError,
    SequenceError,
    UseViolation,
)
from hal.events import Event, StatusChanged, Subscription
from hal.remote import RemoteCardReader, RemotePinPad, RemoteServer
from protocols import dukpt, pinblock, tr31
from protocols.crypto_primitives import Algorithm, encrypt_cbc, encrypt_ecb, xor_bytes
from protocols.kcv import compute_kcv
from protocols.tr31_header import Header as Tr31Header
from protocols.tr31_header import KeyAlgorithm as Tr31Algorithm
from protocols.tr31_header import KeyUsage as Tr31Usage
from protocols.tr31_header import ModeOfUse as Tr31Mode
from protocols.tr31_header import Version
from simulator.models.pin_pad import PinPadModel
from simulator.pin_pad_control import PinPadControl
from simulator.world import World
from tests.remote_tap import FrameTap

PIN = "7305"  # distinctive: not 1234
PAN = "4761739001010010"
TDES = KeyAlgorithm.TDES

# Two clear components of the first key-encryption key, and the keys sent under it.
COMPONENT_1 = bytes.fromhex("0123456789ABCDEFFEDCBA9876543210")
COMPONENT_2 = bytes.fromhex("A1B2C3D4E5F60718293A4B5C6D7E8F90")
KEK = xor_bytes(COMPONENT_1, COMPONENT_2)
PIN_KEY = bytes.fromhex("1C4F7A2B9E3D6C0815A2B7C9D4E6F031")
DATA_KEY = bytes.fromhex("2B7E151628AED2A6ABF7158809CF4F3C")
MAC_KEY = bytes.fromhex("5D3A8C1E9F2B7460C4E1A3B5D7F90812")
KBPK = bytes.fromhex("89E88CF7931444F334BD7547FC3F380C")


def kcv(key: bytes, algorithm: Algorithm = Algorithm.TDES) -> bytes:
    return compute_kcv(algorithm, key)


@dataclass
class Rig:
    """The served simulator pad, its control, and the server."""

    model: PinPadModel
    control: PinPadControl
    server: RemoteServer


@pytest.fixture
async def rig() -> AsyncIterator[Rig]:
    model = PinPadModel()
    service = PinPadService(model, name="pin_pad")
    async with RemoteServer(
        {"pin_pad": service}, "tcp://127.0.0.1:0", simulator=True, heartbeat_interval=0.5
    ) as server:
        yield Rig(model, PinPadControl(model), server)


@pytest.fixture
async def pad(rig: Rig) -> AsyncIterator[RemotePinPad]:
    async with RemotePinPad(rig.server.endpoint, timeout=2.0) as remote:
        yield remote


async def load_kek(pad: PinPad) -> None:
    """The first KEK, as two clear components under dual control."""
    first = await pad.import_key_component("kek", COMPONENT_1, algorithm=TDES, kcv=kcv(COMPONENT_1))
    assert (first.state, first.components, first.kcv) == (KeyState.CONSTRUCTING, 1, b"")
    await pad.import_key_component("kek", COMPONENT_2, algorithm=TDES, kcv=kcv(COMPONENT_2))
    detail = await pad.activate_key("kek", kcv=kcv(KEK))
    assert (detail.state, detail.usage, detail.kcv) == (KeyState.LOADED, KeyUsage.KEK, kcv(KEK))


async def load_under_kek(
    pad: PinPad, name: str, key: bytes, usage: KeyUsage, mode: ModeOfUse
) -> None:
    detail = await pad.import_key(
        name,
        encrypt_ecb(Algorithm.TDES, KEK, key),
        kek="kek",
        usage=usage,
        algorithm=TDES,
        mode_of_use=mode,
        kcv=kcv(key),
    )
    assert (detail.name, detail.usage, detail.kcv, detail.length) == (name, usage, kcv(key), 16)


async def load_keys(pad: PinPad) -> None:
    await load_kek(pad)
    await load_under_kek(pad, "pin", PIN_KEY, KeyUsage.PIN, ModeOfUse.ENCRYPT)
    await load_under_kek(pad, "data", DATA_KEY, KeyUsage.DATA, ModeOfUse.BOTH)
    await load_under_kek(pad, "mac", MAC_KEY, KeyUsage.MAC_ISO9797_1, ModeOfUse.GENERATE_VERIFY)


async def collect(sub: Subscription, count: int, timeout: float = 2.0) -> list[Event]:
    out: list[Event] = []
    async with asyncio.timeout(timeout):
        while len(out) < count:
            out.append(await sub.get())
    return out


async def test_a_pin_entered_over_zmq_deciphers_to_the_pin_typed(rig: Rig) -> None:
    async with (
        FrameTap(rig.server.endpoint) as tap,
        RemotePinPad(tap.endpoint, timeout=2.0) as pad,
    ):
        await load_keys(pad)
        events = pad.events(kinds=[EnterData, KeyEvent])
        entry = asyncio.create_task(pad.pin_entry(min_len=4, max_len=6, timeout=5))
        await rig.control.type_pin(PIN)
        result = await entry
        assert (result.digits, result.completion, result.key) == (4, EntryCompletion.ENTER, "enter")
        seen = await collect(events, 6)
        events.close()
        block = await pad.get_pin_block("pin", format=PinFormat.ISO0, customer_data=PAN)
    assert isinstance(seen[0], EnterData)
    keys = [(e.completion, e.digit) for e in seen[1:] if isinstance(e, KeyEvent)]
    assert keys == [(EntryCompletion.CONTINUE, None)] * 4 + [(EntryCompletion.ENTER, "enter")]
    assert block.format is PinFormat.ISO0
    assert block.ksn == b""
    assert pinblock.decipher_pin_block(0, PIN_KEY, block.block, PAN) == PIN
    # On the wire: the block and the PAN only as blobs; the PIN, the components and the
    # keys in no frame at all (the thorough search is tests/test_pin_secrecy.py's).
    frames = tap.all_frames()
    assert block.block in frames
    assert PAN.encode() in frames
    json_frames = b"".join(m.frames[0] + m.frames[1] for m in tap.messages)
    for secret in (PAN.encode(), block.block.hex().encode(), COMPONENT_1.hex().encode()):
        assert secret not in json_frames
    for secret in (COMPONENT_1, COMPONENT_2):
        assert secret in frames  # the app sent them: as blobs
    for clear in (KEK, PIN_KEY, DATA_KEY, MAC_KEY, PIN.encode(), PIN.encode().hex().encode()):
        assert not any(clear in frame for frame in frames)
    completion = next(
        m
        for m in tap.messages
        if m.header["type"] == "completion" and m.header["name"] == "Keyboard.PinEntry"
    )
    assert completion.payload == {"digits": 4, "completion": "enter", "key": "enter"}
    key_events = [m for m in tap.messages if m.header["name"] == "Keyboard.KeyEvent"]
    assert [m.payload for m in key_events[:4]] == [{"completion": "continue", "digit": None}] * 4
    # Command events, with the entry's requestId: they reach the session that asked only.
    assert {m.header["type"] for m in key_events} == {"event"}
    assert {m.header["requestId"] for m in key_events} == {completion.header["requestId"]}


async def test_a_key_used_outside_its_usage_is_a_use_violation_with_an_event(
    rig: Rig, pad: RemotePinPad
) -> None:
    await load_keys(pad)
    illegal = pad.events(kinds=[IllegalKeyAccess])
    with pytest.raises(UseViolation) as info:
        await pad.encrypt("pin", bytes(8))  # a PIN key encrypts no data
    assert info.value.error_code == "useViolation"
    (event,) = await collect(illegal, 1)
    assert isinstance(event, IllegalKeyAccess)
    assert (event.key_name, event.error_code, event.device) == ("pin", "useViolation", "pin_pad")
    with pytest.raises(UseViolation):
        await pad.generate_mac("data", b"12345678")  # nor a data key a MAC
    with pytest.raises(KeyNotFound):
        await pad.key_detail("nothing")
    (event,) = await collect(illegal, 1)
    assert isinstance(event, IllegalKeyAccess)
    assert event.key_name == "data"
    illegal.close()


async def test_a_wrong_check_value_refuses_the_key(pad: RemotePinPad) -> None:
    # Before the KEK: clear components build the first KEK only.
    with pytest.raises(KcvMismatch):
        await pad.import_key_component("kek2", COMPONENT_1, algorithm=TDES, kcv=b"\x00\x00\x00")
    await load_kek(pad)
    with pytest.raises(KcvMismatch):
        await pad.import_key(
            "pin",
            encrypt_ecb(Algorithm.TDES, KEK, PIN_KEY),
            kek="kek",
            usage=KeyUsage.PIN,
            algorithm=TDES,
            mode_of_use=ModeOfUse.ENCRYPT,
            kcv=kcv(DATA_KEY),
        )
    with pytest.raises(KeyNotFound):
        await pad.key_detail("pin")


async def test_a_dukpt_pin_block_comes_with_its_ksn(rig: Rig, pad: RemotePinPad) -> None:
    # ANSI X9.24-1:2009 A.4: the test BDK and initial KSN.
    bdk = bytes.fromhex("0123456789ABCDEFFEDCBA9876543210")
    initial_ksn = bytes.fromhex("FFFF9876543210E00000")
    ipek = dukpt.derive_ipek(bdk, initial_ksn)
    await load_kek(pad)
    detail = await pad.import_key(
        "dukpt",
        encrypt_ecb(Algorithm.TDES, KEK, ipek),
        kek="kek",
        usage=KeyUsage.INITIAL_DUKPT,
        algorithm=TDES,
        mode_of_use=ModeOfUse.DERIVE,
        kcv=kcv(ipek),
        ksn=initial_ksn,
    )
    assert detail.usage is KeyUsage.INITIAL_DUKPT
    entry = asyncio.create_task(pad.pin_entry(timeout=5))
    await rig.control.type_pin(PIN)
    await entry
    block = await pad.get_pin_block("dukpt", format=PinFormat.ISO0, customer_data=PAN)
    assert len(block.ksn) == 10
    assert block.ksn[:8] == initial_ksn[:8]
    pin_key = dukpt.host_derive_key(bdk, block.ksn, dukpt.TdesKeyUsage.PIN)
    assert pinblock.decipher_pin_block(0, pin_key, block.block, PAN) == PIN


async def test_a_pin_entry_that_times_out_is_hal_timeout_and_ends_on_the_pad(
    rig: Rig, pad: RemotePinPad
) -> None:
    await load_keys(pad)
    with pytest.raises(HalTimeout):
        await pad.pin_entry(min_len=4, timeout=0.3)
    assert not rig.model.entry_active
    with pytest.raises(SequenceError):  # nothing was kept
        await pad.get_pin_block("pin", format=PinFormat.ISO0, customer_data=PAN)
    # The pad takes the next entry.
    entry = asyncio.create_task(pad.pin_entry(min_len=4, timeout=5))
    await rig.control.type_pin(PIN)
    assert (await entry).digits == 4


async def test_cancelling_a_pin_entry_ends_it_on_the_pad(rig: Rig, pad: RemotePinPad) -> None:
    entry = asyncio.create_task(pad.pin_entry(timeout=10))
    await rig.control.wait_for_entry(timeout=2)
    await rig.control.press_keys(["seven", "three"])
    entry.cancel()
    with pytest.raises(asyncio.CancelledError):
        await entry
    assert not rig.model.entry_active
    assert not rig.model.pin_held


async def test_a_data_entry_names_its_keys(rig: Rig, pad: RemotePinPad) -> None:
    events = pad.events(kinds=[KeyEvent])
    entry = asyncio.create_task(pad.data_entry(max_len=5, timeout=5))
    await rig.control.press_keys(["one", "two", "decPoint", "five", "enter"])
    result = await entry
    assert (result.data, result.completion) == ("12.5", EntryCompletion.ENTER)
    seen = await collect(events, 5)
    events.close()
    assert [e.digit for e in seen if isinstance(e, KeyEvent)] == [
        "one",
        "two",
        "decPoint",
        "five",
        "enter",
    ]


async def test_crypto_over_the_wire(pad: RemotePinPad) -> None:
    await load_keys(pad)
    data = bytes(range(32))
    iv = bytes(range(8, 16))
    sealed = await pad.encrypt("data", data, mode=CipherMode.CBC, iv=iv)
    assert sealed == encrypt_cbc(Algorithm.TDES, DATA_KEY, data, iv)
    assert await pad.decrypt("data", sealed, mode=CipherMode.CBC, iv=iv) == data
    assert await pad.decrypt("data", await pad.encrypt("data", data)) == data
    mac = await pad.generate_mac("mac", b"a message", padding=2)
    assert len(mac) == 8
    assert await pad.verify_mac("mac", b"a message", mac, padding=2) is True
    assert await pad.verify_mac("mac", b"a massage", mac, padding=2) is False
    first, second = await pad.generate_random(16), await pad.generate_random(16)
    assert len(first) == len(second) == 16
    assert first != second
    assert await pad.generate_kcv("data") == kcv(DATA_KEY)
    cmac_kcv = await pad.generate_kcv("data", method=KcvMethod.CMAC)
    assert cmac_kcv == compute_kcv(Algorithm.TDES, DATA_KEY, KcvMethod.CMAC)
    with pytest.raises(InvalidData):
        await pad.encrypt("data", b"not a block")


async def test_a_tr31_key_block_loads_over_the_wire(pad: RemotePinPad) -> None:
    await load_kek(pad)
    await load_under_kek(pad, "kbpk", KBPK, KeyUsage.KBPK, ModeOfUse.BOTH)
    header = Tr31Header(
        Version.B, Tr31Usage.PIN_ENCRYPTION, Tr31Algorithm.TDES, Tr31Mode.ENCRYPT, "07"
    )
    block = tr31.wrap(KBPK, header, PIN_KEY)
    detail = await pad.import_key_block("pin", block, kbpk="kbpk")
    assert (detail.usage, detail.mode_of_use, detail.version, detail.kcv) == (
        KeyUsage.PIN,
        ModeOfUse.ENCRYPT,
        "07",
        kcv(PIN_KEY),
    )
    tampered = block[:-1] + ("0" if block[-1] != "0" else "1")
    with pytest.raises(InvalidData):
        await pad.import_key_block("pin2", tampered, kbpk="kbpk")


async def test_keys_list_delete_and_initialize(rig: Rig, pad: RemotePinPad) -> None:
    assert (await pad.status()).encryption_state is EncryptionState.NOT_INITIALIZED
    await load_keys(pad)
    assert [k.name for k in await pad.keys()] == ["data", "kek", "mac", "pin"]
    status = await pad.status()
    assert (status.encryption_state, status.keys) == (EncryptionState.READY, 4)
    await pad.delete_key("mac")
    with pytest.raises(KeyNotFound):
        await pad.delete_key("mac")
    initialized = pad.events(kinds=[Initialized])
    await pad.initialize()
    (event,) = await collect(initialized, 1)
    initialized.close()
    assert isinstance(event, Initialized)
    assert await pad.keys() == ()
    with pytest.raises(KeyNotFound):
        await pad.encrypt("data", bytes(8))


async def test_status_changes_arrive_as_status_changed(pad: RemotePinPad) -> None:
    changes = pad.events(kinds=[StatusChanged])
    await load_kek(pad)
    event = None
    async with asyncio.timeout(2):
        while event is None or event.new.encryption_state is not EncryptionState.READY:
            got = await changes.get()
            assert isinstance(got, StatusChanged)
            event = got
    changes.close()
    assert event.old.encryption_state is EncryptionState.NOT_INITIALIZED
    assert "encryption_state" in event.changed
    assert event.new == await pad.status()
    await pad.reset()
    assert (await pad.status()).keys == 1  # a reset keeps the keys


async def test_results_and_errors_equal_the_in_process_ones(rig: Rig, pad: RemotePinPad) -> None:
    async with PinPadService(PinPadModel(), name="pin_pad") as local:
        assert await pad.capabilities() == await local.capabilities()
        assert await pad.status() == await local.status()
        for device in (pad, local):
            await load_keys(device)
        assert await pad.keys() == await local.keys()
        assert await pad.key_detail("pin") == await local.key_detail("pin")

        async def failure(device: PinPad) -> tuple[type[Exception], str]:
            try:
                await device.get_pin_block("mac", format=PinFormat.ISO0, customer_data=PAN)
            except Exception as exc:
                return type(exc), str(exc)
            raise AssertionError("a MAC key made a PIN block")

        remote_error, local_error = await failure(pad), await failure(local)
    assert remote_error == local_error
    assert remote_error[0] is UseViolation
    assert PAN not in remote_error[1]


async def test_hal_open_reaches_a_served_pin_pad(rig: Rig) -> None:
    port = rig.server.endpoint.rpartition(":")[2]
    async with hal.open(f"zmq://127.0.0.1:{port}/pin_pad?timeout=2") as pad:
        assert isinstance(pad, RemotePinPad)
        assert isinstance(pad, PinPad)
        assert (await pad.capabilities()).pin_max == rig.model.capabilities().pin_max
        assert len(await pad.generate_random(8)) == 8


async def test_one_server_serves_a_reader_and_a_pin_pad(world: World) -> None:
    devices: dict[str, Device[Any, Any]] = {
        "card_reader": world.open_card_reader(),
        "pin_pad": PinPadService(PinPadModel(), name="pin_pad"),
    }
    async with RemoteServer(devices, "tcp://127.0.0.1:0", simulator=True) as server:
        assert server.devices == {"card_reader": "CardReader", "pin_pad": "PinPad"}
        async with (
            RemotePinPad(server.endpoint, timeout=2.0) as pad,
            RemoteCardReader(server.endpoint, timeout=2.0) as reader,
        ):
            assert (await pad.status()).keys == 0
            assert (await reader.capabilities()).read_tracks
        with pytest.raises(ConfigurationError, match="is a CardReader device, not a PinPad"):
            async with RemotePinPad(server.endpoint, "card_reader", timeout=2.0):
                pass


async def test_calls_before_open_are_refused() -> None:
    pad = RemotePinPad("tcp://127.0.0.1:1", timeout=0.5)
    with pytest.raises(DeviceNotReady):
        await pad.status()


async def test_a_payload_missing_a_field_is_refused_by_the_server(rig: Rig) -> None:
    # The strict decoder: a client of another version that leaves a field out.
    async with RemotePinPad(rig.server.endpoint, timeout=2.0) as pad:
        session = pad._session
        assert session is not None
        with pytest.raises(ProtocolError, match="missing maxLen"):
            await session.request(
                "pin_pad",
                "Keyboard.PinEntry",
                {"minLen": 4, "autoEnd": False, "activeKeys": None, "terminateKeys": []},
            )
        with pytest.raises(ProtocolError, match="customerData must be ASCII"):
            await session.request(
                "pin_pad",
                "PinPad.GetPinBlock",
                {"key": "pin", "format": "iso0", "customerData": {"$blob": 0}, "padding": 15},
                ["4761é".encode()],
            )
    assert not rig.model.entry_active
