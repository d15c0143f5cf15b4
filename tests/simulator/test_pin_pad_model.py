"""The PIN pad model through its backend contract, with the customer's fingers on it.

The model is driven as a service drives it (one backend call at a time, events and
status to a listener) and typed on through `PinPadControl`; PIN blocks it makes are
deciphered with protocols.pinblock to see what PIN it kept.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hal.device import DeviceState
from hal.devices.pin_pad import (
    DIGIT_KEYS,
    EncryptionState,
    EnterData,
    EntryCompletion,
    EntrySpec,
    Initialized,
    KeyAttributes,
    KeyEvent,
    PinEntryResult,
    PinFormat,
    PinPadStatus,
)
from hal.devices.pin_pad_model import KeyAlgorithm, KeyUsage, ModeOfUse
from hal.errors import DeviceNotReady, HalTimeout, SequenceError
from hal.events import Event
from protocols import crypto_primitives as prim
from protocols import pinblock
from protocols.kcv import compute_kcv
from simulator.clock import SimClock
from simulator.models.pin_pad import KEYBOARD, PinPadModel
from simulator.pin_pad_control import PinPadControl, pin_keys

TDES = KeyAlgorithm.TDES
KEK = bytes.fromhex("0123456789ABCDEFFEDCBA9876543210")
COMPONENT_1 = bytes.fromhex("5DB50B454F8389ADCE573BE50861F2BF")
COMPONENT_2 = bytes.fromhex("5C964E22C6284442308B817D7E35C0AF")
PIN_KEY = bytes.fromhex("F039121BEC83D26B169BDCD5B22AAF8F")
PIN = "73915"
PAN = "4761739001010010"

FUNCTION = frozenset({"enter", "cancel", "clear", "backspace"})


def spec(
    min_len: int = 4,
    max_len: int = 12,
    *,
    auto_end: bool = False,
    active: frozenset[str] = KEYBOARD,
    terminate: frozenset[str] = frozenset({"enter", "cancel"}),
) -> EntrySpec:
    return EntrySpec(min_len, max_len, auto_end, active, terminate)


class Recorder:
    """A backend listener that keeps what it hears (a service stand-in)."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.statuses: list[PinPadStatus] = []

    def event(self, event: Event) -> None:
        self.events.append(event)

    def status_changed(self, status: PinPadStatus) -> None:
        self.statuses.append(status)


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
async def model(recorder: Recorder) -> AsyncIterator[PinPadModel]:
    pad = PinPadModel(clock=SimClock(0.005))
    se = pad.secure_element
    kek = KeyAttributes(KeyUsage.KEK, TDES, ModeOfUse.BOTH)
    se.load_component("kek", COMPONENT_1, kek, compute_kcv(TDES, COMPONENT_1))
    se.load_component("kek", COMPONENT_2, kek, compute_kcv(TDES, COMPONENT_2))
    se.activate("kek", compute_kcv(TDES, KEK))
    se.load_key(
        "pin",
        prim.encrypt_ecb(TDES, KEK, PIN_KEY),
        "kek",
        KeyAttributes(KeyUsage.PIN, TDES, ModeOfUse.ENCRYPT),
        compute_kcv(TDES, PIN_KEY),
    )
    await pad.open(recorder)
    yield pad
    await pad.close()


@pytest.fixture
def control(model: PinPadModel) -> PinPadControl:
    return PinPadControl(model)


async def entry_with(
    model: PinPadModel, keys: list[str], entry: EntrySpec | None = None
) -> PinEntryResult:
    """Run a PIN entry while the customer presses ``keys``; its result."""
    control = PinPadControl(model)
    task = asyncio.create_task(model.pin_entry(entry or spec()))
    try:
        await control.press_keys(keys, timeout=5)
        return await asyncio.wait_for(task, 5)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def recovered_pin(model: PinPadModel) -> str:
    block = await model.pin_block("pin", PinFormat.ISO0, PAN, 0xF)
    return pinblock.decipher_pin_block(0, PIN_KEY, block.block, PAN)


async def test_a_pin_entry_keeps_the_pin_for_one_block(
    model: PinPadModel, recorder: Recorder
) -> None:
    result = await entry_with(model, pin_keys(PIN))
    assert result.digits == 5
    assert result.completion is EntryCompletion.ENTER
    assert result.key == "enter"
    events = [e for e in recorder.events if isinstance(e, EnterData | KeyEvent)]
    assert isinstance(events[0], EnterData)
    keys = events[1:]
    assert [(e.completion, e.digit) for e in keys if isinstance(e, KeyEvent)] == [
        *[(EntryCompletion.CONTINUE, None)] * 5,
        (EntryCompletion.ENTER, "enter"),
    ]
    assert model.pin_held
    assert await recovered_pin(model) == PIN
    assert not model.pin_held
    with pytest.raises(SequenceError):
        await model.pin_block("pin", PinFormat.ISO0, PAN, 0xF)


async def test_backspace_and_clear_edit_the_pin(model: PinPadModel) -> None:
    keys = ["one", "two", "three", "clear", "seven", "three", "nine", "one", "one", "backspace"]
    result = await entry_with(model, [*keys, "five", "enter"])
    assert result.digits == 5
    assert await recovered_pin(model) == PIN


async def test_cancel_discards_the_pin(model: PinPadModel, recorder: Recorder) -> None:
    await entry_with(model, pin_keys("2468"))
    result = await entry_with(model, ["seven", "three", "cancel"])
    assert result.digits == 0
    assert result.completion is EntryCompletion.CANCEL
    assert not model.pin_held  # the PIN before went when the new entry began
    with pytest.raises(SequenceError):
        await model.pin_block("pin", PinFormat.ISO0, PAN, 0xF)


async def test_length_rules(model: PinPadModel) -> None:
    # enter below min_len is ignored; digits past max_len are ignored.
    result = await entry_with(model, ["seven", "three", "enter", "nine", "one", "five", "enter"])
    assert result.digits == 5
    assert await recovered_pin(model) == PIN
    result = await entry_with(model, [*pin_keys(PIN, enter=False), "two", "enter"], spec(4, 5))
    assert await recovered_pin(model) == PIN
    result = await entry_with(model, pin_keys(PIN, enter=False), spec(5, 5, auto_end=True))
    assert result.completion is EntryCompletion.AUTO
    assert result.key == ""
    assert await recovered_pin(model) == PIN


async def test_cancelling_the_entry_wipes_what_was_typed(
    model: PinPadModel, control: PinPadControl
) -> None:
    task = asyncio.create_task(model.pin_entry(spec()))
    await control.type_pin("739", enter=False, timeout=5)
    entry = model._entry
    assert entry is not None
    typed = entry.buffer
    assert len(typed) == 3
    assert await control.entry_active()
    # What a service timeout does: cancel the backend call.
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.01):
            await task
    assert task.cancelled()
    assert typed == bytearray()  # overwritten and emptied
    assert not await control.entry_active()
    assert not model.pin_held
    with pytest.raises(SequenceError):
        await model.pin_block("pin", PinFormat.ISO0, PAN, 0xF)
    # The keyboard is free for the next entry.
    await entry_with(model, pin_keys(PIN))
    assert await recovered_pin(model) == PIN


async def test_a_data_entry_names_its_keys(model: PinPadModel, recorder: Recorder) -> None:
    control = PinPadControl(model)
    task = asyncio.create_task(model.data_entry(spec(0, 8)))
    await control.press_keys(
        ["one", "two", "decPoint", "five", "doubleZero", "backspace", "doubleZero", "enter"]
    )
    result = await asyncio.wait_for(task, 5)
    assert result.data == "12.500"
    assert result.completion is EntryCompletion.ENTER
    digits = [e.digit for e in recorder.events if isinstance(e, KeyEvent)]
    assert digits[:3] == ["one", "two", "decPoint"]


async def test_keys_without_an_entry(model: PinPadModel, control: PinPadControl) -> None:
    assert model.press("five") is False
    assert not await control.entry_active()
    with pytest.raises(HalTimeout):
        await control.press_keys(["five"], timeout=0.02)
    with pytest.raises(ValueError, match="no key"):
        await control.press_keys(["five", "help"])
    with pytest.raises(ValueError, match="digits") as caught:
        await control.type_pin("12a4")
    assert "12a4" not in str(caught.value)


async def test_power_loss(model: PinPadModel, control: PinPadControl, recorder: Recorder) -> None:
    await entry_with(model, pin_keys(PIN))
    task = asyncio.create_task(model.pin_entry(spec()))
    await control.wait_for_entry(5)
    await control.press_keys(["one", "two"])
    await control.power_loss()
    with pytest.raises(DeviceNotReady):
        await task
    assert not model.pin_held
    status = await model.get_status()
    assert status.device is DeviceState.POWER_OFF
    assert recorder.statuses[-1] == status
    for call in (
        model.pin_entry(spec()),
        model.pin_block("pin", PinFormat.ISO0, PAN, 0xF),
        model.random(8),
        model.key_details(),
    ):
        with pytest.raises(DeviceNotReady):
            await call
    await control.power_loss(on=False)
    status = await model.get_status()
    assert status.device is DeviceState.ONLINE
    assert status.encryption_state is EncryptionState.READY  # keys survive
    assert set(await model.key_details()) == {"kek", "pin"}


async def test_slow_replies(model: PinPadModel, control: PinPadControl) -> None:
    await control.slow_replies(4.0)  # 20 ms at this clock
    started = time.monotonic()
    await model.get_status()
    assert time.monotonic() - started >= 0.018
    await control.slow_replies(0)
    started = time.monotonic()
    await model.get_status()
    assert time.monotonic() - started < 0.018


async def test_status_and_initialize(model: PinPadModel, recorder: Recorder) -> None:
    status = await model.get_status()
    assert status.encryption_state is EncryptionState.READY
    assert status.keys == 2
    await model.initialize()
    assert any(isinstance(e, Initialized) for e in recorder.events)
    status = await model.get_status()
    assert status.encryption_state is EncryptionState.NOT_INITIALIZED
    assert status.keys == 0
    assert recorder.statuses[-1] == status


async def test_one_service_at_a_time(model: PinPadModel) -> None:
    with pytest.raises(DeviceNotReady):
        await model.open(Recorder())


async def test_capabilities(model: PinPadModel) -> None:
    caps = model.capabilities()
    assert caps.features() == {
        "pin",
        "data_entry",
        "kek_components",
        "encrypted_keys",
        "tr31",
        "delete_key",
        "encrypt",
        "mac",
        "random",
        "dukpt_tdes",
        "dukpt_aes",
        "aes",
        "sm4",
    }
    assert PinFormat.IBM3624 not in caps.pin_formats
    assert {"fdk01", "fdk04", "doubleZero", "decPoint"} <= caps.keys


async def test_no_pin_in_events_reprs_or_logs(
    model: PinPadModel, recorder: Recorder, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    pin = "730915"
    await entry_with(model, pin_keys(pin))
    texts = [repr(model), repr(PinPadControl(model)), repr(model.secure_element)]
    texts += [repr(e) for e in recorder.events] + [repr(s) for s in recorder.statuses]
    texts.append(repr(await model.pin_block("pin", PinFormat.ISO0, PAN, 0xF)))
    texts += [record.getMessage() for record in caplog.records]
    assert any("pressed 7 key" in text for text in texts)
    ascii_hex = pin.encode().hex()
    forbidden = {pin, ascii_hex, ascii_hex.upper(), PIN_KEY.hex().upper(), PIN_KEY.hex()}
    forbidden |= {f"'{name}'" for name in DIGIT_KEYS}  # no digit key named in an event
    for text in texts:
        leaked = sorted(s for s in forbidden if s in text)
        assert not leaked, f"{leaked} in {text!r}"


def _replay(keys: list[str], max_len: int) -> str:
    """What a PIN entry should hold after ``keys``: an independent replay of the rules."""
    pin = ""
    for key in keys:
        if key in DIGIT_KEYS and len(pin) < max_len:
            pin += str(DIGIT_KEYS.index(key))
        elif key == "backspace":
            pin = pin[:-1]
        elif key == "clear":
            pin = ""
    return pin


@settings(max_examples=60, deadline=None)
@given(
    keys=st.lists(
        st.sampled_from([*DIGIT_KEYS, "backspace", "clear", "decPoint", "fdk01"]), max_size=20
    ),
    max_len=st.integers(4, 12),
)
def test_the_pin_kept_is_the_pin_typed(keys: list[str], max_len: int) -> None:
    expected = _replay(keys, max_len)

    async def run() -> tuple[int, str | None]:
        pad = PinPadModel(clock=SimClock(0.005))
        se = pad.secure_element
        # Two components (neither all zeros: the element refuses that) whose XOR is KEK.
        other = bytes(range(1, 17))
        first = prim.xor_bytes(KEK, other)
        se.load_component(
            "k", first, KeyAttributes(KeyUsage.KEK, TDES, ModeOfUse.BOTH), compute_kcv(TDES, first)
        )
        se.load_component(
            "k",
            other,
            KeyAttributes(KeyUsage.KEK, TDES, ModeOfUse.BOTH),
            compute_kcv(TDES, other),
        )
        se.activate("k", compute_kcv(TDES, KEK))
        se.load_key(
            "pin",
            prim.encrypt_ecb(TDES, KEK, PIN_KEY),
            "k",
            KeyAttributes(KeyUsage.PIN, TDES, ModeOfUse.ENCRYPT),
            compute_kcv(TDES, PIN_KEY),
        )
        await pad.open(Recorder())
        try:
            result = await entry_with(pad, [*keys, "enter"], spec(0, max_len))
            if result.digits < 4:
                return result.digits, None
            return result.digits, await recovered_pin(pad)
        finally:
            await pad.close()

    digits, pin = asyncio.run(run())
    assert digits == len(expected)
    if len(expected) >= 4:
        assert pin == expected
