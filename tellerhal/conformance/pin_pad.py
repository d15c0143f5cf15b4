"""The PinPad contract: what every encrypting PIN pad implementation must do.

Each case drives the pad only through `hal.PinPad` and makes the customer press keys
only through `hal.stimulus.PinPadStimulus`. The keys are made by the case (random, fresh
each run) and loaded the way a bank loads them; what the pad returns is checked with the
``protocols`` library and the case's own clear keys: a PIN block must decipher to the
PIN the customer typed, a ciphertext or a MAC must equal the one computed independently,
a DUKPT PIN block must decipher under the key the host derives from the BDK and the KSN.

The cases adapt to the pad's capability features
(`hal.devices.pin_pad_model.PinPadCapabilities.features`); a case whose behaviour
cannot exist on the pad raises `MissingCapability` naming the features it needs. Two
cases need a PIN block format the pad may not make; they then name the format
(``iso1``, ``iso3``, ``iso4``), which no pad declares as a feature.
"""

from __future__ import annotations

import asyncio
import secrets

from hal.devices.pin_pad import (
    CipherMode,
    DataEntryResult,
    EncryptionState,
    EntryCompletion,
    IllegalKeyAccess,
    Initialized,
    KeyAlgorithm,
    KeyEvent,
    KeyState,
    KeyUsage,
    ModeOfUse,
    PinBlock,
    PinFormat,
    PinPad,
)
from hal.errors import (
    Completion,
    DuplicateKey,
    HalTimeout,
    InvalidData,
    KcvMismatch,
    KeyInvalid,
    KeyNotFound,
    SequenceError,
    UnsupportedOperation,
    UseViolation,
)
from hal.events import Subscription
from hal.stimulus import PinPadStimulus
from protocols import crypto_primitives, dukpt, dukpt_aes, mac, pinblock, tr31
from protocols.crypto_primitives import CryptoError, xor_bytes
from protocols.tr31_header import Header, Version
from tellerhal.conformance.framework import (
    ContractCase,
    ContractFailure,
    MissingCapability,
    check,
    expect_raises,
)
from tellerhal.conformance.pin_pad_steps import (
    PAN,
    PIN,
    PIN_LONG,
    BlockData,
    LoadedKey,
    PinPadHarness,
    enter_pin,
    features_of,
    kcv_of,
    load_kek,
    load_key,
    load_pin_key,
    make_key,
    next_event,
    pin_keys,
)

__all__ = ["PIN_PAD_CASES", "PinPadCase", "PinPadHarness"]

PinPadCase = ContractCase[PinPad, PinPadStimulus]

_FORMAT_NUMBER = {
    PinFormat.ISO0: pinblock.PinBlockFormat.ISO_0,
    PinFormat.ISO1: pinblock.PinBlockFormat.ISO_1,
    PinFormat.ISO3: pinblock.PinBlockFormat.ISO_3,
    PinFormat.ISO4: pinblock.PinBlockFormat.ISO_4,
}

_PIN_KEYS = ("pin", "kek_components", "encrypted_keys")


def _data(key: LoadedKey | str, format: PinFormat = PinFormat.ISO0) -> BlockData:
    """The PIN block data of an entry: the PAN for every format but ISO-1."""
    name = key if isinstance(key, str) else key.name
    return BlockData(name, format, "" if format is PinFormat.ISO1 else PAN)


async def _get_block(h: PinPadHarness, pad: PinPad, data: BlockData) -> PinBlock:
    return await pad.get_pin_block(
        data.key, format=data.format, customer_data=data.pan, timeout=h.patience
    )


async def _pin_block_of(
    h: PinPadHarness, pad: PinPad, key: LoadedKey, format: PinFormat = PinFormat.ISO0
) -> str:
    """Ask for the PIN block of the last entry and decipher it with the case's own key."""
    data = _data(key, format)
    pan = data.pan or None
    block = await _get_block(h, pad, data)
    size = 16 if format is PinFormat.ISO4 else 8
    check(len(block.block) == size, f"a {format.value} PIN block of {len(block.block)} bytes")
    check(block.format == format, f"asked for {format.value}, got a {block.format.value} block")
    check(block.ksn == b"", "a PIN block under a fixed key came with a KSN")
    try:
        return pinblock.decipher_pin_block(_FORMAT_NUMBER[format], key.clear, block.block, pan)
    except CryptoError as exc:
        raise ContractFailure(
            f"the {format.value} PIN block does not decipher under the PIN key: {exc}"
        ) from None


def _check_pin(recovered: str, typed: str, what: str) -> None:
    # Never quote the PINs: only whether they match, and the lengths.
    check(
        recovered == typed,
        f"{what}: the PIN block holds a {len(recovered)}-digit PIN that is not the "
        f"{len(typed)}-digit PIN typed",
    )


# --- key loading -----------------------------------------------------------------------


async def kek_from_components(h: PinPadHarness) -> None:
    async with h.open() as pad:
        await features_of(pad, "kek_components")
        algorithm = KeyAlgorithm.TDES
        kek = make_key(algorithm)
        first = make_key(algorithm)
        second = xor_bytes(kek, first)
        # A wrong combined KCV: the components are discarded.
        for component in (first, second):
            await pad.import_key_component(
                "kek", component, algorithm=algorithm, kcv=kcv_of(algorithm, component)
            )
        wrong = bytes(b ^ 0x5A for b in kcv_of(algorithm, kek))
        await expect_raises(
            KcvMismatch, pad.activate_key("kek", kcv=wrong), "activate with a wrong combined KCV"
        )
        loaded = [k for k in await pad.keys() if k.name == "kek" and k.state is KeyState.LOADED]
        check(not loaded, "a KEK whose combined KCV was wrong is loaded")
        # Loading starts again and works with the right KCVs.
        loaded_kek = await load_kek(h, pad, "kek", algorithm)
        detail = await pad.key_detail("kek", timeout=h.patience)
        check(detail.state is KeyState.LOADED, f"the KEK is {detail.state.value}")
        check(detail.length == len(kek), f"the KEK is {detail.length} bytes long")
        check(
            await pad.generate_kcv("kek", timeout=h.patience)
            == kcv_of(algorithm, loaded_kek.clear),
            "generate_kcv differs from the KEK's check value",
        )


async def wrong_component_kcv(h: PinPadHarness) -> None:
    async with h.open() as pad:
        await features_of(pad, "kek_components")
        algorithm = KeyAlgorithm.TDES
        component = make_key(algorithm)
        wrong = bytes(b ^ 0xFF for b in kcv_of(algorithm, component))
        await expect_raises(
            KcvMismatch,
            pad.import_key_component("kek", component, algorithm=algorithm, kcv=wrong),
            "a clear component with a wrong KCV",
        )
        check(not await pad.keys(), "a component with a wrong KCV was kept")
        await expect_raises(
            KeyNotFound, pad.key_detail("kek"), "key_detail of a key refused at its first component"
        )
        # The next custodian loads a right one: one component is held.
        detail = await pad.import_key_component(
            "kek", component, algorithm=algorithm, kcv=kcv_of(algorithm, component)
        )
        check(detail.components == 1, f"after a refused and a right component: {detail}")
        check(detail.state is KeyState.CONSTRUCTING, f"one component makes a {detail.state} key")


async def pin_key_under_kek(h: PinPadHarness) -> None:
    async with h.open() as pad:
        await features_of(pad, "kek_components", "encrypted_keys")
        _, pin_key = await load_pin_key(h, pad)
        detail = await pad.key_detail(pin_key.name, timeout=h.patience)
        check(detail.usage is KeyUsage.PIN, f"the PIN key has usage {detail.usage}")
        check(detail.algorithm is KeyAlgorithm.TDES, f"the PIN key is {detail.algorithm}")
        check(detail.mode_of_use is ModeOfUse.ENCRYPT, f"mode of use {detail.mode_of_use}")
        check(detail.kcv == kcv_of(KeyAlgorithm.TDES, pin_key.clear), "the PIN key's KCV")
        names = [k.name for k in await pad.keys(timeout=h.patience)]
        check(names == sorted(names), f"keys() is not sorted by name: {names}")
        check({"kek_tdes", "pin_tdes"} <= set(names), f"keys() lists {names}")
        status = await pad.status()
        check(status.keys == len(names), f"status counts {status.keys} keys, keys() {names}")
        check(
            status.encryption_state is EncryptionState.READY,
            f"with a KEK and a PIN key loaded, encryption_state is {status.encryption_state}",
        )


async def pin_key_wrong_kcv(h: PinPadHarness) -> None:
    async with h.open() as pad:
        await features_of(pad, "kek_components", "encrypted_keys")
        kek = await load_kek(h, pad)
        value = make_key(KeyAlgorithm.TDES)
        wrong = bytes(b ^ 0x01 for b in kcv_of(KeyAlgorithm.TDES, value))
        await expect_raises(
            KcvMismatch,
            pad.import_key(
                "pin",
                crypto_primitives.encrypt_ecb(kek.algorithm, kek.clear, value),
                kek=kek.name,
                usage=KeyUsage.PIN,
                algorithm=KeyAlgorithm.TDES,
                mode_of_use=ModeOfUse.ENCRYPT,
                kcv=wrong,
            ),
            "a PIN key with a wrong KCV",
        )
        await expect_raises(KeyNotFound, pad.key_detail("pin"), "the refused PIN key")
        # A key enciphered under another KEK deciphers to a key whose KCV is not the one
        # given: refused too.
        stranger = make_key(KeyAlgorithm.TDES)
        await expect_raises(
            KcvMismatch,
            pad.import_key(
                "pin",
                crypto_primitives.encrypt_ecb(KeyAlgorithm.TDES, stranger, value),
                kek=kek.name,
                usage=KeyUsage.PIN,
                algorithm=KeyAlgorithm.TDES,
                mode_of_use=ModeOfUse.ENCRYPT,
                kcv=kcv_of(KeyAlgorithm.TDES, value),
            ),
            "a PIN key enciphered under another KEK",
        )
        await expect_raises(KeyNotFound, pad.key_detail("pin"), "the refused PIN key")
        await expect_raises(
            KeyNotFound,
            pad.import_key(
                "pin",
                crypto_primitives.encrypt_ecb(KeyAlgorithm.TDES, kek.clear, value),
                kek="no_such_kek",
                usage=KeyUsage.PIN,
                algorithm=KeyAlgorithm.TDES,
                mode_of_use=ModeOfUse.ENCRYPT,
                kcv=kcv_of(KeyAlgorithm.TDES, value),
            ),
            "a PIN key under a KEK that is not loaded",
        )


# --- key separation (docs/pinpad.md "Key separation rules") ------------------------------


async def _component(pad: PinPad, name: str, value: bytes) -> None:
    algorithm = KeyAlgorithm.TDES
    await pad.import_key_component(name, value, algorithm=algorithm, kcv=kcv_of(algorithm, value))


async def components_first_kek_only(h: PinPadHarness) -> None:
    async with h.open() as pad:
        await features_of(pad, "kek_components", "encrypted_keys")
        # Components begun before the first KEK cannot be completed after it.
        early = make_key(KeyAlgorithm.TDES)
        await _component(pad, "early", early)
        kek, pin_key = await load_pin_key(h, pad)
        own = make_key(KeyAlgorithm.TDES)
        await expect_raises(
            UseViolation,
            _component(pad, "own_kek", own),
            "a clear component with a KEK loaded (a host loading a KEK of its own)",
        )
        await expect_raises(
            UseViolation, _component(pad, "early", own), "completing components begun before"
        )
        await expect_raises(
            UseViolation,
            pad.activate_key("early", kcv=kcv_of(KeyAlgorithm.TDES, xor_bytes(early, own))),
            "activating components once a KEK is loaded",
        )
        await expect_raises(KeyNotFound, pad.key_detail("own_kek"), "the refused component")
        check(
            await pad.generate_kcv(pin_key.name) == kcv_of(KeyAlgorithm.TDES, pin_key.clear),
            "the PIN key changed",
        )
        # After initialize the first KEK comes from components again.
        await _start_again(h, pad)
        await load_kek(h, pad, kek.name)


async def weak_keys_refused(h: PinPadHarness) -> None:
    async with h.open() as pad:
        await features_of(pad, "kek_components", "encrypted_keys")
        tdes = KeyAlgorithm.TDES
        first = make_key(tdes)
        await _component(pad, "kek", first)
        await expect_raises(
            KeyInvalid, _component(pad, "kek", first), "the same component given twice"
        )
        half = make_key(tdes, 8)
        for weak, what in ((bytes(16), "all zeros"), (half + half, "equal DES halves")):
            await expect_raises(KeyInvalid, _component(pad, "kek", weak), f"a component of {what}")
        # Three components that cancel out make an all-zero KEK.
        second = make_key(tdes)
        await _component(pad, "kek", second)
        await _component(pad, "kek", xor_bytes(first, second))
        await expect_raises(
            KeyInvalid,
            pad.activate_key("kek", kcv=kcv_of(tdes, bytes(16))),
            "a combined KEK of all zeros",
        )
        await _start_again(h, pad)
        kek, pin_key = await load_pin_key(h, pad)
        value = make_key(tdes)
        wrapped = crypto_primitives.encrypt_ecb(tdes, kek.clear, value)
        await expect_raises(
            InvalidData,
            pad.import_key(
                "short_kcv",
                wrapped,
                kek=kek.name,
                usage=KeyUsage.PIN,
                algorithm=tdes,
                mode_of_use=ModeOfUse.ENCRYPT,
                kcv=kcv_of(tdes, value)[:1],
            ),
            "a 1-byte check value",
        )
        # A name in use keeps its attributes; a key stronger than its KEK is refused.
        await expect_raises(
            DuplicateKey,
            pad.import_key(
                pin_key.name,
                wrapped,
                kek=kek.name,
                usage=KeyUsage.KEK,
                algorithm=tdes,
                mode_of_use=ModeOfUse.BOTH,
                kcv=kcv_of(tdes, value),
            ),
            "a K0 key under the name of a P0 key",
        )
        longer = make_key(tdes, 24)
        await expect_raises(
            UseViolation,
            pad.import_key(
                "longer",
                crypto_primitives.encrypt_ecb(tdes, kek.clear, longer),
                kek=kek.name,
                usage=KeyUsage.PIN,
                algorithm=tdes,
                mode_of_use=ModeOfUse.ENCRYPT,
                kcv=kcv_of(tdes, longer),
            ),
            "a 24-byte TDES key under a 16-byte KEK",
        )
        names = sorted(k.name for k in await pad.keys())
        check(names == sorted([kek.name, pin_key.name]), f"refused keys left {names}")


async def one_usage_per_key_value(h: PinPadHarness) -> None:
    # The attack: the wrapped PIN key, captured, re-imported as a data key deciphers
    # PIN blocks (or as a KEK, with a data key of the same value, wraps keys the host
    # knows). A pad without data encryption offers no such oracle.
    async with h.open() as pad:
        features = await features_of(pad, *_PIN_KEYS, "encrypt")
        kek, pin_key = await load_pin_key(h, pad)
        tdes = KeyAlgorithm.TDES
        wrapped = crypto_primitives.encrypt_ecb(tdes, kek.clear, pin_key.clear)
        if "delete_key" in features:
            await pad.delete_key(pin_key.name, timeout=h.patience)  # deleting frees nothing
        for usage, mode in ((KeyUsage.DATA, ModeOfUse.BOTH), (KeyUsage.KEK, ModeOfUse.BOTH)):
            await expect_raises(
                UseViolation,
                pad.import_key(
                    "twin",
                    wrapped,
                    kek=kek.name,
                    usage=usage,
                    algorithm=tdes,
                    mode_of_use=mode,
                    kcv=kcv_of(tdes, pin_key.clear),
                ),
                f"the PIN key's value loaded again as a {usage.value} key",
            )
        await expect_raises(KeyNotFound, pad.key_detail("twin"), "the refused twin")
        # With its own attributes it loads again.
        await load_key(
            h, pad, kek, "pin_again", KeyUsage.PIN, ModeOfUse.ENCRYPT, clear=pin_key.clear
        )


# --- PIN entry and PIN blocks --------------------------------------------------------------


async def pin_entry_iso0(h: PinPadHarness) -> None:
    async with h.open() as pad:
        await features_of(pad, *_PIN_KEYS)
        _, pin_key = await load_pin_key(h, pad)
        result, events = await enter_pin(h, pad, [*pin_keys(PIN), "enter"], _data(pin_key))
        check(result.digits == len(PIN), f"{result.digits} digits counted, {len(PIN)} typed")
        check(result.completion is EntryCompletion.ENTER, f"completion {result.completion}")
        check(result.key == "enter", f"the entry ended by {result.key!r}")
        keys = [e for e in events if isinstance(e, KeyEvent)]
        digits = [e for e in keys if e.completion is EntryCompletion.CONTINUE]
        check(len(digits) == len(PIN), f"{len(digits)} digit key events for {len(PIN)} digits")
        check(
            keys[-1:] and keys[-1].completion is EntryCompletion.ENTER,
            f"the last key event is {keys[-1:]}",
        )
        check(all(e.command_id is not None for e in keys), "a key event carries no command id")
        _check_pin(await _pin_block_of(h, pad, pin_key, PinFormat.ISO0), PIN, "ISO-0")
        await expect_raises(
            SequenceError,
            pad.get_pin_block(pin_key.name, format=PinFormat.ISO0, customer_data=PAN),
            "a second PIN block of one entry (the PIN is erased once used)",
        )


async def pin_block_iso1_iso3(h: PinPadHarness) -> None:
    async with h.open() as pad:
        await features_of(pad, *_PIN_KEYS)
        formats = (await pad.capabilities()).pin_formats
        wanted = [f for f in (PinFormat.ISO1, PinFormat.ISO3) if f in formats]
        if not wanted:
            raise MissingCapability({"iso1", "iso3"}, "the pad makes neither format")
        _, pin_key = await load_pin_key(h, pad)
        for format in wanted:
            await enter_pin(h, pad, [*pin_keys(PIN_LONG), "enter"], _data(pin_key, format))
            recovered = await _pin_block_of(h, pad, pin_key, format)
            _check_pin(recovered, PIN_LONG, format.value)


async def pin_block_iso4_aes(h: PinPadHarness) -> None:
    async with h.open() as pad:
        await features_of(pad, *_PIN_KEYS, "aes")
        if PinFormat.ISO4 not in (await pad.capabilities()).pin_formats:
            raise MissingCapability({"iso4"}, "the pad does not make ISO format 4 blocks")
        _, pin_key = await load_pin_key(h, pad, KeyAlgorithm.AES)
        iso4 = _data(pin_key, PinFormat.ISO4)
        await enter_pin(h, pad, [*pin_keys(PIN), "enter"], iso4)
        _check_pin(await _pin_block_of(h, pad, pin_key, PinFormat.ISO4), PIN, "ISO-4")
        # Two blocks of one PIN differ (fresh random fill).
        await enter_pin(h, pad, [*pin_keys(PIN), "enter"], iso4)
        first = await _get_block(h, pad, iso4)
        await enter_pin(h, pad, [*pin_keys(PIN), "enter"], iso4)
        second = await _get_block(h, pad, iso4)
        check(first.block != second.block, "two ISO-4 blocks of one PIN are equal (no fresh fill)")


async def backspace_and_clear(h: PinPadHarness) -> None:
    async with h.open() as pad:
        await features_of(pad, *_PIN_KEYS)
        keys = (await pad.capabilities()).keys
        edits = [k for k in ("clear", "backspace") if k in keys]
        if not edits:
            raise MissingCapability({"key_clear", "key_backspace"}, "no key edits an entry")
        _, pin_key = await load_pin_key(h, pad)
        # 8 8 clear -> ""; 4 7 2 5 backspace -> 472; 9 -> 4729 (each edit the pad has).
        presses = ["eight", "eight", "clear"] if "clear" in edits else []
        if "backspace" in edits:
            presses += [*pin_keys("4725"), "backspace", "nine", "enter"]
        else:
            presses += [*pin_keys(PIN), "enter"]
        result, events = await enter_pin(h, pad, presses, _data(pin_key))
        check(result.digits == len(PIN), f"{result.digits} digits after {' and '.join(edits)}")
        completions = [e.completion for e in events if isinstance(e, KeyEvent)]
        for edit in edits:
            check(EntryCompletion(edit) in completions, f"no key event with completion {edit}")
        _check_pin(await _pin_block_of(h, pad, pin_key, PinFormat.ISO0), PIN, "after editing")


async def cancel_discards_the_pin(h: PinPadHarness) -> None:
    async with h.open() as pad:
        await features_of(pad, *_PIN_KEYS)
        _, pin_key = await load_pin_key(h, pad)
        result, events = await enter_pin(h, pad, [*pin_keys(PIN[:2]), "cancel"], _data(pin_key))
        check(result.completion is EntryCompletion.CANCEL, f"completion {result.completion}")
        check(result.digits == 0, f"a cancelled entry counts {result.digits} digits")
        check(result.key == "cancel", f"the entry ended by {result.key!r}")
        cancels = [
            e for e in events if isinstance(e, KeyEvent) and e.completion is EntryCompletion.CANCEL
        ]
        check(len(cancels) == 1, f"{len(cancels)} key events with completion cancel")
        check(not await h.stimulus.entry_active(), "the entry is still active after cancel")
        await expect_raises(
            SequenceError,
            pad.get_pin_block(pin_key.name, format=PinFormat.ISO0, customer_data=PAN),
            "a PIN block after the entry was cancelled",
        )


async def auto_end_at_max_len(h: PinPadHarness) -> None:
    async with h.open() as pad:
        await features_of(pad, *_PIN_KEYS)
        _, pin_key = await load_pin_key(h, pad)
        result, events = await enter_pin(
            h,
            pad,
            pin_keys(PIN_LONG),
            _data(pin_key),
            min_len=4,
            max_len=len(PIN_LONG),
            auto_end=True,
        )
        check(result.completion is EntryCompletion.AUTO, f"completion {result.completion}")
        check(result.digits == len(PIN_LONG), f"{result.digits} digits at auto end")
        check(result.key == "", f"an auto end names the key {result.key!r}")
        autos = [
            e for e in events if isinstance(e, KeyEvent) and e.completion is EntryCompletion.AUTO
        ]
        check(len(autos) == 1, f"{len(autos)} key events with completion auto")
        _check_pin(await _pin_block_of(h, pad, pin_key, PinFormat.ISO0), PIN_LONG, "auto end")


async def enter_ignored_below_min_len(h: PinPadHarness) -> None:
    async with h.open() as pad:
        await features_of(pad, *_PIN_KEYS)
        _, pin_key = await load_pin_key(h, pad)
        presses = [*pin_keys(PIN[:2]), "enter", *pin_keys(PIN[2:]), "enter"]
        result, events = await enter_pin(h, pad, presses, _data(pin_key), min_len=4, max_len=6)
        check(result.completion is EntryCompletion.ENTER, f"completion {result.completion}")
        check(result.digits == len(PIN), f"{result.digits} digits: enter at 2 digits ended it")
        enters = [
            e for e in events if isinstance(e, KeyEvent) and e.completion is EntryCompletion.ENTER
        ]
        check(len(enters) == 1, f"{len(enters)} enter key events (one was below min_len)")
        _check_pin(await _pin_block_of(h, pad, pin_key, PinFormat.ISO0), PIN, "min_len")
        # Past max_len digits are ignored.
        await enter_pin(
            h, pad, [*pin_keys(PIN_LONG), "three", "enter"], _data(pin_key), max_len=len(PIN_LONG)
        )
        _check_pin(
            await _pin_block_of(h, pad, pin_key, PinFormat.ISO0), PIN_LONG, "a digit past max_len"
        )


async def entry_timeout(h: PinPadHarness) -> None:
    async with h.open() as pad:
        await features_of(pad, *_PIN_KEYS)
        _, pin_key = await load_pin_key(h, pad)
        if (await pad.capabilities()).pin_block_data_first:
            await pad.set_pin_block_data(pin_key.name, format=PinFormat.ISO0, customer_data=PAN)
        exc = await expect_raises(
            HalTimeout, pad.pin_entry(timeout=0.3), "a PIN entry nobody types, timeout 0.3 s"
        )
        check(
            getattr(exc, "completion", None) == Completion.TIME_OUT,
            f"completion is {getattr(exc, 'completion', None)!r}",
        )
        check(not await h.stimulus.entry_active(), "the entry is still active after its timeout")
        await expect_raises(
            SequenceError,
            pad.get_pin_block(pin_key.name, format=PinFormat.ISO0, customer_data=PAN),
            "a PIN block after the entry timed out",
        )
        # The pad still works after a timeout.
        await enter_pin(h, pad, [*pin_keys(PIN), "enter"], _data(pin_key))
        _check_pin(await _pin_block_of(h, pad, pin_key, PinFormat.ISO0), PIN, "after a timeout")


async def data_entry_amount(h: PinPadHarness) -> None:
    async with h.open() as pad:
        await features_of(pad, "data_entry")
        keys = (await pad.capabilities()).keys
        if "decPoint" in keys:
            presses, amount = ["one", "two", "five", "decPoint", "five", "zero"], "125.50"
        else:
            presses, amount = ["one", "two", "five", "zero"], "1250"
        with pad.events(kinds=[KeyEvent]) as record:
            task = asyncio.create_task(pad.data_entry(max_len=8, timeout=h.patience * 4))
            try:
                await h.stimulus.press_keys([*presses, "enter"], timeout=h.patience)
                result = await asyncio.wait_for(asyncio.shield(task), h.patience * 4)
            finally:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
            events = [e for e in record.drain() if isinstance(e, KeyEvent)]
        check(isinstance(result, DataEntryResult), f"data_entry returned {result!r}")
        check(result.data == amount, f"typed {amount!r}, data_entry returned {result.data!r}")
        check(result.completion is EntryCompletion.ENTER, f"completion {result.completion}")
        named = [e.digit for e in events if e.completion is EntryCompletion.CONTINUE]
        check(named == presses, f"clear entry key events name {named}, pressed {presses}")


# --- key usage and zeroizing -----------------------------------------------------------


async def key_usage_enforced(h: PinPadHarness) -> None:
    async with h.open() as pad:
        features = await features_of(pad, *_PIN_KEYS)
        kek, pin_key = await load_pin_key(h, pad)
        if "mac" in features:
            usages = (await pad.capabilities()).usages
            usage = next(
                u
                for u in (KeyUsage.MAC_ISO9797_3, KeyUsage.MAC_ISO9797_1, KeyUsage.MAC_CMAC)
                if u in usages
            )
            other = await load_key(h, pad, kek, "mac", usage, ModeOfUse.GENERATE_VERIFY)
        else:
            other = kek  # a key-encryption key makes no PIN block either
        what = f"a PIN block under the {other.detail.usage.value} key {other.name!r}"
        with pad.events(kinds=[IllegalKeyAccess]) as sub:
            await expect_raises(
                UseViolation,
                pad.set_pin_block_data(other.name, format=PinFormat.ISO0, customer_data=PAN),
                f"set_pin_block_data: {what}",
            )
            await _illegal_access(h, sub, other.name)
            if not (await pad.capabilities()).pin_block_data_first:
                await enter_pin(h, pad, [*pin_keys(PIN), "enter"], _data(pin_key))
                await expect_raises(
                    UseViolation,
                    pad.get_pin_block(other.name, format=PinFormat.ISO0, customer_data=PAN),
                    what,
                )
                await _illegal_access(h, sub, other.name)
        refused: tuple[type[BaseException], ...] = (UseViolation,)
        if "encrypt" not in features:
            refused = (UseViolation, UnsupportedOperation)
        await expect_raises(
            refused, pad.encrypt(pin_key.name, bytes(8)), "encrypting data with the PIN key"
        )
        await expect_raises(
            refused, pad.decrypt(pin_key.name, bytes(8)), "decrypting data with the PIN key"
        )
        await expect_raises(
            (UseViolation, UnsupportedOperation) if "mac" not in features else UseViolation,
            pad.generate_mac(pin_key.name, bytes(8)),
            "a MAC under the PIN key",
        )
        value = make_key(KeyAlgorithm.TDES)
        await expect_raises(
            UseViolation,
            pad.import_key(
                "under_pin",
                crypto_primitives.encrypt_ecb(KeyAlgorithm.TDES, pin_key.clear, value),
                kek=pin_key.name,
                usage=KeyUsage.PIN,
                algorithm=KeyAlgorithm.TDES,
                mode_of_use=ModeOfUse.ENCRYPT,
                kcv=kcv_of(KeyAlgorithm.TDES, value),
            ),
            "a key loaded under the PIN key (not a KEK)",
        )
        await expect_raises(
            KeyNotFound,
            pad.get_pin_block("no_such_key", format=PinFormat.ISO0, customer_data=PAN),
            "a PIN block under a key that is not loaded",
        )


async def _illegal_access(h: PinPadHarness, sub: Subscription, name: str) -> None:
    event = await next_event(sub, IllegalKeyAccess, h.patience, "a key use refused")
    assert isinstance(event, IllegalKeyAccess)
    check(event.key_name == name, f"IllegalKeyAccess names {event.key_name!r}, not {name!r}")
    check(event.error_code == "useViolation", f"IllegalKeyAccess says {event.error_code!r}")


async def initialize_erases_every_key(h: PinPadHarness) -> None:
    async with h.open() as pad:
        await features_of(pad, *_PIN_KEYS)
        kek, pin_key = await load_pin_key(h, pad)
        with pad.events(kinds=[Initialized]) as sub:
            await pad.initialize(timeout=h.patience)
            event = await next_event(sub, Initialized, h.patience, "initialize")
        check(event.command_id is None, "Initialized is unsolicited and carries no command id")
        check(not await pad.keys(timeout=h.patience), "keys are listed after initialize")
        for key in (kek, pin_key):
            await expect_raises(KeyNotFound, pad.key_detail(key.name), f"{key.name} after init")
            await expect_raises(KeyNotFound, pad.generate_kcv(key.name), f"KCV of {key.name}")
        await expect_raises(
            KeyNotFound,
            pad.set_pin_block_data(pin_key.name, format=PinFormat.ISO0, customer_data=PAN),
            "set_pin_block_data under an erased key",
        )
        if not (await pad.capabilities()).pin_block_data_first:
            await enter_pin(h, pad, [*pin_keys(PIN), "enter"], _data(pin_key))
            await expect_raises(
                KeyNotFound,
                pad.get_pin_block(pin_key.name, format=PinFormat.ISO0, customer_data=PAN),
                "a PIN block under an erased key",
            )
        await expect_raises(
            KeyNotFound,
            pad.import_key(
                "again",
                crypto_primitives.encrypt_ecb(KeyAlgorithm.TDES, kek.clear, pin_key.clear),
                kek=kek.name,
                usage=KeyUsage.PIN,
                algorithm=KeyAlgorithm.TDES,
                mode_of_use=ModeOfUse.ENCRYPT,
                kcv=kcv_of(KeyAlgorithm.TDES, pin_key.clear),
            ),
            "a key loaded under the erased KEK",
        )
        status = await pad.status()
        check(status.keys == 0, f"status counts {status.keys} keys after initialize")


async def delete_one_key(h: PinPadHarness) -> None:
    async with h.open() as pad:
        await features_of(pad, "kek_components", "encrypted_keys", "delete_key")
        kek, pin_key = await load_pin_key(h, pad)
        await pad.delete_key(pin_key.name, timeout=h.patience)
        await expect_raises(KeyNotFound, pad.key_detail(pin_key.name), "a deleted key")
        await expect_raises(KeyNotFound, pad.delete_key(pin_key.name), "deleting it again")
        names = [k.name for k in await pad.keys()]
        check(names == [kek.name], f"after deleting the PIN key the pad holds {names}")
        check(
            await pad.generate_kcv(kek.name) == kcv_of(kek.algorithm, kek.clear),
            "deleting one key changed another",
        )


# --- crypto ------------------------------------------------------------------------------


async def _start_again(h: PinPadHarness, pad: PinPad) -> None:
    """Initialize so the next KEK may come as clear components (they build the first
    KEK only); a pad that keeps keys fails here rather than at the next component."""
    await pad.initialize(timeout=h.patience)
    left = [k.name for k in await pad.keys(timeout=h.patience)]
    check(not left, f"after initialize the pad still holds {left}")


def _algorithms(features: frozenset[str]) -> list[KeyAlgorithm]:
    return [KeyAlgorithm.TDES] + [
        a for a in (KeyAlgorithm.AES, KeyAlgorithm.SM4) if a.value in features
    ]


async def encrypt_decrypt(h: PinPadHarness) -> None:
    async with h.open() as pad:
        features = await features_of(pad, "kek_components", "encrypted_keys", "encrypt")
        modes = (await pad.capabilities()).cipher_modes
        for number, algorithm in enumerate(_algorithms(features)):
            if number:  # clear components build the first KEK only: start again
                await _start_again(h, pad)
            kek = await load_kek(h, pad, f"kek_{algorithm.value}", algorithm)
            key = await load_key(
                h, pad, kek, f"data_{algorithm.value}", KeyUsage.DATA, ModeOfUse.BOTH
            )
            size = crypto_primitives.block_size(algorithm)
            data = secrets.token_bytes(size * 3)
            what = f"{algorithm.value}"
            if CipherMode.ECB in modes:
                enciphered = await pad.encrypt(key.name, data, mode=CipherMode.ECB)
                expected = crypto_primitives.encrypt_ecb(algorithm, key.clear, data)
                check(enciphered == expected, f"{what} ECB differs from the known answer")
                back = await pad.decrypt(key.name, enciphered, mode=CipherMode.ECB)
                check(back == data, f"{what} ECB does not decrypt back")
            if CipherMode.CBC in modes:
                iv = secrets.token_bytes(size)
                enciphered = await pad.encrypt(key.name, data, mode=CipherMode.CBC, iv=iv)
                expected = crypto_primitives.encrypt_cbc(algorithm, key.clear, data, iv)
                check(enciphered == expected, f"{what} CBC differs from the known answer")
                back = await pad.decrypt(key.name, enciphered, mode=CipherMode.CBC, iv=iv)
                check(back == data, f"{what} CBC does not decrypt back")
            await expect_raises(
                InvalidData, pad.encrypt(key.name, data[:-1]), f"{what}: data not whole blocks"
            )


async def mac_generate_verify(h: PinPadHarness) -> None:
    async with h.open() as pad:
        features = await features_of(pad, "kek_components", "encrypted_keys", "mac")
        usages = (await pad.capabilities()).usages
        algorithms = _algorithms(features)
        plan: list[tuple[KeyUsage, KeyAlgorithm, mac.MacAlgorithm, int]] = []
        if KeyUsage.MAC_ISO9797_1 in usages:
            plan += [(KeyUsage.MAC_ISO9797_1, KeyAlgorithm.TDES, mac.MacAlgorithm.ISO9797_1, 1)]
            plan += [(KeyUsage.MAC_ISO9797_1, KeyAlgorithm.TDES, mac.MacAlgorithm.ISO9797_1, 2)]
            if KeyAlgorithm.SM4 in algorithms:
                plan += [(KeyUsage.MAC_ISO9797_1, KeyAlgorithm.SM4, mac.MacAlgorithm.ISO9797_1, 2)]
        if KeyUsage.MAC_ISO9797_3 in usages:
            plan += [(KeyUsage.MAC_ISO9797_3, KeyAlgorithm.TDES, mac.MacAlgorithm.ISO9797_3, 1)]
        if KeyUsage.MAC_CMAC in usages:
            for algorithm in algorithms:
                if algorithm is not KeyAlgorithm.SM4:
                    plan += [(KeyUsage.MAC_CMAC, algorithm, mac.MacAlgorithm.CMAC, 1)]
        kek: LoadedKey | None = None
        data = b"tellerhal conformance: MAC over 37 b"
        # One KEK per algorithm (a KEK protects no stronger key), each from clear
        # components after an initialize (components build the first KEK only).
        plan.sort(key=lambda step: step[1].value)
        for n, (usage, algorithm, mac_algorithm, padding) in enumerate(plan):
            if kek is None or kek.algorithm is not algorithm:
                if kek is not None:
                    await _start_again(h, pad)
                kek = await load_kek(h, pad, f"kek_{algorithm.value}", algorithm)
            key = await load_key(
                h, pad, kek, f"mac{n}", usage, ModeOfUse.GENERATE_VERIFY, algorithm
            )
            made = await pad.generate_mac(key.name, data, padding=padding, timeout=h.patience)
            method = None if mac_algorithm is mac.MacAlgorithm.CMAC else padding
            expected = mac.generate_mac(algorithm, key.clear, data, mac_algorithm, padding=method)
            what = f"{usage.value} {algorithm.value} padding {padding}"
            check(
                mac.MAC_MIN_LENGTH <= len(made) <= len(expected) and expected.startswith(made),
                f"{what}: the MAC differs from the one computed from the key",
            )
            check(await pad.verify_mac(key.name, data, made, padding=padding), f"{what}: verify")
            tampered = bytes([made[0] ^ 0x01]) + made[1:]
            check(
                not await pad.verify_mac(key.name, data, tampered, padding=padding),
                f"{what}: a tampered MAC verifies",
            )
            check(
                not await pad.verify_mac(key.name, data + b"!", made, padding=padding),
                f"{what}: the MAC verifies other data",
            )


async def dukpt_tdes_pin_block(h: PinPadHarness) -> None:
    async with h.open() as pad:
        await features_of(pad, *_PIN_KEYS, "dukpt_tdes")
        kek = await load_kek(h, pad)
        bdk = make_key(KeyAlgorithm.TDES)
        # A random key set ID and device ID; the 21 counter bits start at 0.
        key_set = int.from_bytes(secrets.token_bytes(10), "big") & ~((1 << 21) - 1)
        initial = dukpt.TdesKsn(key_set)
        ipek = dukpt.derive_ipek(bdk, initial)
        await load_key(
            h,
            pad,
            kek,
            "ipek",
            KeyUsage.INITIAL_DUKPT,
            ModeOfUse.DERIVE,
            clear=ipek,
            ksn=initial.to_bytes(),
        )
        counters: list[int] = []
        for _ in range(2):
            await enter_pin(h, pad, [*pin_keys(PIN), "enter"], _data("ipek"))
            block = await _get_block(h, pad, _data("ipek"))
            check(
                len(block.ksn) == 10,
                f"a TDES DUKPT PIN block came with a {len(block.ksn)}-byte KSN",
            )
            ksn = dukpt.TdesKsn.parse(block.ksn)
            check(ksn.key_set == initial.key_set, "the KSN's key set ID and device ID changed")
            key = dukpt.host_derive_key(bdk, ksn, dukpt.TdesKeyUsage.PIN)
            try:
                recovered = pinblock.decipher_pin_block(0, key, block.block, PAN)
            except CryptoError as exc:
                raise ContractFailure(
                    f"the DUKPT PIN block does not decipher under the host's key: {exc}"
                ) from None
            _check_pin(recovered, PIN, f"TDES DUKPT, counter {ksn.counter}")
            counters.append(ksn.counter)
        check(0 < counters[0] < counters[1], f"the KSN counter went {counters}")
        detail = await pad.key_detail("ipek")
        if detail.ksn:
            check(
                dukpt.TdesKsn.parse(detail.ksn).counter > counters[1],
                "key_detail's KSN is not past the last transaction's",
            )


async def dukpt_aes_pin_block(h: PinPadHarness) -> None:
    async with h.open() as pad:
        await features_of(pad, *_PIN_KEYS, "dukpt_aes", "aes")
        if PinFormat.ISO4 not in (await pad.capabilities()).pin_formats:
            raise MissingCapability({"iso4"}, "AES DUKPT PIN blocks are ISO format 4")
        kek = await load_kek(h, pad, "kek_aes", KeyAlgorithm.AES)
        bdk = make_key(KeyAlgorithm.AES)
        initial = dukpt_aes.AesKsn.from_initial_key_id(secrets.token_bytes(8))
        initial_key = dukpt_aes.derive_initial_key(bdk, initial)
        await load_key(
            h,
            pad,
            kek,
            "aes_ik",
            KeyUsage.INITIAL_DUKPT,
            ModeOfUse.DERIVE,
            clear=initial_key,
            ksn=initial.to_bytes(),
        )
        counters: list[int] = []
        for _ in range(2):
            iso4 = _data("aes_ik", PinFormat.ISO4)
            await enter_pin(h, pad, [*pin_keys(PIN_LONG), "enter"], iso4)
            block = await _get_block(h, pad, iso4)
            check(
                len(block.ksn) == 12,
                f"an AES DUKPT PIN block came with a {len(block.ksn)}-byte KSN",
            )
            ksn = dukpt_aes.AesKsn.parse(block.ksn)
            check(ksn.initial_key_id == initial.initial_key_id, "the KSN's initial key ID changed")
            key = dukpt_aes.host_derive_working_key(
                bdk, ksn, dukpt_aes.AesKeyUsage.PIN_ENCRYPTION, dukpt_aes.AesKeyType.AES128
            )
            try:
                recovered = pinblock.decipher_pin_block(4, key, block.block, PAN)
            except CryptoError as exc:
                raise ContractFailure(
                    f"the AES DUKPT PIN block does not decipher under the host's key: {exc}"
                ) from None
            _check_pin(recovered, PIN_LONG, f"AES DUKPT, counter {ksn.counter}")
            counters.append(ksn.counter)
        check(0 < counters[0] < counters[1], f"the KSN counter went {counters}")


async def tr31_key_block(h: PinPadHarness) -> None:
    async with h.open() as pad:
        await features_of(pad, *_PIN_KEYS, "tr31")
        kek = await load_kek(h, pad)
        kbpk = await load_key(h, pad, kek, "kbpk", KeyUsage.KBPK, ModeOfUse.BOTH)
        value = make_key(KeyAlgorithm.TDES)
        header = Header(Version.B, "P0", "T", "E", key_version="07")
        block = tr31.wrap(kbpk.clear, header, value)
        # A block whose MAC does not verify is refused and loads nothing.
        last = block[-1]
        tampered = block[:-1] + ("0" if last != "0" else "1")
        await expect_raises(
            InvalidData, pad.import_key_block("pin31", tampered, kbpk="kbpk"), "a tampered block"
        )
        await expect_raises(KeyNotFound, pad.key_detail("pin31"), "the tampered block's key")
        detail = await pad.import_key_block("pin31", block, kbpk="kbpk", timeout=h.patience)
        check(detail.usage is KeyUsage.PIN, f"the TR-31 P0 key loaded as {detail.usage}")
        check(detail.algorithm is KeyAlgorithm.TDES, f"the TR-31 key is {detail.algorithm}")
        check(detail.mode_of_use is ModeOfUse.ENCRYPT, f"mode of use {detail.mode_of_use}")
        check(detail.version == "07", f"the key version is {detail.version!r}")
        check(detail.kcv == kcv_of(KeyAlgorithm.TDES, value), "the TR-31 key's KCV")
        key = LoadedKey("pin31", KeyAlgorithm.TDES, value, detail)
        await enter_pin(h, pad, [*pin_keys(PIN), "enter"], _data(key))
        _check_pin(await _pin_block_of(h, pad, key, PinFormat.ISO0), PIN, "TR-31 PIN key")
        await expect_raises(
            UseViolation,
            pad.import_key_block("pin32", block, kbpk=kek.name),
            "a key block under a KEK that is not a key block protection key",
        )


async def random_numbers(h: PinPadHarness) -> None:
    async with h.open() as pad:
        await features_of(pad, "random")
        for length in (1, 8, 16, 256):
            value = await pad.generate_random(length, timeout=h.patience)
            check(len(value) == length, f"asked for {length} random bytes, got {len(value)}")
        first = await pad.generate_random(16)
        second = await pad.generate_random(16)
        check(first != second, "two 16-byte random numbers are equal")
        await expect_raises(InvalidData, pad.generate_random(0), "0 random bytes")


PIN_PAD_CASES: tuple[PinPadCase, ...] = (
    ContractCase(
        "pin_pad.kek_components",
        "a KEK from two clear components with KCVs; a wrong combined KCV loads nothing",
        kek_from_components,
    ),
    ContractCase(
        "pin_pad.wrong_component_kcv",
        "a clear component with a wrong KCV is refused and nothing is kept",
        wrong_component_kcv,
    ),
    ContractCase(
        "pin_pad.pin_key_under_kek",
        "a TDES PIN key enciphered under the KEK loads with its KCV",
        pin_key_under_kek,
    ),
    ContractCase(
        "pin_pad.pin_key_wrong_kcv",
        "a key with a wrong KCV, or under another KEK, is refused and nothing is loaded",
        pin_key_wrong_kcv,
    ),
    ContractCase(
        "pin_pad.components_first_kek_only",
        "clear components build the first KEK only: refused once a KEK is loaded",
        components_first_kek_only,
    ),
    ContractCase(
        "pin_pad.weak_keys",
        "repeated, all-zero and single-DES components, a zero KEK, a short KCV, a name "
        "reused with other attributes and a key stronger than its KEK are refused",
        weak_keys_refused,
    ),
    ContractCase(
        "pin_pad.key_separation",
        "a key value keeps its first usage: a wrapped PIN key loads as no data key or KEK",
        one_usage_per_key_value,
    ),
    ContractCase(
        "pin_pad.pin_entry_iso0",
        "a PIN entry counts digits, key events carry no digit, the ISO-0 block holds the PIN",
        pin_entry_iso0,
    ),
    ContractCase(
        "pin_pad.pin_block_iso1_iso3",
        "ISO-1 and ISO-3 PIN blocks decipher to the PIN typed",
        pin_block_iso1_iso3,
    ),
    ContractCase(
        "pin_pad.pin_block_iso4",
        "an ISO-4 PIN block under an AES key deciphers to the PIN typed",
        pin_block_iso4_aes,
    ),
    ContractCase(
        "pin_pad.backspace_and_clear",
        "backspace and clear edit the PIN being typed",
        backspace_and_clear,
    ),
    ContractCase(
        "pin_pad.cancel",
        "cancel ends the entry with completion cancel and leaves no PIN to encipher",
        cancel_discards_the_pin,
    ),
    ContractCase(
        "pin_pad.auto_end",
        "an auto_end entry ends by itself at max_len",
        auto_end_at_max_len,
    ),
    ContractCase(
        "pin_pad.min_max_len",
        "enter is ignored below min_len; digits past max_len are ignored",
        enter_ignored_below_min_len,
    ),
    ContractCase(
        "pin_pad.timeout",
        "an entry nobody finishes times out with timeOut, leaves no PIN, and the pad works on",
        entry_timeout,
    ),
    ContractCase(
        "pin_pad.data_entry",
        "a clear data entry returns the amount typed, key events name the keys",
        data_entry_amount,
    ),
    ContractCase(
        "pin_pad.key_usage",
        "a MAC key makes no PIN block, a PIN key encrypts nothing: useViolation",
        key_usage_enforced,
    ),
    ContractCase(
        "pin_pad.encrypt_decrypt",
        "encrypt and decrypt (TDES, AES, SM4; ECB, CBC) round trip and match known answers",
        encrypt_decrypt,
    ),
    ContractCase(
        "pin_pad.mac",
        "M1, M3 and M6 MACs equal the ones computed from the key and verify",
        mac_generate_verify,
    ),
    ContractCase(
        "pin_pad.dukpt_tdes",
        "TDES DUKPT PIN blocks decipher under the host's key for their KSN, which advances",
        dukpt_tdes_pin_block,
    ),
    ContractCase(
        "pin_pad.dukpt_aes",
        "AES DUKPT PIN blocks decipher under the host's key for their KSN, which advances",
        dukpt_aes_pin_block,
    ),
    ContractCase(
        "pin_pad.tr31",
        "a TR-31 key block loads its key (header, KCV); a tampered block is refused",
        tr31_key_block,
    ),
    ContractCase(
        "pin_pad.delete_key",
        "delete_key erases one key and no other",
        delete_one_key,
    ),
    ContractCase(
        "pin_pad.random",
        "generate_random gives the length asked for, and two calls differ",
        random_numbers,
    ),
    ContractCase(
        "pin_pad.initialize",
        "initialize erases every key (keyNotFound after) and emits Initialized",
        initialize_erases_every_key,
    ),
)
