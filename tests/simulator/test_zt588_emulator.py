"""The ZT588 emulator seen by a bare host: raw frames in, decoded replies and key bytes out.

No driver here: each test writes frames built with the codec (or, for what the codec
refuses to build, by hand with the CHK computed by an independent loop) and reads the
pad's bytes back through the codec's stream decoder.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import pytest

from hal.errors import HalTimeout
from hal.transports.memory import MemoryTransport, memory_pair
from protocols import pinblock, zt588
from protocols.crypto_primitives import Algorithm, encrypt_ecb
from simulator.wire.link import MemoryLink
from simulator.wire.zt588 import Zt588Emulator
from simulator.wire.zt588_firmware import MODEL

TDES = Algorithm.TDES
KEK = bytes.fromhex("0123456789ABCDEFFEDCBA9876543210")
TPK = bytes.fromhex("89ABCDEF0123456776543210FEDCBA98")
ACCOUNT = "173900101001"  # the 12 digits of PAN 4761739001010010 a format 0 block uses


@dataclass
class Host:
    end: MemoryTransport
    emulator: Zt588Emulator
    decoder: zt588.Zt588Decoder

    async def send_raw(self, data: bytes) -> None:
        await self.end.write(data)

    async def items(self, timeout: float = 0.5) -> list[zt588.Item]:
        """What the pad sent until it went quiet for ``timeout`` seconds."""
        got: list[zt588.Item] = []
        while True:
            try:
                got += self.decoder.feed(await self.end.read(timeout=timeout))
            except HalTimeout:
                return got

    async def ask(self, command: zt588.Command) -> zt588.Reply:
        await self.end.write(zt588.build_command(command))
        return zt588.decode_reply(await self.frame(), command)

    async def frame(self) -> zt588.Frame:
        """The next frame (within a second); nothing else may come before it."""
        got: list[zt588.Item] = []
        while not got:
            got = self.decoder.feed(await self.end.read(timeout=1.0))
        assert len(got) == 1, got
        assert isinstance(got[0], zt588.Frame), got
        return got[0]

    async def press(self, *keys: str) -> bytes:
        for key in keys:
            await self.emulator.press(key)
        raw = b""
        for item in await self.items(0.02):
            assert isinstance(item, zt588.KeyPress), item
            raw += item.to_bytes()
        return raw


@asynccontextmanager
async def host() -> AsyncIterator[Host]:
    end, device = memory_pair()
    await device.open()
    await end.open()
    try:
        async with Zt588Emulator(MemoryLink(device)) as emulator:
            yield Host(end, emulator, zt588.Zt588Decoder())
    finally:
        await end.close()
        await device.close()


def hand_frame(text: bytes) -> bytes:
    """A frame built without the codec: its CHK by a loop of our own."""
    covered = b"%03d" % len(text) + text + b"\x03"
    check = 0
    for byte in covered:
        check ^= byte
    return b"\x02" + covered + b"%02X" % check


def des_check(key: bytes) -> bytes:
    return encrypt_ecb(TDES, key, bytes(8))


async def load(h: Host) -> None:
    loaded = await h.ask(zt588.LoadPlainKey(0x00, zt588.KeyType.TMK, KEK))
    assert isinstance(loaded, zt588.KeyLoaded)
    assert loaded.kcv == des_check(KEK)[:4]
    reply = await h.ask(
        zt588.LoadEncryptedKey(0x40, 0x00, zt588.KeyType.TPK, encrypt_ecb(TDES, KEK, TPK))
    )
    assert isinstance(reply, zt588.KeyLoaded)
    assert reply.kcv == des_check(TPK)[:4]


async def test_identity_and_settings() -> None:
    async with host() as h:
        info = await h.ask(zt588.QueryUserInfo())
        assert isinstance(info, zt588.UserInfo)
        assert info.model.strip() == MODEL
        assert info.scancodes == zt588.DEFAULT_SCANCODES
        assert info.settings.pin_mask == zt588.MASK_CHAR
        assert not info.settings.input_enabled
        await h.ask(zt588.Control.pin_mask(0x40))
        await h.ask(zt588.Control.number(zt588.ControlCode.MAX_PIN_LENGTH, 6))
        info = await h.ask(zt588.QueryUserInfo())
        assert isinstance(info, zt588.UserInfo)
        assert (info.settings.pin_mask, info.settings.max_pin_length) == (0x40, 6)
        refused = await h.ask(zt588.Control.pin_mask(0x0D))  # enter's byte: ambiguous
        assert isinstance(refused, zt588.ErrorReply)
        assert refused.error is zt588.Zt588Error.BAD_PARAMETER


async def test_keys_under_a_missing_or_wrong_slot_are_refused() -> None:
    async with host() as h:
        enciphered = encrypt_ecb(TDES, KEK, TPK)
        missing = await h.ask(zt588.LoadEncryptedKey(0x40, 0x00, zt588.KeyType.TPK, enciphered))
        assert isinstance(missing, zt588.ErrorReply)
        assert missing.error is zt588.Zt588Error.KEY_NOT_FOUND
        await load(h)
        under_tpk = await h.ask(zt588.LoadEncryptedKey(0x48, 0x40, zt588.KeyType.TPK, enciphered))
        assert isinstance(under_tpk, zt588.ErrorReply)
        assert under_tpk.error is zt588.Zt588Error.KEY_NOT_FOUND_OR_INCOMPATIBLE
        assert not isinstance(await h.ask(zt588.EraseKey(0x40)), zt588.ErrorReply)
        assert 0x40 not in h.emulator.firmware.slots()
        await h.ask(zt588.Control.misc(zt588.Misc.WIPE))
        assert not h.emulator.firmware.slots()


@pytest.mark.parametrize(
    ("code", "number", "account"),
    [
        (zt588.PinFormat.ISO9564_0, 0, ACCOUNT),
        (zt588.PinFormat.ISO9564_3, 3, ACCOUNT),
        (zt588.PinFormat.ISO9564_1, 1, ""),
    ],
)
async def test_a_pin_entry_sends_masks_and_makes_a_block_that_deciphers(
    code: zt588.PinFormat, number: int, account: str
) -> None:
    async with host() as h:
        await load(h)
        assert isinstance(await h.ask(zt588.StartPinEntry(0x40, code, 0, 6, account)), zt588.Ack)
        assert h.emulator.firmware.entry_active
        sent = await h.press("four", "seven", "clear", "four", "seven", "two", "nine", "enter")
        assert sent == b"**\x08****\r"
        # Past the length given in '6', digits are ignored and send nothing.
        assert await h.press("one", "two", "three") == b"**"
        await h.ask(zt588.Control.misc(zt588.Misc.DISABLE_INPUT))
        assert await h.press("five") == b""
        reply = await h.ask(zt588.GetPinBlock())
        assert isinstance(reply, zt588.PinBlockReply)
        assert reply.length == 6
        pan = "4761739001010010" if account else None
        assert pinblock.decipher_pin_block(number, TPK, reply.block, pan) == "472912"
        again = await h.ask(zt588.GetPinBlock())  # the PIN is spent
        assert isinstance(again, zt588.ErrorReply)
        assert again.error is zt588.Zt588Error.BAD_DATA


async def test_cancel_and_reset_drop_the_pin() -> None:
    async with host() as h:
        await load(h)
        await h.ask(zt588.StartPinEntry(0x40, zt588.PinFormat.ISO9564_0, 0, 12, ACCOUNT))
        assert await h.press("four", "seven", "two", "nine", "cancel") == b"****\x1b"
        assert h.emulator.firmware.pin_length == 0
        await h.press("four", "seven", "two", "nine")
        await h.ask(zt588.Control.misc(zt588.Misc.RESET))
        assert h.emulator.firmware.pin_length == 0
        assert not h.emulator.firmware.entry_active
        assert isinstance(await h.ask(zt588.GetPinBlock()), zt588.ErrorReply)


async def test_clear_input_sends_the_keys_themselves() -> None:
    async with host() as h:
        assert await h.press("one") == b""  # input disabled: the key does nothing
        await h.ask(zt588.Control.misc(zt588.Misc.ENABLE_INPUT))
        sent = await h.press("one", "doubleZero", "decPoint", "fdk01", "fdk08", "enter")
        assert sent == b"1#.AH\r"


async def test_a_clear_pin_request_is_refused_and_counted() -> None:
    async with host() as h:
        await load(h)
        with pytest.raises(zt588.ClearPinRefused):
            zt588.build_frame(b"640@012" + ACCOUNT.encode())
        await h.send_raw(hand_frame(b"640@012" + ACCOUNT.encode()))
        reply = zt588.decode_reply(await h.frame())
        assert isinstance(reply, zt588.ErrorReply)
        assert reply.error is zt588.Zt588Error.BAD_PARAMETER
        assert h.emulator.firmware.clear_pin_refused == 1
        assert not h.emulator.firmware.entry_active


async def test_bad_frames_get_no_reply_and_unknown_commands_an_error() -> None:
    async with host() as h:
        good = hand_frame(b"3")
        await h.send_raw(good[:-2] + b"00")  # a wrong CHK
        await h.send_raw(b"\xffnoise")
        assert await h.items(0.1) == []
        assert h.emulator.bad_frames == 1
        assert h.emulator.noise >= 5
        await h.send_raw(hand_frame(b"Z"))
        reply = zt588.decode_reply(await h.frame())
        assert isinstance(reply, zt588.ErrorReply)
        assert reply.error is zt588.Zt588Error.BAD_DATA


async def test_faults_corrupt_drop_and_garbage() -> None:
    async with host() as h:
        h.emulator.corrupt_replies(1)
        await h.send_raw(zt588.build_command(zt588.QueryUserInfo()))
        items = await h.items(0.1)
        assert [type(i) for i in items] == [zt588.BadFrame]
        assert isinstance(items[0], zt588.BadFrame)
        assert items[0].reason is zt588.BadFrameReason.CHECKSUM
        h.emulator.drop_replies(1)
        await h.send_raw(zt588.build_command(zt588.QueryUserInfo()))
        assert await h.items(0.1) == []
        h.emulator.garbage_before_reply(b"\xfe")
        await h.send_raw(zt588.build_command(zt588.QueryUserInfo()))
        kinds = [type(i) for i in await h.items(0.1)]
        assert kinds == [zt588.BadFrame, zt588.Frame]


async def test_press_keys_waits_for_an_entry() -> None:
    async with host() as h:
        keyboard = h.emulator.keyboard
        assert not await keyboard.entry_active()
        with pytest.raises(HalTimeout):
            await keyboard.press_keys(["one"], timeout=0.05)
        with pytest.raises(ValueError, match="no key"):
            await keyboard.press_keys(["backspace"])
        await h.ask(zt588.Control.misc(zt588.Misc.ENABLE_INPUT))
        await keyboard.press_keys(["five", "enter"], timeout=1)
        assert [i.to_bytes() for i in await h.items(0.05)] == [b"5", b"\r"]
