"""The PinPad contract cases for keys: loading them, keeping them apart, erasing them.

Loading: a first KEK from clear components with their check values, keys enciphered
under it, and what the pad must refuse on the way (a wrong KCV, a key under another or
a missing KEK). Separation (docs/pinpad.md "Key separation rules"): components build
the first KEK only, weak keys are refused, a key value keeps its first usage, a key is
used only for its usage. Erasing: delete_key erases one key, initialize every key.

Internal to the conformance suite: `tellerhal.conformance.pin_pad` lists the cases.
"""

from __future__ import annotations

from hal.devices.pin_pad import (
    EncryptionState,
    IllegalKeyAccess,
    Initialized,
    KeyAlgorithm,
    KeyState,
    KeyUsage,
    ModeOfUse,
    PinFormat,
    PinPad,
)
from hal.errors import (
    DuplicateKey,
    InvalidData,
    KcvMismatch,
    KeyInvalid,
    KeyNotFound,
    UnsupportedOperation,
    UseViolation,
)
from hal.events import Subscription
from protocols import crypto_primitives
from protocols.crypto_primitives import xor_bytes
from tellerhal.conformance.framework import (
    check,
    expect_raises,
)
from tellerhal.conformance.pin_pad_steps import (
    PAN,
    PIN,
    PIN_KEY_FEATURES,
    PinPadHarness,
    block_data,
    enter_pin,
    features_of,
    kcv_of,
    load_kek,
    load_key,
    load_pin_key,
    make_key,
    next_event,
    pin_keys,
    start_again,
)

__all__ = [
    "components_first_kek_only",
    "delete_one_key",
    "initialize_erases_every_key",
    "kek_from_components",
    "key_usage_enforced",
    "one_usage_per_key_value",
    "pin_key_under_kek",
    "pin_key_wrong_kcv",
    "weak_keys_refused",
    "wrong_component_kcv",
]


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
        await start_again(h, pad)
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
        await start_again(h, pad)
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
        features = await features_of(pad, *PIN_KEY_FEATURES, "encrypt")
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


# --- key usage and zeroizing -----------------------------------------------------------


async def key_usage_enforced(h: PinPadHarness) -> None:
    async with h.open() as pad:
        features = await features_of(pad, *PIN_KEY_FEATURES)
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
                await enter_pin(h, pad, [*pin_keys(PIN), "enter"], block_data(pin_key))
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
        await features_of(pad, *PIN_KEY_FEATURES)
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
            await enter_pin(h, pad, [*pin_keys(PIN), "enter"], block_data(pin_key))
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
