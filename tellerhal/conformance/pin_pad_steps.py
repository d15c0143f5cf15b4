"""The steps the PinPad contract cases share: test keys made by the case itself, loading
them the way a bank would (a first KEK from two clear components under dual control,
later keys enciphered under it with their check value), and a customer typing a PIN.

Internal to the conformance suite: `tellerhal.conformance.pin_pad` lists the cases
(and holds the PIN entry ones), `pin_pad_keys` and `pin_pad_crypto` hold the others.

Every key a case uses is made fresh by the case (random bytes), so the case can check
what comes out of the pad with the ``protocols`` library alone: a PIN block is
deciphered with the clear PIN key the case made, a MAC recomputed, a ciphertext
recomputed. Nothing is taken on the pad's word.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

from hal.devices.pin_pad import (
    DIGIT_KEYS,
    EnterData,
    EntryCompletion,
    KeyAlgorithm,
    KeyDetail,
    KeyEvent,
    KeyUsage,
    ModeOfUse,
    PinBlock,
    PinEntryResult,
    PinFormat,
    PinPad,
)
from hal.events import Event, Subscription
from hal.stimulus import PinPadStimulus
from protocols import pinblock
from protocols.crypto_primitives import CryptoError, encrypt_ecb, xor_bytes
from protocols.kcv import compute_kcv
from tellerhal.conformance.framework import (
    ContractFailure,
    Harness,
    MissingCapability,
    check,
)

__all__ = [
    "KEY_LENGTHS",
    "PAN",
    "PIN",
    "PIN_KEY_FEATURES",
    "PIN_LONG",
    "BlockData",
    "LoadedKey",
    "PinPadHarness",
    "block_data",
    "check_entry_events",
    "check_pin",
    "enter_pin",
    "features_of",
    "get_block",
    "kcv_of",
    "load_kek",
    "load_key",
    "load_pin_key",
    "make_key",
    "need",
    "next_event",
    "pin_block_of",
    "pin_keys",
    "start_again",
]

PinPadHarness = Harness[PinPad, PinPadStimulus]

#: The PINs the customer types: distinctive, so a leak is unmistakable (not 1234).
PIN = "4729"
PIN_LONG = "59173"
#: The PAN the PIN blocks are bound to (formats 0, 3 and 4): a test card's.
PAN = "4761739001010010"

#: The key length each algorithm's test keys have.
KEY_LENGTHS = {KeyAlgorithm.TDES: 16, KeyAlgorithm.AES: 16, KeyAlgorithm.SM4: 16}


def need(features: frozenset[str], *needed: str, why: str = "") -> None:
    """Raise `MissingCapability` unless the pad has every feature ``needed``."""
    missing = frozenset(needed) - features
    if missing:
        raise MissingCapability(missing, why)


async def features_of(pad: PinPad, *needed: str, why: str = "") -> frozenset[str]:
    """The pad's capability features, after checking it has ``needed``; then, if the pad
    holds keys (a bench pad keeps them from an earlier run), it is initialized so the
    case starts from no keys."""
    features = (await pad.capabilities()).features()
    need(features, *needed, why=why)
    if await pad.keys():
        await pad.initialize()
    return features


async def next_event(sub: Subscription, kind: type[Event], patience: float, what: str) -> Event:
    try:
        return await sub.wait_for(kind, timeout=patience)
    except TimeoutError:
        raise ContractFailure(f"{what}: no {kind.__name__} event within {patience} s") from None


def _odd_parity(key: bytes) -> bytes:
    """``key`` with every byte's low bit set so the byte has odd parity (DES keys)."""
    out = bytearray()
    for byte in key:
        high = byte & 0xFE
        out.append(high | (bin(high).count("1") % 2 == 0))
    return bytes(out)


def make_key(algorithm: KeyAlgorithm, length: int | None = None) -> bytes:
    """A fresh random key (odd parity for TDES, as real pads may insist)."""
    key = secrets.token_bytes(KEY_LENGTHS[algorithm] if length is None else length)
    return _odd_parity(key) if algorithm is KeyAlgorithm.TDES else key


@dataclass(frozen=True, repr=False)
class LoadedKey:
    """A key the case loaded, with the clear value the case made (never shown).

    Attributes:
        name: its name on the pad.
        algorithm: its algorithm.
        clear: its clear value, for the case's own computations.
        detail: what the pad said when it was loaded.
    """

    name: str
    algorithm: KeyAlgorithm
    clear: bytes
    detail: KeyDetail

    def __repr__(self) -> str:
        return f"LoadedKey({self.name!r}, {self.algorithm.value})"


def kcv_of(algorithm: KeyAlgorithm, key: bytes) -> bytes:
    """The legacy check value the case expects of ``key``."""
    return compute_kcv(algorithm, key)


async def load_kek(
    h: PinPadHarness,
    pad: PinPad,
    name: str = "kek",
    algorithm: KeyAlgorithm = KeyAlgorithm.TDES,
    usage: KeyUsage = KeyUsage.KEK,
) -> LoadedKey:
    """Load a key-encryption key as two clear components, each with its KCV, then
    activate it with the combined key's KCV; check what the pad says of it."""
    kek = make_key(algorithm)
    first = make_key(algorithm)
    second = xor_bytes(kek, first)
    for number, component in enumerate((first, second), 1):
        detail = await pad.import_key_component(
            name,
            component,
            algorithm=algorithm,
            kcv=kcv_of(algorithm, component),
            usage=usage,
            timeout=h.patience,
        )
        check(detail.components == number, f"after component {number} the pad counts {detail}")
    detail = await pad.activate_key(name, kcv=kcv_of(algorithm, kek), timeout=h.patience)
    check(detail.kcv == kcv_of(algorithm, kek), f"the activated {name!r} has KCV {detail.kcv!r}")
    check(detail.usage == usage, f"the activated {name!r} has usage {detail.usage}")
    return LoadedKey(name, algorithm, kek, detail)


async def load_key(
    h: PinPadHarness,
    pad: PinPad,
    kek: LoadedKey,
    name: str,
    usage: KeyUsage,
    mode_of_use: ModeOfUse,
    algorithm: KeyAlgorithm | None = None,
    *,
    clear: bytes | None = None,
    ksn: bytes = b"",
) -> LoadedKey:
    """Load a key enciphered (ECB) under ``kek`` with its KCV (``clear`` made fresh when
    not given); check the pad reports what was loaded."""
    algorithm = kek.algorithm if algorithm is None else algorithm
    value = make_key(algorithm) if clear is None else clear
    detail = await pad.import_key(
        name,
        encrypt_ecb(kek.algorithm, kek.clear, value),
        kek=kek.name,
        usage=usage,
        algorithm=algorithm,
        mode_of_use=mode_of_use,
        kcv=kcv_of(algorithm, value),
        ksn=ksn,
        timeout=h.patience,
    )
    check(
        (detail.name, detail.usage, detail.algorithm) == (name, usage, algorithm),
        f"the pad loaded {detail} when asked for {name!r} {usage} {algorithm}",
    )
    check(detail.kcv == kcv_of(algorithm, value), f"{name!r} loaded with KCV {detail.kcv!r}")
    return LoadedKey(name, algorithm, value, detail)


async def load_pin_key(
    h: PinPadHarness, pad: PinPad, algorithm: KeyAlgorithm = KeyAlgorithm.TDES
) -> tuple[LoadedKey, LoadedKey]:
    """A KEK from components and a PIN key (``P0``) under it: (kek, pin key)."""
    kek = await load_kek(h, pad, f"kek_{algorithm.value}", algorithm)
    pin_key = await load_key(h, pad, kek, f"pin_{algorithm.value}", KeyUsage.PIN, ModeOfUse.ENCRYPT)
    return kek, pin_key


def pin_keys(pin: str) -> list[str]:
    """The key names that type ``pin``."""
    return [DIGIT_KEYS[int(d)] for d in pin]


@dataclass(frozen=True)
class BlockData:
    """What the PIN block of an entry will be asked for: key, format, PAN."""

    key: str
    format: PinFormat
    pan: str = ""


async def enter_pin(
    h: PinPadHarness,
    pad: PinPad,
    keys: Sequence[str],
    block: BlockData,
    *,
    min_len: int = 4,
    max_len: int = 12,
    auto_end: bool = False,
) -> tuple[PinEntryResult, list[Event]]:
    """Start a PIN entry, let the customer press ``keys``, and return how it ended with
    every event it caused. A pad that formats the PIN block as the entry starts
    (``pin_block_data_first``) is given ``block`` first. Checks what every PIN entry
    must do: `EnterData` first, and no key event naming a digit."""
    if (await pad.capabilities()).pin_block_data_first:
        await pad.set_pin_block_data(
            block.key, format=block.format, customer_data=block.pan, timeout=h.patience
        )
    with pad.events() as record:
        task = asyncio.create_task(
            pad.pin_entry(
                min_len=min_len, max_len=max_len, auto_end=auto_end, timeout=h.patience * 4
            )
        )
        try:
            await h.stimulus.press_keys(keys, timeout=h.patience)
            result = await asyncio.wait_for(asyncio.shield(task), h.patience * 4)
        finally:
            # Never leave the entry running, nor its exception unretrieved.
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        events = record.drain()
    check_entry_events(events)
    return result, events


def check_entry_events(events: Sequence[Event]) -> None:
    """`EnterData` came before any key event, and no key event names a digit key."""
    kinds = [type(e) for e in events if isinstance(e, EnterData | KeyEvent)]
    check(kinds and kinds[0] is EnterData, f"a PIN entry's events began {kinds[:3]}")
    adding = (EntryCompletion.CONTINUE, EntryCompletion.AUTO)
    named = [
        e
        for e in events
        if isinstance(e, KeyEvent)
        and (e.digit in DIGIT_KEYS or (e.completion in adding and e.digit is not None))
    ]
    check(not named, f"{len(named)} key events of a PIN entry named the key pressed")


# --- PIN blocks of an entry ---------------------------------------------------------

_FORMAT_NUMBER = {
    PinFormat.ISO0: pinblock.PinBlockFormat.ISO_0,
    PinFormat.ISO1: pinblock.PinBlockFormat.ISO_1,
    PinFormat.ISO3: pinblock.PinBlockFormat.ISO_3,
    PinFormat.ISO4: pinblock.PinBlockFormat.ISO_4,
}

PIN_KEY_FEATURES = ("pin", "kek_components", "encrypted_keys")


def block_data(key: LoadedKey | str, format: PinFormat = PinFormat.ISO0) -> BlockData:
    """The PIN block data of an entry: the PAN for every format but ISO-1."""
    name = key if isinstance(key, str) else key.name
    return BlockData(name, format, "" if format is PinFormat.ISO1 else PAN)


async def get_block(h: PinPadHarness, pad: PinPad, data: BlockData) -> PinBlock:
    return await pad.get_pin_block(
        data.key, format=data.format, customer_data=data.pan, timeout=h.patience
    )


async def pin_block_of(
    h: PinPadHarness, pad: PinPad, key: LoadedKey, format: PinFormat = PinFormat.ISO0
) -> str:
    """Ask for the PIN block of the last entry and decipher it with the case's own key."""
    data = block_data(key, format)
    pan = data.pan or None
    block = await get_block(h, pad, data)
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


def check_pin(recovered: str, typed: str, what: str) -> None:
    # Never quote the PINs: only whether they match, and the lengths.
    check(
        recovered == typed,
        f"{what}: the PIN block holds a {len(recovered)}-digit PIN that is not the "
        f"{len(typed)}-digit PIN typed",
    )


async def start_again(h: PinPadHarness, pad: PinPad) -> None:
    """Initialize so the next KEK may come as clear components (they build the first
    KEK only); a pad that keeps keys fails here rather than at the next component."""
    await pad.initialize(timeout=h.patience)
    left = [k.name for k in await pad.keys(timeout=h.patience)]
    check(not left, f"after initialize the pad still holds {left}")
