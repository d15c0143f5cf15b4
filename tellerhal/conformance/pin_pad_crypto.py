"""The PinPad contract cases for the pad's cryptography beyond a PIN entry: data
encryption, MACs, DUKPT PIN blocks (TDES and AES), TR-31 key blocks and random numbers.

Each result is checked against the one the case computes itself with the ``protocols``
library from the clear keys it made (or, for DUKPT, the key the host derives from the
BDK and the KSN).

Internal to the conformance suite: `tellerhal.conformance.pin_pad` lists the cases.
"""

from __future__ import annotations

import secrets

from hal.devices.pin_pad import (
    CipherMode,
    KeyAlgorithm,
    KeyUsage,
    ModeOfUse,
    PinFormat,
)
from hal.errors import (
    InvalidData,
    KeyNotFound,
    UseViolation,
)
from protocols import crypto_primitives, dukpt, dukpt_aes, mac, pinblock, tr31
from protocols.crypto_primitives import CryptoError
from protocols.tr31_header import Header, Version
from tellerhal.conformance.framework import (
    ContractFailure,
    MissingCapability,
    check,
    expect_raises,
)
from tellerhal.conformance.pin_pad_steps import (
    PAN,
    PIN,
    PIN_KEY_FEATURES,
    PIN_LONG,
    LoadedKey,
    PinPadHarness,
    block_data,
    check_pin,
    enter_pin,
    features_of,
    get_block,
    kcv_of,
    load_kek,
    load_key,
    make_key,
    pin_block_of,
    pin_keys,
    start_again,
)

__all__ = [
    "dukpt_aes_pin_block",
    "dukpt_tdes_pin_block",
    "encrypt_decrypt",
    "mac_generate_verify",
    "random_numbers",
    "tr31_key_block",
]


# --- crypto ------------------------------------------------------------------------------


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
                await start_again(h, pad)
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
                    await start_again(h, pad)
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
        await features_of(pad, *PIN_KEY_FEATURES, "dukpt_tdes")
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
            await enter_pin(h, pad, [*pin_keys(PIN), "enter"], block_data("ipek"))
            block = await get_block(h, pad, block_data("ipek"))
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
            check_pin(recovered, PIN, f"TDES DUKPT, counter {ksn.counter}")
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
        await features_of(pad, *PIN_KEY_FEATURES, "dukpt_aes", "aes")
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
            iso4 = block_data("aes_ik", PinFormat.ISO4)
            await enter_pin(h, pad, [*pin_keys(PIN_LONG), "enter"], iso4)
            block = await get_block(h, pad, iso4)
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
            check_pin(recovered, PIN_LONG, f"AES DUKPT, counter {ksn.counter}")
            counters.append(ksn.counter)
        check(0 < counters[0] < counters[1], f"the KSN counter went {counters}")


async def tr31_key_block(h: PinPadHarness) -> None:
    async with h.open() as pad:
        await features_of(pad, *PIN_KEY_FEATURES, "tr31")
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
        await enter_pin(h, pad, [*pin_keys(PIN), "enter"], block_data(key))
        check_pin(await pin_block_of(h, pad, key, PinFormat.ISO0), PIN, "TR-31 PIN key")
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
