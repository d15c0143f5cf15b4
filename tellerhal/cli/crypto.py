"""``tellerhal crypto``: a payments crypto calculator for bank engineers and vendors.

Hex in, hex out. Every action prints ``name: value`` lines, or one JSON object with
``--json``. Bad input prints one ``error: ...`` line on stderr and exits 2 (never a
traceback, never a key); a MAC that does not verify exits 1.

Actions: ``pinblock build|decode``, ``kcv``, ``tr31 wrap|unwrap|inspect``,
``dukpt ipek|key|pin`` (TDES X9.24-1, or AES X9.24-3 with ``--scheme``/``--aes``), ``mac``,
``encrypt``, ``decrypt``. Everything is computed by `protocols` (pinblock, kcv, tr31, dukpt,
dukpt_aes, mac, crypto_primitives); this module only reads arguments and prints results.

It is a tool for test keys: it prints recovered PINs and unwrapped keys, because that is its
job, and keys given on a command line land in the shell's history.
"""

from __future__ import annotations

import argparse
import json
import string
import sys
from collections.abc import Callable, Sequence
from enum import Enum
from typing import Any, NoReturn

from protocols import crypto_primitives as prim
from protocols import dukpt, dukpt_aes, kcv, mac, pinblock, tr31, tr31_header
from protocols.errors import HalError

__all__ = ["register", "run"]

_PROGRAM = "tellerhal crypto"
_HEXDIGITS = frozenset(string.hexdigits)

Result = dict[str, Any]
Action = Callable[[argparse.Namespace], Result]


class InputError(Exception):
    """An argument this module refuses before any library sees it (message has no value)."""


class _Parser(argparse.ArgumentParser):
    """Argument errors as one ``error: ...`` line and exit 2 (no usage block).

    Leftover arguments are refused here, without echoing them (they may hold a key),
    instead of being handed up to the top-level parser, which would quote them.
    """

    def parse_known_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        parsed, extras = super().parse_known_args(args, namespace)
        if extras:
            self.error("unrecognized arguments")
        return parsed, extras

    def error(self, message: str) -> NoReturn:
        if message.startswith("unrecognized arguments"):
            message = "unrecognized arguments (see --help)"  # they may hold a key: not echoed
        self.exit(2, f"error: {self.prog}: {message}\n")


# --- argument helpers -----------------------------------------------------------------


def _hex(value: str | None, what: str, *, empty: bool = False) -> bytes:
    """Hex text (spaces allowed) as bytes; the message names the option, never the value."""
    if value is None:
        raise InputError(f"{what} is required")
    text = "".join(value.split())
    if not set(text) <= _HEXDIGITS:
        raise InputError(f"{what} must be hex digits (0-9, A-F)")
    if len(text) % 2:
        raise InputError(f"{what} has an odd number of hex digits ({len(text)})")
    if not text and not empty:
        raise InputError(f"{what} is empty")
    return bytes.fromhex(text)


def _upper(data: bytes) -> str:
    return data.hex().upper()


def _add_json(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def _leaf(
    actions: argparse._SubParsersAction[Any], name: str, action: Action, help_text: str
) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = actions.add_parser(
        name, help=help_text, description=help_text
    )
    _add_json(parser)
    parser.set_defaults(func=run, action_func=action)
    return parser


def _group(parser: argparse.ArgumentParser, dest: str) -> argparse._SubParsersAction[Any]:
    actions = parser.add_subparsers(dest=dest, metavar="ACTION", parser_class=_Parser)
    actions.required = True
    return actions


# --- pinblock -------------------------------------------------------------------------


def _pinblock_build(args: argparse.Namespace) -> Result:
    fmt = pinblock.PinBlockFormat(args.format)
    key = _hex(args.key, "--key") if args.key is not None else None
    algorithm = prim.as_algorithm(args.algorithm) if args.algorithm else None
    if fmt is pinblock.PinBlockFormat.ISO_4:
        if key is None or algorithm not in (None, prim.Algorithm.AES):
            raise InputError("format 4 is enciphered: it needs an AES --key (--algorithm aes)")
        if args.pan is None:
            raise InputError("format 4 needs --pan")
        fill = _hex(args.fill, "--fill") if args.fill is not None else None
        block = pinblock.encipher_iso4(key, args.pin, args.pan, fill=fill)
        return {"format": 4, "algorithm": "aes", "enciphered": True, "pin_block": _upper(block)}
    clear = pinblock.build_clear_block(fmt, args.pin, args.pan, fill=args.fill)
    if key is None:
        if algorithm is not None:
            raise InputError("--algorithm needs --key")
        return {"format": fmt.value, "enciphered": False, "pin_block": _upper(clear)}
    if algorithm not in (None, prim.Algorithm.TDES):
        raise InputError(f"format {fmt.value} is enciphered with tdes only")
    block = prim.encrypt_ecb(prim.Algorithm.TDES, key, clear)
    return {
        "format": fmt.value,
        "algorithm": "tdes",
        "enciphered": True,
        "pin_block": _upper(block),
    }


def _pinblock_decode(args: argparse.Namespace) -> Result:
    fmt = pinblock.PinBlockFormat(args.format)
    block = _hex(args.block, "--block")
    if args.key is None:
        if fmt is pinblock.PinBlockFormat.ISO_4:
            raise InputError("format 4 blocks are enciphered: give the AES --key")
        pin = pinblock.recover_pin(fmt, block, args.pan)
    else:
        pin = pinblock.decipher_pin_block(fmt, _hex(args.key, "--key"), block, args.pan)
    return {"format": fmt.value, "pin": pin, "pin_length": len(pin)}


def _register_pinblock(actions: argparse._SubParsersAction[Any]) -> None:
    parser = actions.add_parser(
        "pinblock",
        help="ISO 9564-1 PIN blocks, formats 0-4: build and decode",
        description="ISO 9564-1 PIN blocks, formats 0-4 (0-3 clear or under TDES, 4 under AES).",
    )
    sub = _group(parser, "pinblock_action")
    build = _leaf(sub, "build", _pinblock_build, "build a PIN block (clear without --key)")
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
    decode = _leaf(
        sub,
        "decode",
        _pinblock_decode,
        "recover the PIN from a PIN block; prints the clear PIN: for test keys only",
    )
    decode.add_argument("--format", type=int, choices=range(5), required=True)
    decode.add_argument("--block", metavar="HEX", required=True)
    decode.add_argument("--pan", help="the PAN (formats 0, 3 and 4)")
    decode.add_argument("--key", metavar="HEX", help="the block is enciphered under this key")


# --- kcv ------------------------------------------------------------------------------


def _kcv(args: argparse.Namespace) -> Result:
    key = _hex(args.key, "--key")
    value = kcv.compute_kcv(
        prim.as_algorithm(args.algorithm), key, kcv.KcvMethod(args.method), args.length
    )
    return {"algorithm": args.algorithm, "method": args.method, "kcv": _upper(value)}


def _register_kcv(actions: argparse._SubParsersAction[Any]) -> None:
    parser = _leaf(actions, "kcv", _kcv, "key check value (legacy or CMAC-based)")
    parser.add_argument("--algorithm", choices=("tdes", "aes", "sm4"), required=True)
    parser.add_argument("--key", metavar="HEX", required=True)
    parser.add_argument("--method", choices=("legacy", "cmac"), default="legacy")
    parser.add_argument("--length", type=int, help="bytes (default 3 legacy, 4 SM4, 5 CMAC)")


# --- tr31 -----------------------------------------------------------------------------


def _key_kcv(header: tr31_header.Header, key: bytes) -> str | None:
    """The KCV a bank engineer compares: legacy for TDES/DES keys, CMAC-based for AES."""
    try:
        if header.algorithm in (tr31_header.KeyAlgorithm.TDES, tr31_header.KeyAlgorithm.DES):
            return _upper(kcv.kcv_legacy(prim.Algorithm.TDES, key))
        if header.algorithm is tr31_header.KeyAlgorithm.AES:
            return _upper(kcv.kcv_cmac(prim.Algorithm.AES, key))
    except prim.CryptoError:
        return None
    return None


def _header_fields(header: tr31_header.Header) -> Result:
    def field(value: object) -> str:
        return str(value)

    def meaning(value: object) -> str | None:
        return value.name.lower() if isinstance(value, Enum) else None

    fields: Result = {"version": header.version.value}
    for name in ("key_usage", "algorithm", "mode_of_use", "exportability"):
        value = getattr(header, name)
        fields[name] = field(value)
        fields[f"{name}_meaning"] = meaning(value)
    fields["key_version"] = header.key_version
    fields["key_context"] = header.key_context
    fields["optional_blocks"] = [{"id": b.id, "data": b.data} for b in header.blocks]
    return fields


def _tr31_wrap(args: argparse.Namespace) -> Result:
    kbpk = _hex(args.kbpk, "--kbpk")
    key = _hex(args.key, "--key")
    header, _, head_len = tr31_header.parse_header(args.header)
    if head_len != len(args.header):
        raise InputError("--header has characters after its optional blocks")
    if args.padding is None:
        block = tr31.wrap(kbpk, header, key)
    else:
        padding = _hex(args.padding, "--padding", empty=True)

        def fill(count: int) -> bytes:
            if count != len(padding):
                raise InputError(f"--padding must be {count} bytes for this key and header")
            return padding

        block = tr31.wrap(kbpk, header, key, fill=fill)
    return {"key_block": block, "kcv": _key_kcv(header, key)}


def _tr31_unwrap(args: argparse.Namespace) -> Result:
    result = tr31.unwrap(_hex(args.kbpk, "--kbpk"), args.block)
    return {
        "key": _upper(result.key),
        "kcv": _key_kcv(result.header, result.key),
        "header": _header_fields(result.header),
    }


def _tr31_inspect(args: argparse.Namespace) -> Result:
    header, declared, head_len = tr31_header.parse_header(args.block)
    body = len(args.block) - head_len
    mac_chars = 2 * tr31.mac_length(header.version)
    return {
        "header": _header_fields(header),
        "declared_length": declared,
        "actual_length": len(args.block),
        "length_ok": declared == len(args.block),
        "header_length": head_len,
        "encrypted_key_data_chars": max(0, body - mac_chars),
        "mac_chars": mac_chars,
        "mac": args.block[-mac_chars:] if body >= mac_chars else None,
    }


def _register_tr31(actions: argparse._SubParsersAction[Any]) -> None:
    parser = actions.add_parser(
        "tr31",
        help="TR-31 key blocks (versions A, B, C, D): wrap, unwrap, inspect",
        description="ASC X9 TR-31:2018 key blocks, versions A, B, C (TDES KBPK) and D (AES).",
    )
    sub = _group(parser, "tr31_action")
    wrap = _leaf(sub, "wrap", _tr31_wrap, "wrap a key under a KBPK")
    wrap.add_argument("--kbpk", metavar="HEX", required=True)
    wrap.add_argument(
        "--header",
        required=True,
        help="the header, e.g. D0000P0AE00E0000 (its length field is recomputed)",
    )
    wrap.add_argument("--key", metavar="HEX", required=True)
    wrap.add_argument(
        "--padding", metavar="HEX", help="fixed key padding for golden tests (default: random)"
    )
    unwrap = _leaf(
        sub, "unwrap", _tr31_unwrap, "check and decrypt a key block; prints the key: test keys"
    )
    unwrap.add_argument("--kbpk", metavar="HEX", required=True)
    unwrap.add_argument("--block", required=True)
    inspect = _leaf(sub, "inspect", _tr31_inspect, "header fields and optional blocks, no key")
    inspect.add_argument("--block", required=True)


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
        return _hex(args.bdk, "--bdk"), True
    return _hex(args.ipek, "--ipek"), False


def _aes_ksn(value: str) -> dukpt_aes.AesKsn:
    raw = _hex(value, "--ksn")
    if len(raw) == dukpt_aes.AES_IKID_LEN:
        return dukpt_aes.AesKsn.from_initial_key_id(raw)
    return dukpt_aes.AesKsn.parse(raw)


def _aes_kind(args: argparse.Namespace, scheme: str) -> dukpt_aes.AesKeyType:
    return _KEY_TYPES[args.key_type or scheme]


def _dukpt_ipek(args: argparse.Namespace) -> Result:
    bdk = _hex(args.bdk, "--bdk")
    scheme = _scheme(args, bdk)
    if scheme == "tdes":
        ksn = dukpt.TdesKsn.parse(_hex(args.ksn, "--ksn"))
        ipek = dukpt.derive_ipek(bdk, ksn)
        return {
            "scheme": scheme,
            "ksn": ksn.initial.hex(),
            "ipek": _upper(ipek),
            "kcv": _upper(kcv.kcv_legacy(prim.Algorithm.TDES, ipek)),
        }
    aes_ksn = _aes_ksn(args.ksn)
    initial = dukpt_aes.derive_initial_key(bdk, aes_ksn)
    return {
        "scheme": scheme,
        "initial_key_id": _upper(aes_ksn.initial_key_id_bytes),
        "initial_key": _upper(initial),
        "kcv": _upper(kcv.kcv_cmac(prim.Algorithm.AES, initial)),
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
        ksn = dukpt.TdesKsn.parse(_hex(args.ksn, "--ksn"))
        ipek = dukpt.derive_ipek(base, ksn) if is_bdk else base
        key = dukpt.derive_key(ipek, ksn, _TDES_USAGES[usage])
        return {"scheme": scheme, "ksn": ksn.hex(), "usage": usage, "key": _upper(key)}
    aes_ksn = _aes_ksn(args.ksn)
    initial = dukpt_aes.derive_initial_key(base, aes_ksn) if is_bdk else base
    if usage == "transaction":
        if args.key_type is not None:
            raise InputError("the transaction (intermediate derivation) key has the BDK's type")
        key = dukpt_aes.derive_derivation_key(initial, aes_ksn)
        return {"scheme": scheme, "ksn": aes_ksn.hex(), "usage": usage, "key": _upper(key)}
    if usage not in _AES_USAGES:
        raise InputError(f"AES DUKPT usages: transaction, {', '.join(sorted(_AES_USAGES))}")
    kind = _aes_kind(args, scheme)
    key = dukpt_aes.derive_working_key(initial, aes_ksn, _AES_USAGES[usage], kind)
    return {
        "scheme": scheme,
        "ksn": aes_ksn.hex(),
        "usage": usage,
        "key_type": kind.name.lower(),
        "key": _upper(key),
    }


def _dukpt_pin(args: argparse.Namespace) -> Result:
    base, is_bdk = _base_key(args)
    scheme = _scheme(args, base)
    if scheme == "tdes":
        if args.key_type is not None or args.fill is not None:
            raise InputError("--key-type and --fill are for AES DUKPT (format 4)")
        ksn = dukpt.TdesKsn.parse(_hex(args.ksn, "--ksn"))
        ipek = dukpt.derive_ipek(base, ksn) if is_bdk else base
        clear = pinblock.build_clear_block(0, args.pin, args.pan)
        block = dukpt.encrypt_pin_block(ipek, ksn, clear)
        return {"scheme": scheme, "ksn": ksn.hex(), "format": 0, "pin_block": _upper(block)}
    aes_ksn = _aes_ksn(args.ksn)
    initial = dukpt_aes.derive_initial_key(base, aes_ksn) if is_bdk else base
    kind = _aes_kind(args, scheme)
    key = dukpt_aes.derive_working_key(initial, aes_ksn, dukpt_aes.AesKeyUsage.PIN_ENCRYPTION, kind)
    if kind.is_aes:
        fill = _hex(args.fill, "--fill") if args.fill is not None else None
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
        "pin_block": _upper(block),
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


def _register_dukpt(actions: argparse._SubParsersAction[Any]) -> None:
    parser = actions.add_parser(
        "dukpt",
        help="DUKPT: IPEK / initial key, working keys, PIN blocks for a KSN",
        description="DUKPT: TDES (ANSI X9.24-1:2009) or AES (ANSI X9.24-3:2017).",
    )
    sub = _group(parser, "dukpt_action")
    ipek = _leaf(sub, "ipek", _dukpt_ipek, "the IPEK (AES: the initial key) of a BDK and a KSN")
    _dukpt_options(ipek, ipek=False)
    key = _leaf(sub, "key", _dukpt_key, "a transaction or working key for a KSN; prints a key")
    _dukpt_options(key, ipek=True)
    key.add_argument("--usage", choices=_USAGE_CHOICES, default="pin")
    key.add_argument("--key-type", choices=sorted(_KEY_TYPES), help="AES: the working key type")
    pin = _leaf(sub, "pin", _dukpt_pin, "encrypt a PIN block for a KSN (TDES: format 0)")
    _dukpt_options(pin, ipek=True)
    pin.add_argument("--pin", required=True)
    pin.add_argument("--pan", required=True)
    pin.add_argument(
        "--key-type",
        choices=sorted(_KEY_TYPES),
        help="AES: the PIN key type (AES types give format 4, TDEA types format 0)",
    )
    pin.add_argument("--fill", metavar="HEX", help="format 4 fill, 8 bytes, for golden tests")


# --- mac ------------------------------------------------------------------------------


def _mac(args: argparse.Namespace) -> Result:
    key = _hex(args.key, "--key")
    data = _hex(args.data, "--data", empty=True)
    mac_algorithm = mac.as_mac_algorithm(args.mac_algorithm)
    padding = args.padding
    if padding is None and mac_algorithm is not mac.MacAlgorithm.CMAC:
        padding = 1
    result: Result = {
        "algorithm": args.algorithm,
        "mac_algorithm": mac_algorithm.value.replace("_", "-"),
        "padding": padding,
    }
    if args.verify is not None:
        expected = _hex(args.verify, "--verify")
        result["verified"] = mac.verify_mac(
            args.algorithm, key, data, expected, mac_algorithm, padding=padding
        )
        return result
    value = mac.generate_mac(
        args.algorithm, key, data, mac_algorithm, padding=padding, length=args.length
    )
    result["mac"] = _upper(value)
    return result


def _register_mac(actions: argparse._SubParsersAction[Any]) -> None:
    parser = _leaf(actions, "mac", _mac, "MAC generate/verify: ISO 9797-1 algorithms 1 and 3, CMAC")
    parser.add_argument("--algorithm", choices=("tdes", "aes", "sm4"), required=True)
    parser.add_argument("--key", metavar="HEX", required=True)
    parser.add_argument("--data", metavar="HEX", required=True)
    parser.add_argument(
        "--mac-algorithm", choices=("iso9797-1", "iso9797-3", "cmac"), required=True
    )
    parser.add_argument(
        "--padding",
        type=int,
        choices=(1, 2, 3),
        help="ISO 9797-1 padding method (default 1; not for cmac)",
    )
    parser.add_argument("--length", type=int, help="MAC bytes, 4 to the block (default block)")
    parser.add_argument(
        "--verify", metavar="HEX", help="check this MAC instead (exit 1 if it does not verify)"
    )


# --- encrypt / decrypt ----------------------------------------------------------------


def _cipher(args: argparse.Namespace, encrypt: bool) -> Result:
    algorithm = prim.as_algorithm(args.algorithm)
    key = _hex(args.key, "--key")
    data = _hex(args.data, "--data")
    if args.mode == "ecb":
        if args.iv is not None:
            raise InputError("ECB takes no --iv")
        out = (prim.encrypt_ecb if encrypt else prim.decrypt_ecb)(algorithm, key, data)
    else:
        iv = _hex(args.iv, "--iv") if args.iv is not None else None
        out = (prim.encrypt_cbc if encrypt else prim.decrypt_cbc)(algorithm, key, data, iv)
    return {"algorithm": args.algorithm, "mode": args.mode, "data": _upper(out)}


def _register_cipher(actions: argparse._SubParsersAction[Any], name: str) -> None:
    encrypt = name == "encrypt"
    parser = _leaf(
        actions,
        name,
        lambda args: _cipher(args, encrypt),
        f"{name} whole blocks (TDES, AES, SM4; ECB or CBC; no padding)",
    )
    parser.add_argument("--algorithm", choices=("tdes", "aes", "sm4"), required=True)
    parser.add_argument("--mode", choices=("ecb", "cbc"), required=True)
    parser.add_argument("--key", metavar="HEX", required=True)
    parser.add_argument("--data", metavar="HEX", required=True)
    parser.add_argument("--iv", metavar="HEX", help="CBC only (default zeros)")


# --- the command ----------------------------------------------------------------------


def register(sub: argparse._SubParsersAction[Any]) -> None:
    """Add the ``crypto`` sub-command."""
    parser = sub.add_parser(
        "crypto",
        help="payments crypto calculator: PIN blocks, KCV, TR-31, DUKPT, MAC, ciphers",
        description=(
            "A payments crypto calculator for test keys: hex in, hex out, --json for one "
            "JSON object. Exit 0 done, 1 a MAC that does not verify, 2 bad input."
        ),
    )
    actions = parser.add_subparsers(dest="crypto_action", metavar="ACTION", parser_class=_Parser)
    parser.set_defaults(func=_no_action)
    _register_pinblock(actions)
    _register_kcv(actions)
    _register_tr31(actions)
    _register_dukpt(actions)
    _register_mac(actions)
    _register_cipher(actions, "encrypt")
    _register_cipher(actions, "decrypt")


def _no_action(args: argparse.Namespace) -> int:
    print(f"error: {_PROGRAM}: choose an action (see --help)", file=sys.stderr)
    return 2


def _print(result: Result, as_json: bool) -> None:
    if as_json:
        print(json.dumps(result))
        return
    for name, value in result.items():
        if isinstance(value, dict):
            for inner, item in value.items():
                print(f"{inner}: {_text(item)}")
        else:
            print(f"{name}: {_text(value)}")


def _text(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return " ".join(f"{b['id']}={b['data']}" for b in value) or "-"
    return str(value)


def run(args: argparse.Namespace) -> int:
    """Run one action; 0 done, 1 a MAC that does not verify, 2 bad input."""
    action: Action = args.action_func
    try:
        result = action(args)
    except (InputError, HalError) as exc:
        message = exc.message if isinstance(exc, HalError) else str(exc)
        if args.json:
            print(json.dumps({"error": message}), file=sys.stderr)
        else:
            print(f"error: {message}", file=sys.stderr)
        return 2
    _print(result, args.json)
    return 1 if result.get("verified") is False else 0
