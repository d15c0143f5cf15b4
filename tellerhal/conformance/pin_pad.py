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

This module holds the PIN entry and PIN block cases and `PIN_PAD_CASES`, every case in
the order the suite runs them. The key cases (loading, separation, usage, erasing) are
in `tellerhal.conformance.pin_pad_keys`, the cryptography cases (encrypt, MAC, DUKPT,
TR-31, random) in `tellerhal.conformance.pin_pad_crypto`, the steps they share in
`tellerhal.conformance.pin_pad_steps`.
"""

from __future__ import annotations

import asyncio

from hal.devices.pin_pad import (
    DataEntryResult,
    EntryCompletion,
    KeyAlgorithm,
    KeyEvent,
    PinFormat,
    PinPad,
)
from hal.errors import (
    Completion,
    HalTimeout,
    SequenceError,
)
from hal.stimulus import PinPadStimulus
from tellerhal.conformance.framework import (
    ContractCase,
    MissingCapability,
    check,
    expect_raises,
)
from tellerhal.conformance.pin_pad_crypto import (
    dukpt_aes_pin_block,
    dukpt_tdes_pin_block,
    encrypt_decrypt,
    mac_generate_verify,
    random_numbers,
    tr31_key_block,
)
from tellerhal.conformance.pin_pad_keys import (
    components_first_kek_only,
    delete_one_key,
    initialize_erases_every_key,
    kek_from_components,
    key_usage_enforced,
    one_usage_per_key_value,
    pin_key_under_kek,
    pin_key_wrong_kcv,
    weak_keys_refused,
    wrong_component_kcv,
)
from tellerhal.conformance.pin_pad_steps import (
    PAN,
    PIN,
    PIN_KEY_FEATURES,
    PIN_LONG,
    PinPadHarness,
    block_data,
    check_pin,
    enter_pin,
    features_of,
    get_block,
    load_pin_key,
    pin_block_of,
    pin_keys,
)

__all__ = ["PIN_PAD_CASES", "PinPadCase", "PinPadHarness"]

PinPadCase = ContractCase[PinPad, PinPadStimulus]


# --- PIN entry and PIN blocks --------------------------------------------------------------


async def pin_entry_iso0(h: PinPadHarness) -> None:
    async with h.open() as pad:
        await features_of(pad, *PIN_KEY_FEATURES)
        _, pin_key = await load_pin_key(h, pad)
        result, events = await enter_pin(h, pad, [*pin_keys(PIN), "enter"], block_data(pin_key))
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
        check_pin(await pin_block_of(h, pad, pin_key, PinFormat.ISO0), PIN, "ISO-0")
        await expect_raises(
            SequenceError,
            pad.get_pin_block(pin_key.name, format=PinFormat.ISO0, customer_data=PAN),
            "a second PIN block of one entry (the PIN is erased once used)",
        )


async def pin_block_iso1_iso3(h: PinPadHarness) -> None:
    async with h.open() as pad:
        await features_of(pad, *PIN_KEY_FEATURES)
        formats = (await pad.capabilities()).pin_formats
        wanted = [f for f in (PinFormat.ISO1, PinFormat.ISO3) if f in formats]
        if not wanted:
            raise MissingCapability({"iso1", "iso3"}, "the pad makes neither format")
        _, pin_key = await load_pin_key(h, pad)
        for format in wanted:
            await enter_pin(h, pad, [*pin_keys(PIN_LONG), "enter"], block_data(pin_key, format))
            recovered = await pin_block_of(h, pad, pin_key, format)
            check_pin(recovered, PIN_LONG, format.value)


async def pin_block_iso4_aes(h: PinPadHarness) -> None:
    async with h.open() as pad:
        await features_of(pad, *PIN_KEY_FEATURES, "aes")
        if PinFormat.ISO4 not in (await pad.capabilities()).pin_formats:
            raise MissingCapability({"iso4"}, "the pad does not make ISO format 4 blocks")
        _, pin_key = await load_pin_key(h, pad, KeyAlgorithm.AES)
        iso4 = block_data(pin_key, PinFormat.ISO4)
        await enter_pin(h, pad, [*pin_keys(PIN), "enter"], iso4)
        check_pin(await pin_block_of(h, pad, pin_key, PinFormat.ISO4), PIN, "ISO-4")
        # Two blocks of one PIN differ (fresh random fill).
        await enter_pin(h, pad, [*pin_keys(PIN), "enter"], iso4)
        first = await get_block(h, pad, iso4)
        await enter_pin(h, pad, [*pin_keys(PIN), "enter"], iso4)
        second = await get_block(h, pad, iso4)
        check(first.block != second.block, "two ISO-4 blocks of one PIN are equal (no fresh fill)")


async def backspace_and_clear(h: PinPadHarness) -> None:
    async with h.open() as pad:
        await features_of(pad, *PIN_KEY_FEATURES)
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
        result, events = await enter_pin(h, pad, presses, block_data(pin_key))
        check(result.digits == len(PIN), f"{result.digits} digits after {' and '.join(edits)}")
        completions = [e.completion for e in events if isinstance(e, KeyEvent)]
        for edit in edits:
            check(EntryCompletion(edit) in completions, f"no key event with completion {edit}")
        check_pin(await pin_block_of(h, pad, pin_key, PinFormat.ISO0), PIN, "after editing")


async def cancel_discards_the_pin(h: PinPadHarness) -> None:
    async with h.open() as pad:
        await features_of(pad, *PIN_KEY_FEATURES)
        _, pin_key = await load_pin_key(h, pad)
        result, events = await enter_pin(
            h, pad, [*pin_keys(PIN[:2]), "cancel"], block_data(pin_key)
        )
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
        await features_of(pad, *PIN_KEY_FEATURES)
        _, pin_key = await load_pin_key(h, pad)
        result, events = await enter_pin(
            h,
            pad,
            pin_keys(PIN_LONG),
            block_data(pin_key),
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
        check_pin(await pin_block_of(h, pad, pin_key, PinFormat.ISO0), PIN_LONG, "auto end")


async def enter_ignored_below_min_len(h: PinPadHarness) -> None:
    async with h.open() as pad:
        await features_of(pad, *PIN_KEY_FEATURES)
        _, pin_key = await load_pin_key(h, pad)
        presses = [*pin_keys(PIN[:2]), "enter", *pin_keys(PIN[2:]), "enter"]
        result, events = await enter_pin(h, pad, presses, block_data(pin_key), min_len=4, max_len=6)
        check(result.completion is EntryCompletion.ENTER, f"completion {result.completion}")
        check(result.digits == len(PIN), f"{result.digits} digits: enter at 2 digits ended it")
        enters = [
            e for e in events if isinstance(e, KeyEvent) and e.completion is EntryCompletion.ENTER
        ]
        check(len(enters) == 1, f"{len(enters)} enter key events (one was below min_len)")
        check_pin(await pin_block_of(h, pad, pin_key, PinFormat.ISO0), PIN, "min_len")
        # Past max_len digits are ignored.
        await enter_pin(
            h,
            pad,
            [*pin_keys(PIN_LONG), "three", "enter"],
            block_data(pin_key),
            max_len=len(PIN_LONG),
        )
        check_pin(
            await pin_block_of(h, pad, pin_key, PinFormat.ISO0), PIN_LONG, "a digit past max_len"
        )


async def entry_timeout(h: PinPadHarness) -> None:
    async with h.open() as pad:
        await features_of(pad, *PIN_KEY_FEATURES)
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
        await enter_pin(h, pad, [*pin_keys(PIN), "enter"], block_data(pin_key))
        check_pin(await pin_block_of(h, pad, pin_key, PinFormat.ISO0), PIN, "after a timeout")


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
