"""``tellerhal crypto kcv`` and ``tellerhal crypto tr31``: key check values, TR-31 blocks.

Computed by `protocols` (kcv, tr31, tr31_header, crypto_primitives); this module only reads
arguments. ``tr31 unwrap`` prints the unwrapped key: test keys.
"""

from __future__ import annotations

import argparse
from enum import Enum
from typing import Any

from protocols import crypto_primitives as prim
from protocols import kcv, tr31, tr31_header
from tellerhal.cli.crypto_common import InputError, Result, group, hex_arg, leaf, upper_hex

__all__ = ["register_kcv", "register_tr31"]


# --- kcv ------------------------------------------------------------------------------


def _kcv(args: argparse.Namespace) -> Result:
    key = hex_arg(args.key, "--key")
    value = kcv.compute_kcv(
        prim.as_algorithm(args.algorithm), key, kcv.KcvMethod(args.method), args.length
    )
    return {"algorithm": args.algorithm, "method": args.method, "kcv": upper_hex(value)}


def register_kcv(actions: argparse._SubParsersAction[Any]) -> None:
    parser = leaf(actions, "kcv", _kcv, "key check value (legacy or CMAC-based)")
    parser.add_argument("--algorithm", choices=("tdes", "aes", "sm4"), required=True)
    parser.add_argument("--key", metavar="HEX", required=True)
    parser.add_argument("--method", choices=("legacy", "cmac"), default="legacy")
    parser.add_argument("--length", type=int, help="bytes (default 3 legacy, 4 SM4, 5 CMAC)")


# --- tr31 -----------------------------------------------------------------------------


def _key_kcv(header: tr31_header.Header, key: bytes) -> str | None:
    """The KCV a bank engineer compares: legacy for TDES/DES keys, CMAC-based for AES."""
    try:
        if header.algorithm in (tr31_header.KeyAlgorithm.TDES, tr31_header.KeyAlgorithm.DES):
            return upper_hex(kcv.kcv_legacy(prim.Algorithm.TDES, key))
        if header.algorithm is tr31_header.KeyAlgorithm.AES:
            return upper_hex(kcv.kcv_cmac(prim.Algorithm.AES, key))
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
    kbpk = hex_arg(args.kbpk, "--kbpk")
    key = hex_arg(args.key, "--key")
    header, _, head_len = tr31_header.parse_header(args.header)
    if head_len != len(args.header):
        raise InputError("--header has characters after its optional blocks")
    if args.padding is None:
        block = tr31.wrap(kbpk, header, key)
    else:
        padding = hex_arg(args.padding, "--padding", empty=True)

        def fill(count: int) -> bytes:
            if count != len(padding):
                raise InputError(f"--padding must be {count} bytes for this key and header")
            return padding

        block = tr31.wrap(kbpk, header, key, fill=fill)
    return {"key_block": block, "kcv": _key_kcv(header, key)}


def _tr31_unwrap(args: argparse.Namespace) -> Result:
    result = tr31.unwrap(hex_arg(args.kbpk, "--kbpk"), args.block)
    return {
        "key": upper_hex(result.key),
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


def register_tr31(actions: argparse._SubParsersAction[Any]) -> None:
    parser = actions.add_parser(
        "tr31",
        help="TR-31 key blocks (versions A, B, C, D): wrap, unwrap, inspect",
        description="ASC X9 TR-31:2018 key blocks, versions A, B, C (TDES KBPK) and D (AES).",
    )
    sub = group(parser, "tr31_action")
    wrap = leaf(sub, "wrap", _tr31_wrap, "wrap a key under a KBPK")
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
    unwrap = leaf(
        sub, "unwrap", _tr31_unwrap, "check and decrypt a key block; prints the key: test keys"
    )
    unwrap.add_argument("--kbpk", metavar="HEX", required=True)
    unwrap.add_argument("--block", required=True)
    inspect = leaf(sub, "inspect", _tr31_inspect, "header fields and optional blocks, no key")
    inspect.add_argument("--block", required=True)
