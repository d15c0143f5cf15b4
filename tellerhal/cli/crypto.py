"""``tellerhal crypto``: a payments crypto calculator for bank engineers and vendors.

Hex in, hex out. Every action prints ``name: value`` lines, or one JSON object with
``--json``. Bad input prints one ``error: ...`` line on stderr and exits 2 (never a
traceback, never a key); a MAC that does not verify exits 1.

Actions: ``pinblock build|decode``, ``kcv``, ``tr31 wrap|unwrap|inspect``,
``dukpt ipek|key|pin`` (TDES X9.24-1, or AES X9.24-3 with ``--scheme``/``--aes``), ``mac``,
``encrypt``, ``decrypt``. Everything is computed by `protocols` (pinblock, kcv, tr31, dukpt,
dukpt_aes, mac, crypto_primitives); these modules only read arguments and print results.
This one adds the sub-command; the actions are in `crypto_pin` (pinblock, dukpt),
`crypto_keys` (kcv, tr31) and `crypto_cipher` (mac, encrypt, decrypt), and `crypto_common`
holds what they share (argument parsing, hex input, `run` and the output).

It is a tool for test keys: it prints recovered PINs and unwrapped keys, because that is its
job, and keys given on a command line land in the shell's history.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from tellerhal.cli.crypto_cipher import register_cipher, register_mac
from tellerhal.cli.crypto_common import Parser, run
from tellerhal.cli.crypto_keys import register_kcv, register_tr31
from tellerhal.cli.crypto_pin import register_dukpt, register_pinblock

__all__ = ["register", "run"]

_PROGRAM = "tellerhal crypto"


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
    actions = parser.add_subparsers(dest="crypto_action", metavar="ACTION", parser_class=Parser)
    parser.set_defaults(func=_no_action)
    register_pinblock(actions)
    register_kcv(actions)
    register_tr31(actions)
    register_dukpt(actions)
    register_mac(actions)
    register_cipher(actions, "encrypt")
    register_cipher(actions, "decrypt")


def _no_action(args: argparse.Namespace) -> int:
    print(f"error: {_PROGRAM}: choose an action (see --help)", file=sys.stderr)
    return 2
