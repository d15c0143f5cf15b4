"""The zt588 driver against the ZT588 emulator on a real pty, through ``hal.open``.

Every PIN block is deciphered with the test's own clear key (`protocols.pinblock`);
what went over the pty is read back from the emulator (``received``: every byte the
host wrote) and decoded with the codec, so a test can say what was never sent.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

import hal
from drivers.pin_pad.zt588 import KEYBOARD, ZT588_DRIVER, Zt588Driver, Zt588Options
from drivers.pin_pad.zt588_keys import _kcv_matches
from hal.address import DeviceAddress
from hal.device import DeviceState
from hal.devices.pin_pad import (
    DIGIT_KEYS,
    EntryCompletion,
    KeyAlgorithm,
    KeyEvent,
    KeyUsage,
    ModeOfUse,
    PinFormat,
    PinPad,
)
from hal.devices.pin_pad_model import KeyAttributes
from hal.errors import (
    ChecksumError,
    ConfigurationError,
    ConnectionLost,
    FormatNotSupported,
    HalTimeout,
    InvalidData,
    KcvMismatch,
    KeyInvalid,
    KeyNotFound,
    ModeNotSupported,
    SequenceError,
    UnsupportedOperation,
)
from hal.registry import make_transport
from protocols import pinblock, zt588
from protocols.crypto_primitives import encrypt_ecb, xor_bytes
from protocols.kcv import compute_kcv
from simulator.wire.zt588 import Zt588Emulator
from simulator.wire.zt588_firmware import MODEL, Zt588Firmware
from tellerhal.conformance.pin_pad_steps import make_key
from tests.zt588_rig import PtyRig, zt588_registered

TDES = KeyAlgorithm.TDES
PIN = "4729"
PAN = "4761739001010010"
NUMBERS = {PinFormat.ISO0: 0, PinFormat.ISO1: 1, PinFormat.ISO3: 3}


@dataclass
class Keys:
    kek: bytes
    pin: bytes


@dataclass
class Bench:
    rig: PtyRig
    emulator: Zt588Emulator
    pad: PinPad


@pytest.fixture(autouse=True)
def _registered() -> object:
    with zt588_registered():
        yield


@asynccontextmanager
async def bench(tmp_path: Path, extra: str = "") -> AsyncIterator[Bench]:
    rig = PtyRig(tmp_path)
    async with rig.wire() as emulator, rig.pad(extra) as pad:
        yield Bench(rig, emulator, pad)


def pin_keys(pin: str) -> list[str]:
    return [DIGIT_KEYS[int(d)] for d in pin]


def sent_commands(emulator: Zt588Emulator) -> list[zt588.Command | zt588.ClearPinRequest]:
    """Every command the host put on the pty, decoded independently of the firmware."""
    items = zt588.Zt588Decoder().feed(bytes(emulator.received))
    return [zt588.decode_command(i) for i in items if isinstance(i, zt588.Frame)]


async def load_keys(pad: PinPad) -> Keys:
    kek, first = make_key(TDES), make_key(TDES)
    for component in (first, xor_bytes(kek, first)):
        await pad.import_key_component(
            "kek", component, algorithm=TDES, kcv=compute_kcv(TDES, component)
        )
    await pad.activate_key("kek", kcv=compute_kcv(TDES, kek))
    pin = make_key(TDES)
    await pad.import_key(
        "pin",
        encrypt_ecb(TDES, kek, pin),
        kek="kek",
        usage=KeyUsage.PIN,
        algorithm=TDES,
        mode_of_use=ModeOfUse.ENCRYPT,
        kcv=compute_kcv(TDES, pin),
    )
    return Keys(kek, pin)


async def entry(
    b: Bench, presses: list[str], format: PinFormat = PinFormat.ISO0, **spec: object
) -> object:
    pan = "" if format is PinFormat.ISO1 else PAN
    await b.pad.set_pin_block_data("pin", format=format, customer_data=pan)
    task = asyncio.create_task(b.pad.pin_entry(timeout=5, **spec))  # type: ignore[arg-type]
    try:
        await b.emulator.keyboard.press_keys(presses, timeout=2)
        return await asyncio.wait_for(asyncio.shield(task), 5)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def block_pin(b: Bench, keys: Keys, format: PinFormat = PinFormat.ISO0) -> str:
    pan = "" if format is PinFormat.ISO1 else PAN
    block = await b.pad.get_pin_block("pin", format=format, customer_data=pan)
    assert len(block.block) == 8
    assert block.format is format
    return pinblock.decipher_pin_block(NUMBERS[format], keys.pin, block.block, pan or None)


# --- identity, capabilities, keys, PIN blocks -----------------------------------------------


async def test_open_identifies_the_pad_and_declares_what_it_has(tmp_path: Path) -> None:
    async with bench(tmp_path) as b:
        caps = await b.pad.capabilities()
        assert caps.firmware.startswith(MODEL)
        assert caps.features() == ZT588_DRIVER.capabilities["pin_pad"]
        assert caps.keys == KEYBOARD
        assert "backspace" not in caps.keys
        assert caps.pin_formats == {PinFormat.ISO0, PinFormat.ISO1, PinFormat.ISO3}
        assert caps.pin_block_data_first
        assert not caps.delete_key
        first = sent_commands(b.emulator)[:3]
        assert isinstance(first[0], zt588.QueryUserInfo)
        assert zt588.Control.pin_mask(zt588.MASK_CHAR) in first
        await asyncio.sleep(0)


async def test_keys_by_components_and_under_the_kek_make_iso_0_1_3_blocks(tmp_path: Path) -> None:
    async with bench(tmp_path) as b:
        keys = await load_keys(b.pad)
        details = {d.name: d for d in await b.pad.keys()}
        assert details["kek"].kcv == compute_kcv(TDES, keys.kek)
        assert details["pin"].kcv == compute_kcv(TDES, keys.pin)
        assert (details["kek"].usage, details["pin"].usage) == (KeyUsage.KEK, KeyUsage.PIN)
        for format in (PinFormat.ISO0, PinFormat.ISO1, PinFormat.ISO3):
            result = await entry(b, [*pin_keys(PIN), "enter"], format)
            assert (result.digits, result.completion) == (4, EntryCompletion.ENTER)  # type: ignore[attr-defined]
            assert await block_pin(b, keys, format) == PIN
        commands = sent_commands(b.emulator)
        # The components never went to the pad: only the combined KEK, once, with '1'.
        plain = [c for c in commands if isinstance(c, zt588.LoadPlainKey)]
        assert [p.key for p in plain] == [keys.kek]
        starts = [c for c in commands if isinstance(c, zt588.StartPinEntry)]
        assert [s.format.value for s in starts] == [" ", "!", "#"]
        assert starts[0].pan == PAN[:-1][-12:]
        assert starts[1].pan == ""
        # '@' was never sent, nor refused.
        assert not any(isinstance(c, zt588.ClearPinRequest) for c in commands)
        assert b"6" + b"%02X" % starts[0].slot + b"@" not in bytes(b.emulator.received)
        assert b.emulator.firmware.clear_pin_refused == 0


async def test_pin_entry_events_carry_no_digit_and_the_pad_sends_only_masks(
    tmp_path: Path,
) -> None:
    async with bench(tmp_path) as b:
        keys = await load_keys(b.pad)
        with b.pad.events(kinds=[KeyEvent]) as record:
            await entry(b, [*pin_keys(PIN), "enter"])
            events = [e for e in record.drain() if isinstance(e, KeyEvent)]
        assert [e.digit for e in events] == [None] * 4 + ["enter"]
        assert await block_pin(b, keys) == PIN


async def test_wrong_kcvs_are_refused_and_no_slot_keeps_a_wrong_key(tmp_path: Path) -> None:
    async with bench(tmp_path) as b:
        kek, first = make_key(TDES), make_key(TDES)
        second = xor_bytes(kek, first)
        with pytest.raises(KcvMismatch):
            await b.pad.import_key_component(
                "kek", first, algorithm=TDES, kcv=compute_kcv(TDES, second)
            )
        for component in (first, second):
            await b.pad.import_key_component(
                "kek", component, algorithm=TDES, kcv=compute_kcv(TDES, component)
            )
        with pytest.raises(KcvMismatch):
            await b.pad.activate_key("kek", kcv=compute_kcv(TDES, first))
        assert not any(isinstance(c, zt588.LoadPlainKey) for c in sent_commands(b.emulator))
        assert not b.emulator.firmware.slots()
        keys = await load_keys(b.pad)
        other = make_key(TDES)
        with pytest.raises(KcvMismatch):
            await b.pad.import_key(
                "pin2",
                encrypt_ecb(TDES, keys.kek, other),
                kek="kek",
                usage=KeyUsage.PIN,
                algorithm=TDES,
                mode_of_use=ModeOfUse.ENCRYPT,
                kcv=compute_kcv(TDES, keys.pin),
            )
        with pytest.raises(KeyNotFound):
            await b.pad.key_detail("pin2")
        loads = [c for c in sent_commands(b.emulator) if isinstance(c, zt588.LoadEncryptedKey)]
        refused_slot = loads[-2].slot  # the refused key, then the noise over it
        assert loads[-1].slot == refused_slot
        assert loads[-1].key != loads[-2].key
        firmware = b.emulator.firmware
        assert not compute_kcv(TDES, other).startswith(firmware.check_value(refused_slot)[:3])
        # The good keys still work.
        await entry(b, [*pin_keys(PIN), "enter"])
        assert await block_pin(b, keys) == PIN


class _LyingFirmware(Zt588Firmware):
    """Stores each enciphered key it is given with one bit changed (and says so)."""

    def execute(self, command: zt588.Command | zt588.ClearPinRequest) -> zt588.Reply:
        if isinstance(command, zt588.LoadEncryptedKey) and command.key_type is zt588.KeyType.TPK:
            flipped = bytes([command.key[0] ^ 0x80]) + command.key[1:]
            command = zt588.LoadEncryptedKey(command.slot, command.under, command.key_type, flipped)
        return super().execute(command)


async def test_a_pad_that_loads_another_key_than_sent_is_caught_by_its_kcv(tmp_path: Path) -> None:
    rig = PtyRig(tmp_path, _LyingFirmware())
    async with rig.wire() as emulator, rig.pad() as pad:
        with pytest.raises(KcvMismatch):
            await load_keys(pad)
        assert [d.name for d in await pad.keys()] == ["kek"]
        loads = [c for c in sent_commands(emulator) if isinstance(c, zt588.LoadEncryptedKey)]
        assert len(loads) == 2
        assert loads[0].slot == loads[1].slot


async def test_unsupported_things_are_refused_before_the_pad(tmp_path: Path) -> None:
    async with bench(tmp_path) as b:
        await load_keys(b.pad)
        before = len(b.emulator.received)
        with pytest.raises(UnsupportedOperation):
            await b.pad.delete_key("pin")
        with pytest.raises(UnsupportedOperation):
            await b.pad.generate_random(8)
        with pytest.raises(ModeNotSupported):
            await b.pad.generate_kcv("pin", method=zt588_cmac())
        with pytest.raises(FormatNotSupported):
            await b.pad.set_pin_block_data("pin", format=PinFormat.ISO4, customer_data=PAN)
        with pytest.raises(FormatNotSupported):
            await b.pad.set_pin_block_data(
                "pin", format=PinFormat.ISO0, customer_data=PAN, padding=0xA
            )
        with pytest.raises(SequenceError):
            await b.pad.pin_entry(timeout=1)
        assert len(b.emulator.received) == before


def zt588_cmac() -> object:
    from hal.devices.pin_pad import KcvMethod

    return KcvMethod.CMAC


# --- the keyboard -------------------------------------------------------------------------


async def test_clear_restarts_the_pin_and_cancel_discards_it(tmp_path: Path) -> None:
    async with bench(tmp_path) as b:
        keys = await load_keys(b.pad)
        result = await entry(b, ["eight", "eight", "clear", *pin_keys(PIN), "enter"])
        assert result.digits == 4  # type: ignore[attr-defined]
        assert await block_pin(b, keys) == PIN
        result = await entry(b, [*pin_keys(PIN), "cancel"])
        assert (result.digits, result.completion) == (0, EntryCompletion.CANCEL)  # type: ignore[attr-defined]
        assert b.emulator.firmware.pin_length == 0
        assert not await b.emulator.keyboard.entry_active()
        with pytest.raises(SequenceError):
            await b.pad.get_pin_block("pin", format=PinFormat.ISO0, customer_data=PAN)
        assert not any(isinstance(c, zt588.GetPinBlock) for c in sent_commands(b.emulator)[-3:])


async def test_a_timeout_ends_the_entry_on_the_pad_and_drops_the_pin(tmp_path: Path) -> None:
    async with bench(tmp_path) as b:
        keys = await load_keys(b.pad)
        await b.pad.set_pin_block_data("pin", format=PinFormat.ISO0, customer_data=PAN)
        task = asyncio.create_task(b.pad.pin_entry(timeout=0.4))
        await b.emulator.keyboard.press_keys(pin_keys(PIN), timeout=2)
        with pytest.raises(HalTimeout):
            await task
        assert b.emulator.firmware.pin_length == 0
        assert not b.emulator.firmware.entry_active
        with pytest.raises(SequenceError):
            await b.pad.get_pin_block("pin", format=PinFormat.ISO0, customer_data=PAN)
        await entry(b, [*pin_keys(PIN), "enter"])
        assert await block_pin(b, keys) == PIN


async def test_max_len_auto_end_and_enter_below_min_len(tmp_path: Path) -> None:
    async with bench(tmp_path) as b:
        keys = await load_keys(b.pad)
        result = await entry(b, ["four", "seven", "enter", "two", "nine", "enter"], min_len=4)
        assert (result.digits, result.completion) == (4, EntryCompletion.ENTER)  # type: ignore[attr-defined]
        assert await block_pin(b, keys) == PIN
        result = await entry(b, [*pin_keys(PIN), "one"], max_len=4, auto_end=True)
        assert (result.digits, result.completion) == (4, EntryCompletion.AUTO)  # type: ignore[attr-defined]
        assert await block_pin(b, keys) == PIN


async def test_data_entry_gets_the_keys_in_clear(tmp_path: Path) -> None:
    async with bench(tmp_path) as b:
        task = asyncio.create_task(b.pad.data_entry(max_len=8, timeout=5))
        await b.emulator.keyboard.press_keys(
            ["one", "doubleZero", "decPoint", "five", "fdk03", "enter"], timeout=2
        )
        result = await task
        assert (result.data, result.completion) == ("100.5", EntryCompletion.ENTER)
        assert not b.emulator.firmware.entry_active


# --- the link: garbage, bad checksums, silence -----------------------------------------------


async def test_a_broken_or_lost_reply_is_asked_for_again(tmp_path: Path) -> None:
    async with bench(tmp_path, "retries=2&reply_timeout=0.3") as b:
        keys = await load_keys(b.pad)
        b.emulator.corrupt_replies(1)
        b.emulator.garbage_before_reply(b"\xff\xfe\x02123")
        b.emulator.drop_replies(1)
        await entry(b, [*pin_keys(PIN), "enter"])
        assert await block_pin(b, keys) == PIN
        # The entry's first command went three times: lost, broken (behind garbage), good.
        sub = zt588.ControlCode.MIN_PIN_LENGTH
        firsts = [c for c in sent_commands(b.emulator) if getattr(c, "sub", None) is sub]
        assert len(firsts) == 3


async def test_a_storm_of_bad_checksums_ends_in_checksum_error(tmp_path: Path) -> None:
    async with bench(tmp_path, "retries=2&reply_timeout=0.3") as b:
        await load_keys(b.pad)
        b.emulator.corrupt_replies(3)
        await b.pad.set_pin_block_data("pin", format=PinFormat.ISO0, customer_data=PAN)
        with pytest.raises(ChecksumError):
            await b.pad.pin_entry(timeout=3)  # its first command's replies, all broken
        # The pad works again once the storm is over.
        b.emulator.corrupt_replies(0)
        await b.emulator.send_garbage(b"\x02999")
        keys_after = await b.pad.keys()
        assert [k.name for k in keys_after] == ["kek", "pin"]


async def test_silence_ends_in_hal_timeout_within_the_retries(tmp_path: Path) -> None:
    async with bench(tmp_path, "retries=1&reply_timeout=0.2") as b:
        await load_keys(b.pad)
        b.emulator.drop_replies(100)
        await b.pad.set_pin_block_data("pin", format=PinFormat.ISO0, customer_data=PAN)
        loop = asyncio.get_running_loop()
        started = loop.time()
        with pytest.raises(HalTimeout):
            await b.pad.pin_entry(timeout=5)
        assert loop.time() - started < 2
        assert (await b.pad.status()).device is DeviceState.OFFLINE
        b.emulator.drop_replies(0)
        await b.pad.reset()
        assert (await b.pad.status()).device is DeviceState.ONLINE


async def test_a_broken_pin_block_reply_is_not_asked_for_twice(tmp_path: Path) -> None:
    async with bench(tmp_path, "retries=2&reply_timeout=0.3") as b:
        await load_keys(b.pad)
        await entry(b, [*pin_keys(PIN), "enter"])
        b.emulator.corrupt_replies(1)
        with pytest.raises(ChecksumError):
            await b.pad.get_pin_block("pin", format=PinFormat.ISO0, customer_data=PAN)
        gets = [c for c in sent_commands(b.emulator) if isinstance(c, zt588.GetPinBlock)]
        assert len(gets) == 1
        assert b.emulator.firmware.pin_length == 0


async def test_garbage_during_an_entry_is_skipped(tmp_path: Path) -> None:
    async with bench(tmp_path) as b:
        keys = await load_keys(b.pad)
        await b.pad.set_pin_block_data("pin", format=PinFormat.ISO0, customer_data=PAN)
        task = asyncio.create_task(b.pad.pin_entry(timeout=5))
        await b.emulator.keyboard.press_keys(pin_keys(PIN[:2]), timeout=2)
        await b.emulator.send_garbage(b"\xf0\xf1")
        await b.emulator.keyboard.press_keys([*pin_keys(PIN[2:]), "enter"], timeout=2)
        assert (await task).digits == 4
        assert await block_pin(b, keys) == PIN


# --- the key map ------------------------------------------------------------------------------


async def test_names_survive_a_restart_with_the_keymap(tmp_path: Path) -> None:
    rig = PtyRig(tmp_path)
    async with rig.wire() as emulator:
        async with rig.pad() as pad:
            keys = await load_keys(pad)
            before = await pad.keys()
        saved = json.loads(rig.keymap.read_text())
        assert set(saved["keys"]) == {"kek", "pin"}
        assert keys.pin.hex() not in rig.keymap.read_text().lower()
        assert keys.kek.hex() not in rig.keymap.read_text().lower()
        async with rig.pad() as pad:
            assert await pad.keys() == before
            b = Bench(rig, emulator, pad)
            await entry(b, [*pin_keys(PIN), "enter"])
            assert await block_pin(b, keys) == PIN
            await pad.initialize()
            assert not await pad.keys()
        assert json.loads(rig.keymap.read_text())["keys"] == {}
        assert not emulator.firmware.slots()


async def test_a_malformed_keymap_is_a_configuration_error(tmp_path: Path) -> None:
    rig = PtyRig(tmp_path)
    rig.keymap.write_text('{"version": 1, "keys": {"pin": {"slot": 999}}}')
    async with rig.wire():
        device = hal.open(rig.address())
        with pytest.raises(ConfigurationError):
            await device.open()


def test_options_are_checked() -> None:
    with pytest.raises(ConfigurationError):
        Zt588Options(retries=11)
    with pytest.raises(ConfigurationError):
        Zt588Options(reply_timeout=0)


async def test_spy_masks_the_keys_and_the_pan(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("DEBUG")
    rig = PtyRig(tmp_path)
    async with rig.wire() as emulator, rig.pad(spy=True) as pad:
        keys = await load_keys(pad)
        await entry(Bench(rig, emulator, pad), [*pin_keys(PIN), "enter"])
        await pad.get_pin_block("pin", format=PinFormat.ISO0, customer_data=PAN)
    spied = [r.getMessage() for r in caplog.records if r.name.startswith("hal.transports.spy")]
    assert spied, "spy+ logged nothing"
    text = " ".join(spied).upper()
    for secret in (keys.kek, keys.pin):
        assert secret.hex().upper() not in text
        assert secret.hex(" ").upper() not in text
    assert PAN[:-1][-12:] not in text


async def test_an_invalid_pan_is_refused_before_the_pad(tmp_path: Path) -> None:
    async with bench(tmp_path) as b:
        await load_keys(b.pad)
        with pytest.raises(InvalidData):
            await b.pad.set_pin_block_data("pin", format=PinFormat.ISO0, customer_data="12AB")


async def test_an_unplugged_pad_is_found_again_after_replug(tmp_path: Path) -> None:
    async with bench(tmp_path) as b:
        keys = await load_keys(b.pad)
        bridge = b.rig.bridge
        assert bridge is not None
        bridge.unplug()
        await b.pad.set_pin_block_data("pin", format=PinFormat.ISO0, customer_data=PAN)
        with pytest.raises(ConnectionLost):
            await b.pad.pin_entry(timeout=2)
        assert (await b.pad.status()).device is DeviceState.NO_DEVICE
        with pytest.raises(ConnectionLost):  # still gone: the reopen fails at once
            await b.pad.pin_entry(timeout=2)
        bridge.replug()
        await entry(b, [*pin_keys(PIN), "enter"])
        assert await block_pin(b, keys) == PIN
        assert (await b.pad.status()).device is DeviceState.ONLINE


async def test_masked_presses_count_when_some_digit_keys_are_inactive(tmp_path: Path) -> None:
    async with bench(tmp_path) as b:
        keys = await load_keys(b.pad)
        active = [*DIGIT_KEYS[1:], "enter", "cancel"]  # no "zero"
        result = await entry(b, [*pin_keys(PIN), "enter"], active_keys=active)
        assert (result.digits, result.completion) == (4, EntryCompletion.ENTER)  # type: ignore[attr-defined]
        assert await block_pin(b, keys) == PIN


# --- no PIN left in the pad: a reset at close and at open ----------------------------------


def refuses_a_pin_block(firmware: Zt588Firmware) -> bool:
    """Whether '7' now gets a refusal (no PIN is held), asked of the firmware itself."""
    return isinstance(firmware.execute(zt588.GetPinBlock()), zt588.ErrorReply)


async def test_close_resets_the_pad_so_a_pin_typed_does_not_stay_in_it(tmp_path: Path) -> None:
    rig = PtyRig(tmp_path)
    async with rig.wire() as emulator:
        async with rig.pad() as pad:
            await load_keys(pad)
            await entry(Bench(rig, emulator, pad), [*pin_keys(PIN), "enter"])
            assert rig.firmware.pin_length == len(PIN)  # held for '7', not asked for
        assert sent_commands(emulator)[-1] == zt588.Control.misc(zt588.Misc.RESET)
        assert rig.firmware.pin_length == 0
        assert not rig.firmware.entry_active
        assert refuses_a_pin_block(rig.firmware)


async def test_close_after_an_entry_whose_block_was_taken_still_resets(tmp_path: Path) -> None:
    rig = PtyRig(tmp_path)
    async with rig.wire() as emulator:
        async with rig.pad() as pad:
            b = Bench(rig, emulator, pad)
            keys = await load_keys(pad)
            await entry(b, [*pin_keys(PIN), "enter"])
            assert await block_pin(b, keys) == PIN
        assert sent_commands(emulator)[-1] == zt588.Control.misc(zt588.Misc.RESET)


async def test_close_without_an_entry_sends_no_reset(tmp_path: Path) -> None:
    rig = PtyRig(tmp_path)
    async with rig.wire() as emulator:
        async with rig.pad() as pad:
            await load_keys(pad)
            opened = len(sent_commands(emulator))
        assert len(sent_commands(emulator)) == opened


async def test_open_resets_a_pin_left_in_the_pad_by_an_earlier_session(tmp_path: Path) -> None:
    firmware = Zt588Firmware()
    # An earlier host (or a crash) left a PIN in the pad: a key, an entry, digits typed.
    slot = zt588.tpk_slot(0)
    firmware.execute(zt588.LoadPlainKey(slot, zt588.KeyType.TPK, make_key(TDES)))
    firmware.execute(zt588.StartPinEntry(slot, zt588.PinFormat.ISO9564_0, 0, 12, PAN[:-1][-12:]))
    for key in pin_keys(PIN):
        firmware.press(key)
    assert firmware.pin_length == len(PIN)
    rig = PtyRig(tmp_path, firmware)
    async with rig.wire() as emulator, rig.pad():
        assert firmware.pin_length == 0
        assert zt588.Control.misc(zt588.Misc.RESET) in sent_commands(emulator)
        assert refuses_a_pin_block(firmware)


async def test_close_on_a_silent_pad_is_bounded_and_logs_without_raising(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    rig = PtyRig(tmp_path)
    async with rig.wire() as emulator:
        pad = hal.open(rig.address("retries=1&reply_timeout=0.2"))
        assert isinstance(pad, PinPad)
        await pad.open()
        try:
            await load_keys(pad)
            await entry(Bench(rig, emulator, pad), [*pin_keys(PIN), "enter"])
            emulator.drop_replies(100)
        finally:
            loop = asyncio.get_running_loop()
            started = loop.time()
            await pad.close()
            took = loop.time() - started
        # two sends of 0.2 s each, plus the margin: well under a second
        assert took < 1.2
        assert "could not be reset on close" in caplog.text
        assert PIN not in caplog.text
        # The reset reached the pad even though its reply was dropped.
        assert rig.firmware.pin_length == 0


async def test_a_cancelled_close_still_resets_the_pad_and_then_raises(tmp_path: Path) -> None:
    rig = PtyRig(tmp_path)
    async with rig.wire() as emulator:
        pad = hal.open(rig.address())
        assert isinstance(pad, PinPad)
        await pad.open()
        try:
            await load_keys(pad)
            await entry(Bench(rig, emulator, pad), [*pin_keys(PIN), "enter"])
        except BaseException:
            await pad.close()
            raise
        emulator.slow_replies(0.3)
        closing = asyncio.create_task(pad.close())
        await asyncio.sleep(0.05)
        closing.cancel()
        loop = asyncio.get_running_loop()
        started = loop.time()
        with pytest.raises(asyncio.CancelledError):
            await closing
        # the cancellation waited for the reset's reply instead of abandoning it
        assert loop.time() - started > 0.15
        assert rig.firmware.pin_length == 0
        assert sent_commands(emulator)[-1] == zt588.Control.misc(zt588.Misc.RESET)
        # the port was closed all the same: a new session opens on it
        emulator.slow_replies(0)
        async with rig.pad() as again:
            assert (await again.status()).device is DeviceState.ONLINE


# --- check values shorter than 3 bytes check nothing ---------------------------------------


def test_kcv_matches_needs_three_bytes_on_both_sides() -> None:
    check = bytes.fromhex("0123456789ABCDEF")
    assert _kcv_matches(check, check[:3])
    assert _kcv_matches(check[:3], check)
    assert not _kcv_matches(check, check[:2])
    assert not _kcv_matches(check, check[:1])
    assert not _kcv_matches(check[:2], check)
    assert not _kcv_matches(check, b"")
    assert not _kcv_matches(check, bytes.fromhex("012346"))


class _Listener:
    """What a service would hear from the driver (kept, unused)."""

    def __init__(self) -> None:
        self.heard: list[object] = []

    def event(self, event: object) -> None:
        self.heard.append(event)

    def status_changed(self, status: object) -> None:
        self.heard.append(status)


async def test_the_driver_itself_refuses_a_one_or_two_byte_kcv(tmp_path: Path) -> None:
    """The backend, without the service in front (which refuses them too): a short check
    value is refused for a component, the combined key and a key under the KEK, and
    nothing reaches the pad."""
    rig = PtyRig(tmp_path)
    attributes = KeyAttributes(KeyUsage.KEK, TDES, ModeOfUse.ENCRYPT)
    async with rig.wire() as emulator:
        driver = Zt588Driver(
            make_transport(DeviceAddress.parse(rig.address())), Zt588Options(reply_timeout=1)
        )
        await driver.open(_Listener())
        try:
            kek, first = make_key(TDES), make_key(TDES)
            second = xor_bytes(kek, first)
            for short in (1, 2):
                with pytest.raises(InvalidData, match="at least 3 bytes"):
                    await driver.load_component(
                        "kek", first, attributes, compute_kcv(TDES, first)[:short]
                    )
            for component in (first, second):
                await driver.load_component(
                    "kek", component, attributes, compute_kcv(TDES, component)
                )
            with pytest.raises(InvalidData, match="at least 3 bytes"):
                await driver.activate_key("kek", compute_kcv(TDES, kek)[:1])
            await driver.activate_key("kek", compute_kcv(TDES, kek))
            pin = make_key(TDES)
            sent = len(sent_commands(emulator))
            with pytest.raises(InvalidData, match="at least 3 bytes"):
                await driver.load_key(
                    "pin",
                    encrypt_ecb(TDES, kek, pin),
                    "kek",
                    KeyAttributes(KeyUsage.PIN, TDES, ModeOfUse.ENCRYPT),
                    compute_kcv(TDES, pin)[:2],
                    b"",
                )
            assert len(sent_commands(emulator)) == sent  # refused before the pad
            assert set(await driver.key_details()) == {"kek"}
        finally:
            await driver.close()


async def test_sound_components_combining_into_a_weak_kek_never_reach_the_pad(
    tmp_path: Path,
) -> None:
    """Two components each sound can XOR into a key with equal halves (single-DES
    strength): the driver, the only one that sees the combined value, refuses it."""
    rig = PtyRig(tmp_path)
    attributes = KeyAttributes(KeyUsage.KEK, TDES, ModeOfUse.ENCRYPT)
    half = make_key(TDES)[:8]
    weak = half + half
    async with rig.wire() as emulator:
        driver = Zt588Driver(
            make_transport(DeviceAddress.parse(rig.address())), Zt588Options(reply_timeout=1)
        )
        await driver.open(_Listener())
        try:
            first = make_key(TDES)
            second = xor_bytes(weak, first)
            for component in (first, second):
                await driver.load_component(
                    "kek", component, attributes, compute_kcv(TDES, component)
                )
            sent = len(sent_commands(emulator))
            with pytest.raises(KeyInvalid, match="single-DES strength"):
                await driver.activate_key("kek", compute_kcv(TDES, weak))
            assert len(sent_commands(emulator)) == sent  # nothing went to the pad
            assert await driver.key_details() == {}
        finally:
            await driver.close()
