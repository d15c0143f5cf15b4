"""Benchmark of PIN blocks and DUKPT derivations against the raw `cryptography` calls, same run.

Run from the repository root:  python bench/bench_pinpad.py [--number N] [--repeat R]

Each row times one operation of ours and, as its baseline, the raw `cryptography` work that
operation cannot avoid: the same number of ``Cipher(...).encryptor()`` objects (a new one per
key, as the operation needs) encrypting the same number of blocks, with nothing else.

- PIN block format 0 under TDES (``pinblock.encipher_pin_block``): 1 TDES block.
- PIN block format 4 under AES (``pinblock.encipher_pin_block``): 2 AES blocks, one after
  the other (the second depends on the first), plus 8 random fill bytes (ours only).
- TDES DUKPT (ANSI X9.24-1), host side, PIN key from BDK + KSN (``dukpt.host_derive_key``):
  IPEK = 2 TDES blocks, then 2 DES blocks per one-bit of the counter (DES is TDES with
  K1K1K1 on `cryptography`); measured for counters with 1 and with 10 one-bits.
- AES DUKPT (ANSI X9.24-3), host side, AES-128 PIN working key from BDK + KSN
  (``dukpt_aes.host_derive_working_key``): initial key 1 call, 1 call per one-bit of the
  counter, working key 1 call; each call 1 AES block (2 for an AES-256 BDK); counters with
  1 and 16 one-bits.

Each figure is the best of R repeats of N calls (``time.perf_counter``). The results are
checked against published vectors before timing.
"""

from __future__ import annotations

import argparse
import os
import platform
import shlex
import sys
from collections.abc import Callable
from pathlib import Path
from time import perf_counter
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import cryptography
from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from protocols import dukpt, dukpt_aes, pinblock

BDK_TDES = bytes.fromhex("0123456789ABCDEFFEDCBA9876543210")  # X9.24-1:2009 A.4
KSN_TDES = "FFFF9876543210E00000"
BDK_AES128 = bytes.fromhex("FEDCBA9876543210F1F1F1F1F1F1F1F1")  # X9.24-3:2017 supplement
BDK_AES256 = BDK_AES128 * 2
IKID = "1234567890123456"
PIN = "1234"
PAN = "4012345678909"


def best_us(call: Callable[[], Any], number: int, repeat: int) -> float:
    """Best time of ``repeat`` runs of ``number`` calls, in microseconds per call."""
    best = float("inf")
    for _ in range(repeat):
        start = perf_counter()
        for _ in range(number):
            call()
        best = min(best, perf_counter() - start)
    return best / number * 1e6


def raw_tdes(calls: int) -> Callable[[], None]:
    """``calls`` fresh TDES ECB encryptors (24-byte keys), one 8-byte block each."""
    keys = [os.urandom(24) for _ in range(calls)]
    block = os.urandom(8)

    def run() -> None:
        data = block
        for key in keys:
            enc = Cipher(TripleDES(key), modes.ECB()).encryptor()
            data = enc.update(data) + enc.finalize()

    return run


def raw_aes(key_length: int, calls: int, blocks: int) -> Callable[[], None]:
    """``calls`` fresh AES ECB encryptors, each encrypting ``blocks`` 16-byte blocks."""
    keys = [os.urandom(key_length) for _ in range(calls)]
    data = os.urandom(16 * blocks)

    def run() -> None:
        for key in keys:
            enc = Cipher(algorithms.AES(key), modes.ECB()).encryptor()
            enc.update(data)
            enc.finalize()

    return run


def raw_aes_chain(key: bytes, blocks: int) -> Callable[[], None]:
    """``blocks`` dependent single-block AES encryptions under one key, a fresh encryptor each."""
    block = os.urandom(16)

    def run() -> None:
        data = block
        for _ in range(blocks):
            enc = Cipher(algorithms.AES(key), modes.ECB()).encryptor()
            data = enc.update(data) + enc.finalize()

    return run


def check_vectors() -> None:
    """The measured calls give the published answers (else the timing means nothing)."""
    ksn1 = dukpt.TdesKsn.parse(KSN_TDES).with_counter(1)
    pin_key = dukpt.host_derive_key(BDK_TDES, ksn1, dukpt.TdesKeyUsage.PIN)
    block = pinblock.encipher_pin_block(0, pin_key, PIN, PAN)
    assert block.hex().upper() == "1B9C1845EB993A7A", block.hex()  # X9.24-1:2009 A.4.2
    key = dukpt_aes.host_derive_working_key(
        BDK_AES128,
        dukpt_aes.AesKsn.from_initial_key_id(IKID, 1),
        dukpt_aes.AesKeyUsage.PIN_ENCRYPTION,
        dukpt_aes.AesKeyType.AES128,
    )
    assert key.hex().upper() == "AF8CB133A78F8DC2D1359F18527593FB", key.hex()


def rows() -> list[tuple[str, str, Callable[[], Any], Callable[[], Any]]]:
    """(operation, what the baseline does, ours, baseline)."""
    tdes_key = BDK_TDES
    aes_key = BDK_AES128
    tdes_ksn = dukpt.TdesKsn.parse(KSN_TDES)
    ksn_t1 = tdes_ksn.with_counter(1)
    ksn_t10 = tdes_ksn.with_counter(0b1111111111 << 11)
    ksn_a1 = dukpt_aes.AesKsn.from_initial_key_id(IKID, 1)
    ksn_a16 = dukpt_aes.AesKsn.from_initial_key_id(IKID, 0xFFFF0000)
    pin_usage, aes128 = dukpt_aes.AesKeyUsage.PIN_ENCRYPTION, dukpt_aes.AesKeyType.AES128

    def tdes(ksn: dukpt.TdesKsn) -> Callable[[], bytes]:
        return lambda: dukpt.host_derive_key(tdes_key, ksn, dukpt.TdesKeyUsage.PIN)

    def aes(bdk: bytes, ksn: dukpt_aes.AesKsn) -> Callable[[], bytes]:
        return lambda: dukpt_aes.host_derive_working_key(bdk, ksn, pin_usage, aes128)

    return [
        (
            "PIN block format 0, TDES",
            "1 TDES block",
            lambda: pinblock.encipher_pin_block(0, tdes_key, PIN, PAN),
            raw_tdes(1),
        ),
        (
            "PIN block format 4, AES-128",
            "2 chained AES blocks",
            lambda: pinblock.encipher_pin_block(4, aes_key, PIN, PAN),
            raw_aes_chain(aes_key, 2),
        ),
        ("TDES DUKPT PIN key, counter 1 bit", "2 TDES + 2 DES blocks", tdes(ksn_t1), raw_tdes(4)),
        (
            "TDES DUKPT PIN key, counter 10 bits",
            "2 TDES + 20 DES blocks",
            tdes(ksn_t10),
            raw_tdes(22),
        ),
        (
            "AES DUKPT PIN key, AES-128, 1 bit",
            "3 AES calls x 1 block",
            aes(BDK_AES128, ksn_a1),
            raw_aes(16, 3, 1),
        ),
        (
            "AES DUKPT PIN key, AES-128, 16 bits",
            "18 AES calls x 1 block",
            aes(BDK_AES128, ksn_a16),
            raw_aes(16, 18, 1),
        ),
        (
            "AES DUKPT PIN key, AES-256, 16 bits",
            "17 x 2 blocks + 1 x 1 block",
            aes(BDK_AES256, ksn_a16),
            both(raw_aes(32, 17, 2), raw_aes(32, 1, 1)),
        ),
    ]


def both(first: Callable[[], None], second: Callable[[], None]) -> Callable[[], None]:
    """One baseline made of two."""

    def run() -> None:
        first()
        second()

    return run


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--number", type=int, default=2000, help="calls per repeat")
    parser.add_argument("--repeat", type=int, default=7, help="repeats (the best counts)")
    args = parser.parse_args(argv)
    number, repeat = args.number, args.repeat

    check_vectors()
    print("command:", shlex.join([sys.executable, *sys.argv]))
    print(
        f"python {platform.python_version()} ({platform.machine()}), cryptography "
        f"{cryptography.__version__}; best of {repeat} x {number} calls"
    )
    print()
    header = (
        f"{'operation':<38}{'ours/s':>10}{'us':>8}  {'baseline (raw cryptography)':<28}"
        f"{'base/s':>10}{'us':>8}{'ratio':>8}"
    )
    print(header)
    print("-" * len(header))
    for label, what, ours, base in rows():
        ours_us = best_us(ours, number, repeat)
        base_us = best_us(base, number, repeat)
        print(
            f"{label:<38}{1e6 / ours_us:>10,.0f}{ours_us:>8.1f}  {what:<28}"
            f"{1e6 / base_us:>10,.0f}{base_us:>8.1f}{ours_us / base_us:>7.2f}x"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
