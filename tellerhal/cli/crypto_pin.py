"""``tellerhal crypto pinblock`` and ``tellerhal crypto dukpt``: PIN blocks, DUKPT keys.

Computed by `protocols` (pinblock, dukpt, dukpt_aes, kcv, crypto_primitives); this module only
reads arguments. ``pinblock decode`` prints the clear PIN and ``dukpt key`` a key: test keys.
"""

from __future__ import annotations

import argparse
from typing import Any

from protocols import crypto_primitives as prim
from protocols import dukpt, dukpt_aes, kcv, pinblock
from tellerhal.cli.crypto_common import InputError, Result, group, hex_arg, leaf, upper_hex

__all__ = ["register_dukpt", "register_pinblock"]


# --- pinblock -------------------------------------------------------------------------


def _pinblock_build(args: argparse.Namespace) -> Result:
    fmt = pinblock.PinBlockFormat(args.format)
    key = hex_arg(args.key, "--key") if args.key is not None else None
    algorithm = prim.as_algorithm(args.algorithm) if args.algorithm else None
    if fmt is pinblock.PinBlockFormat.ISO_4:
        if key is None or algorithm not in (None, prim.Algorithm.AES):
            raise InputError("format 4 is enciphered: it needs an AES --key (--algorithm aes)")
        if args.pan is None:
            raise InputError("format 4 needs --pan")
        fill = hex_arg(args.fill, "--fill") if args.fill is not None else None
        block = pinblock.encipher_iso4(key, args.pin, args.pan, fill=fill)
        return {"format": 4, "algorithm": "aes", "enciphered": True, "pin_block": upper_hex(block)}
    clear = pinblock.build_clear_block(fmt, args.pin, args.pan, fill=args.fill)
    if key is None:
        if algorithm is not None:
            raise InputError("--algorithm needs --key")
        return {"format": fmt.value, "enciphered": False, "pin_block": upper_hex(clear)}
    if algorithm not in (None, prim.Algorithm.TDES):
        raise InputError(f"format {fmt.value} is enciphered with tdes only")
    block = prim.encrypt_ecb(prim.Algorithm.TDES, key, clear)
    return {
        "format": fmt.value,
        "algorithm": "tdes",
        "enciphered": True,
        "pin_block": upper_hex(block),
    }


def _pinblock_decode(args: argparse.Namespace) -> Result:
    fmt = pinblock.PinBlockFormat(args.format)
    block = hex_arg(args.block, "--block")
    if args.key is None:
        if fmt is pinblock.PinBlockFormat.ISO_4:
            raise InputError("format 4 blocks are enciphered: give the AES --key")
        pin = pinblock.recover_pin(fmt, block, args.pan)
    else:
        pin = pinblock.decipher_pin_block(fmt, hex_arg(args.key, "--key"), block, args.pan)
    return {"format": fmt.value, "pin": pin, "pin_length": len(pin)}


def register_pinblock(actions: argparse._SubParsersAction[Any]) -> None:
    parser = actions.add_parser(
        "pinblock",
        help="ISO 9564-1 PIN blocks, formats 0-4: build and decode",
        description="ISO 9564-1 PIN blocks, formats 0-4 (0-3 clear or under TDES, 4 under AES).",
    )
    sub = group(parser, "pinblock_action")
    build = leaf(sub, "build", _pinblock_build, "build a PIN block (clear without --key)")
    build.add_argument("--format", type=int, choices=range(5), required=True)
    build.add_argument("--pin", required=True, help="4 to 12 digits")
    build.add_argument("--pan", help="the PAN (formats 0, 3 and 4)")
    build.add_argument("--key", metavar="HEX", help="encipher: TDES for 0-3, AES for 4")
    build.add_argument("--algorithm", choices=("tdes", "aes"))
    build.add_argument(
        "--fill",
        help="fixed fill for golden tests: hex nibbles for formats 1/3, 8 bytes hex for 4 "
        "(default: random)",
    )
    decode = leaf(
        sub,
        "decode",
        _pinblock_decode,
        "recover the PIN from a PIN block; prints the clear PIN: for test keys only",
    )
    decode.add_argument("--format", type=int, choices=range(5), required=True)
    decode.add_argument("--block", metavar="HEX", required=True)
    decode.add_argument("--pan", help="the PAN (formats 0, 3 and 4)")
    decode.add_argument("--key", metavar="HEX", help="the block is enciphered under this key")


# --- dukpt ----------------------------------------------------------------------------

_TDES_USAGES = {
    "transaction": dukpt.TdesKeyUsage.TRANSACTION,
    "pin": dukpt.TdesKeyUsage.PIN,
    "mac": dukpt.TdesKeyUsage.MAC_REQUEST,
    "mac-request": dukpt.TdesKeyUsage.MAC_REQUEST,
    "mac-response": dukpt.TdesKeyUsage.MAC_RESPONSE,
    "data": dukpt.TdesKeyUsage.DATA_REQUEST,
    "data-request": dukpt.TdesKeyUsage.DATA_REQUEST,
    "data-response": dukpt.TdesKeyUsage.DATA_RESPONSE,
}
_AES_USAGES = {
    "pin": dukpt_aes.AesKeyUsage.PIN_ENCRYPTION,
    "mac": dukpt_aes.AesKeyUsage.MAC_GENERATION,
    "mac-generate": dukpt_aes.AesKeyUsage.MAC_GENERATION,
    "mac-verify": dukpt_aes.AesKeyUsage.MAC_VERIFICATION,
    "mac-both": dukpt_aes.AesKeyUsage.MAC_BOTH,
    "data": dukpt_aes.AesKeyUsage.DATA_ENCRYPT,
    "data-encrypt": dukpt_aes.AesKeyUsage.DATA_ENCRYPT,
    "data-decrypt": dukpt_aes.AesKeyUsage.DATA_DECRYPT,
    "data-both": dukpt_aes.AesKeyUsage.DATA_BOTH,
    "kek": dukpt_aes.AesKeyUsage.KEY_ENCRYPTION,
}
_USAGE_CHOICES = sorted({"transaction", *_TDES_USAGES, *_AES_USAGES})
_KEY_TYPES = {
    "2tdea": dukpt_aes.AesKeyType.TDEA2,
    "3tdea": dukpt_aes.AesKeyType.TDEA3,
    "aes128": dukpt_aes.AesKeyType.AES128,
    "aes192": dukpt_aes.AesKeyType.AES192,
    "aes256": dukpt_aes.AesKeyType.AES256,
}
_SCHEME_LENGTHS = {"aes128": 16, "aes192": 24, "aes256": 32}


def _scheme(args: argparse.Namespace, key: bytes) -> str:
    """tdes, or the AES scheme; --aes takes it from the key's length."""
    scheme: str = args.scheme or ("aes" if args.aes else "tdes")
    if args.aes and args.scheme not in (None, *_SCHEME_LENGTHS):
        raise InputError("--aes contradicts --scheme tdes")
    if scheme == "aes":
        for name, length in _SCHEME_LENGTHS.items():
            if len(key) == length:
                return name
        raise InputError(f"an AES DUKPT key is 16, 24 or 32 bytes, got {len(key)}")
    if scheme in _SCHEME_LENGTHS and len(key) != _SCHEME_LENGTHS[scheme]:
        raise InputError(
            f"--scheme {scheme} needs a {_SCHEME_LENGTHS[scheme]}-byte key, got {len(key)}"
        )
    return scheme


def _base_key(args: argparse.Namespace) -> tuple[bytes, bool]:
    """(key, is_bdk) from --bdk or --ipek (the AES initial key)."""
    if args.bdk is not None:
        return hex_arg(args.bdk, "--bdk"), True
    return hex_arg(args.ipek, "--ipek"), False


def _aes_ksn(value: str) -> dukpt_aes.AesKsn:
    raw = hex_arg(value, "--ksn")
    if len(raw) == dukpt_aes.AES_IKID_LEN:
        return dukpt_aes.AesKsn.from_initial_key_id(raw)
    return dukpt_aes.AesKsn.parse(raw)


def _aes_kind(args: argparse.Namespace, scheme: str) -> dukpt_aes.AesKeyType:
    return _KEY_TYPES[args.key_type or scheme]


def _dukpt_ipek(args: argparse.Namespace) -> Result:
    bdk = hex_arg(args.bdk, "--bdk")
    scheme = _scheme(args, bdk)
    if scheme == "tdes":
        ksn = dukpt.TdesKsn.parse(hex_arg(args.ksn, "--ksn"))
        ipek = dukpt.derive_ipek(bdk, ksn)
        return {
            "scheme": scheme,
            "ksn": ksn.initial.hex(),
            "ipek": upper_hex(ipek),
            "kcv": upper_hex(kcv.kcv_legacy(prim.Algorithm.TDES, ipek)),
        }
    aes_ksn = _aes_ksn(args.ksn)
    initial = dukpt_aes.derive_initial_key(bdk, aes_ksn)
    return {
        "scheme": scheme,
        "initial_key_id": upper_hex(aes_ksn.initial_key_id_bytes),
        "initial_key": upper_hex(initial),
        "kcv": upper_hex(kcv.kcv_cmac(prim.Algorithm.AES, initial)),
    }


def _dukpt_key(args: argparse.Namespace) -> Result:
    base, is_bdk = _base_key(args)
    scheme = _scheme(args, base)
    usage: str = args.usage
    if scheme == "tdes":
        if args.key_type is not None:
            raise InputError("--key-type is for AES DUKPT")
        if usage not in _TDES_USAGES:
            raise InputError(f"TDES DUKPT usages: {', '.join(sorted(_TDES_USAGES))}")
        ksn = dukpt.TdesKsn.parse(hex_arg(args.ksn, "--ksn"))
        ipek = dukpt.derive_ipek(base, ksn) if is_bdk else base
        key = dukpt.derive_key(ipek, ksn, _TDES_USAGES[usage])
        return {"scheme": scheme, "ksn": ksn.hex(), "usage": usage, "key": upper_hex(key)}
    aes_ksn = _aes_ksn(args.ksn)
    initial = dukpt_aes.derive_initial_key(base, aes_ksn) if is_bdk else base
    if usage == "transaction":
        if args.key_type is not None:
            raise InputError("the transaction (intermediate derivation) key has the BDK's type")
        key = dukpt_aes.derive_derivation_key(initial, aes_ksn)
        return {"scheme": scheme, "ksn": aes_ksn.hex(), "usage": usage, "key": upper_hex(key)}
    if usage not in _AES_USAGES:
        raise InputError(f"AES DUKPT usages: transaction, {', '.join(sorted(_AES_USAGES))}")
    kind = _aes_kind(args, scheme)
    key = dukpt_aes.derive_working_key(initial, aes_ksn, _AES_USAGES[usage], kind)
    return {
        "scheme": scheme,
        "ksn": aes_ksn.hex(),
        "usage": usage,
        "key_type": kind.name.lower(),
        "key": upper_hex(key),
    }


def _dukpt_pin(args: argparse.Namespace) -> Result:
    base, is_bdk = _base_key(args)
    scheme = _scheme(args, base)
    if scheme == "tdes":
        if args.key_type is not None or args.fill is not None:
            raise InputError("--key-type and --fill are for AES DUKPT (format 4)")
        ksn = dukpt.TdesKsn.parse(hex_arg(args.ksn, "--ksn"))
        ipek = dukpt.derive_ipek(base, ksn) if is_bdk else base
        clear = pinblock.build_clear_block(0, args.pin, args.pan)
        block = dukpt.encrypt_pin_block(ipek, ksn, clear)
        return {"scheme": scheme, "ksn": ksn.hex(), "format": 0, "pin_block": upper_hex(block)}
    aes_ksn = _aes_ksn(args.ksn)
    initial = dukpt_aes.derive_initial_key(base, aes_ksn) if is_bdk else base
    kind = _aes_kind(args, scheme)
    key = dukpt_aes.derive_working_key(initial, aes_ksn, dukpt_aes.AesKeyUsage.PIN_ENCRYPTION, kind)
    if kind.is_aes:
        fill = hex_arg(args.fill, "--fill") if args.fill is not None else None
        block = pinblock.encipher_iso4(key, args.pin, args.pan, fill=fill)
        fmt = 4
    else:
        if args.fill is not None:
            raise InputError("--fill is for format 4 (an AES PIN key)")
        block = prim.encrypt_ecb(
            prim.Algorithm.TDES, key, pinblock.build_clear_block(0, args.pin, args.pan)
        )
        fmt = 0
    return {
        "scheme": scheme,
        "ksn": aes_ksn.hex(),
        "key_type": kind.name.lower(),
        "format": fmt,
        "pin_block": upper_hex(block),
    }


def _dukpt_options(parser: argparse.ArgumentParser, *, ipek: bool) -> None:
    if ipek:
        source = parser.add_mutually_exclusive_group(required=True)
        source.add_argument("--bdk", metavar="HEX", help="the base derivation key")
        source.add_argument("--ipek", metavar="HEX", help="the IPEK (AES: the initial key)")
    else:
        parser.add_argument("--bdk", metavar="HEX", required=True, help="base derivation key")
    parser.add_argument(
        "--ksn",
        metavar="HEX",
        required=True,
        help="TDES: 10 bytes; AES: 12 bytes (or the 8-byte initial key ID)",
    )
    parser.add_argument(
        "--scheme",
        choices=("tdes", "aes128", "aes192", "aes256"),
        help="DUKPT scheme (default tdes; AES is ANSI X9.24-3)",
    )
    parser.add_argument(
        "--aes", action="store_true", help="AES DUKPT, the scheme from the key's length"
    )


def register_dukpt(actions: argparse._SubParsersAction[Any]) -> None:
    parser = actions.add_parser(
        "dukpt",
        help="DUKPT: IPEK / initial key, working keys, PIN blocks for a KSN",
        description="DUKPT: TDES (ANSI X9.24-1:2009) or AES (ANSI X9.24-3:2017).",
    )
    sub = group(parser, "dukpt_action")
    ipek = leaf(sub, "ipek", _dukpt_ipek, "the IPEK (AES: the initial key) of a BDK and a KSN")
    _dukpt_options(ipek, ipek=False)
    key = leaf(sub, "key", _dukpt_key, "a transaction or working key for a KSN; prints a key")
    _dukpt_options(key, ipek=True)
    key.add_argument("--usage", choices=_USAGE_CHOICES, default="pin")
    key.add_argument("--key-type", choices=sorted(_KEY_TYPES), help="AES: the working key type")
    pin = leaf(sub, "pin", _dukpt_pin, "encrypt a PIN block for a KSN (TDES: format 0)")
    _dukpt_options(pin, ipek=True)
    pin.add_argument("--pin", required=True)
    pin.add_argument("--pan", required=True)
    pin.add_argument(
        "--key-type",
        choices=sorted(_KEY_TYPES),
        help="AES: the PIN key type (AES types give format 4, TDEA types format 0)",
    )
    pin.add_argument("--fill", metavar="HEX", help="format 4 fill, 8 bytes, for golden tests")
