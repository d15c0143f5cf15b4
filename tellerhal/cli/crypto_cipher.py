"""``tellerhal crypto mac``, ``encrypt`` and ``decrypt``: MACs and whole-block ciphers.

Computed by `protocols` (mac, crypto_primitives); this module only reads arguments.
"""

from __future__ import annotations

import argparse
from typing import Any

from protocols import crypto_primitives as prim
from protocols import mac
from tellerhal.cli.crypto_common import InputError, Result, hex_arg, leaf, upper_hex

__all__ = ["register_cipher", "register_mac"]


# --- mac ------------------------------------------------------------------------------


def _mac(args: argparse.Namespace) -> Result:
    key = hex_arg(args.key, "--key")
    data = hex_arg(args.data, "--data", empty=True)
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
        expected = hex_arg(args.verify, "--verify")
        result["verified"] = mac.verify_mac(
            args.algorithm, key, data, expected, mac_algorithm, padding=padding
        )
        return result
    value = mac.generate_mac(
        args.algorithm, key, data, mac_algorithm, padding=padding, length=args.length
    )
    result["mac"] = upper_hex(value)
    return result


def register_mac(actions: argparse._SubParsersAction[Any]) -> None:
    parser = leaf(actions, "mac", _mac, "MAC generate/verify: ISO 9797-1 algorithms 1 and 3, CMAC")
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
    key = hex_arg(args.key, "--key")
    data = hex_arg(args.data, "--data")
    if args.mode == "ecb":
        if args.iv is not None:
            raise InputError("ECB takes no --iv")
        out = (prim.encrypt_ecb if encrypt else prim.decrypt_ecb)(algorithm, key, data)
    else:
        iv = hex_arg(args.iv, "--iv") if args.iv is not None else None
        out = (prim.encrypt_cbc if encrypt else prim.decrypt_cbc)(algorithm, key, data, iv)
    return {"algorithm": args.algorithm, "mode": args.mode, "data": upper_hex(out)}


def register_cipher(actions: argparse._SubParsersAction[Any], name: str) -> None:
    encrypt = name == "encrypt"
    parser = leaf(
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
