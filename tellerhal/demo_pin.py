"""The demo's PIN pad steps: the test keys loaded as key custodians would, the
customer's PIN entry and its ISO-0 PIN block (the PIN and the keys are never printed:
only digit counts, sizes and check values)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING

from hal.devices.pin_pad import (
    EntryCompletion,
    KeyAlgorithm,
    KeyUsage,
    ModeOfUse,
    PinFormat,
    PinPad,
)
from protocols.crypto_primitives import encrypt_ecb, xor_bytes
from protocols.kcv import compute_kcv
from protocols.tracks import mask_pan
from tellerhal.demo_steps import StepPrinter, Steps, watch

if TYPE_CHECKING:
    from tellerhal.demo import DemoResult

__all__ = ["TEST_KEK_COMPONENTS", "TEST_PIN_KEY", "load_test_keys", "pin_entry"]

#: The demo's test key-encryption key, as the two clear components its two custodians
#: hold (double-length TDES). Test values, printed in no output: never use them for real.
TEST_KEK_COMPONENTS = (
    bytes.fromhex("1C587F1C13924FEF6D3B2A8C0E0F6B1A"),
    bytes.fromhex("E3A2B9C4D5016E7F8091A2B3C4D5E6F7"),
)
#: The demo's test PIN key (TDES), loaded enciphered under the KEK.
TEST_PIN_KEY = bytes.fromhex("2315208C9110AD40F1E0D3C2B5A49786")


async def pin_entry(
    pad: PinPad, pan: str, printer: StepPrinter, result: DemoResult, patience: float
) -> None:
    """Load the test keys, let the customer type their PIN, get its ISO-0 PIN block."""
    say = printer.line
    step = Steps(printer, result)
    await step("open sim://pin_pad", pad.open())
    events = pad.events()
    watcher = asyncio.create_task(
        watch(events, say, result, who="pin pad"), name="demo PIN pad events"
    )
    try:
        await load_test_keys(pad, step, say)
        caps = await pad.capabilities()
        if caps.pin_block_data_first:
            await step(
                "set_pin_block_data(iso0, PAN)",
                pad.set_pin_block_data("pin", format=PinFormat.ISO0, customer_data=pan),
            )
        say("app", "pin_entry(min 4, max 12): please enter your PIN and press ENTER")
        entry = await step(
            "pin_entry returned", pad.pin_entry(min_len=4, max_len=12, timeout=patience)
        )
        result.pin_digits = entry.digits
        say(
            "app",
            f"PIN entry ended by {entry.completion.value}: {entry.digits} digits, which "
            "stay in the PIN pad",
        )
        if entry.completion in (EntryCompletion.ENTER, EntryCompletion.AUTO):
            block = await step(
                f"get_pin_block(iso0, PAN {mask_pan(pan)})",
                pad.get_pin_block("pin", format=PinFormat.ISO0, customer_data=pan),
            )
            result.pin_block = block.block
            kcv = compute_kcv(KeyAlgorithm.TDES, TEST_PIN_KEY).hex().upper()
            say(
                "app",
                f"PIN block: {len(block.block)} bytes, ISO-0 enciphered under the PIN key "
                f"(KCV {kcv}), ready for the host",
            )
    finally:
        events.close()
        await watcher
        await step("close the PIN pad", pad.close())


async def load_test_keys(pad: PinPad, step: Steps, say: Callable[[str, str], None]) -> None:
    """The key custodians' job: the KEK from two clear components (each with its check
    value, the combined key's checked too), then the PIN key enciphered under it."""
    tdes = KeyAlgorithm.TDES
    kek = xor_bytes(*TEST_KEK_COMPONENTS)
    for number, component in enumerate(TEST_KEK_COMPONENTS, 1):
        kcv = compute_kcv(tdes, component)
        await step(
            f"import_key_component(kek): custodian {number}'s component, KCV {kcv.hex().upper()}",
            pad.import_key_component("kek", component, algorithm=tdes, kcv=kcv),
        )
    kek_kcv = compute_kcv(tdes, kek)
    await step(
        f"activate_key(kek): the combined KEK, KCV {kek_kcv.hex().upper()}",
        pad.activate_key("kek", kcv=kek_kcv),
    )
    pin_kcv = compute_kcv(tdes, TEST_PIN_KEY)
    await step(
        f"import_key(pin) under the KEK, KCV {pin_kcv.hex().upper()}",
        pad.import_key(
            "pin",
            encrypt_ecb(tdes, kek, TEST_PIN_KEY),
            kek="kek",
            usage=KeyUsage.PIN,
            algorithm=tdes,
            mode_of_use=ModeOfUse.ENCRYPT,
            kcv=pin_kcv,
        ),
    )
    say("app", "keys loaded: the PIN pad holds the KEK and the PIN key, no one else does")
