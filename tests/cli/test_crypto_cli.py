"""``tellerhal crypto``: the published vectors through the command line, and bad input.

The vectors are the ones the protocol tests carry, imported from those modules with their
sources (ISO 9564 examples, ANSI X9.24-1:2009 A.4, the X9.24-3:2017 supplement, TR-31:2018
A.7 and payShield blocks, FIPS 197 / GB/T 32907 ciphers, ISO 9797-1 Annex B and SP 800-38B
MACs). Every run is in-process: ``main([...])`` with capsys.
"""

from __future__ import annotations

import json
from typing import Any

import psec.tr31
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from protocols.crypto_primitives import Algorithm
from protocols.dukpt_aes import AesKeyType, AesKeyUsage, host_derive_working_key
from protocols.kcv import KcvMethod
from protocols.mac import MacAlgorithm
from protocols.pinblock import encipher_iso4
from tellerhal.cli.main import main
from tests.protocols.crypto_oracles import STRICT_WARNINGS, oracle_warnings_ignored
from tests.protocols.test_crypto_primitives import ECB_VECTORS
from tests.protocols.test_dukpt import (
    BDK,
    IKSN,
    INITIAL_SEQUENCE,
    IPEK,
    ROLLOVER_SEQUENCE,
    VARIANT_KEYS,
)
from tests.protocols.test_dukpt_aes import (
    BDK128,
    BDK256,
    DERIVATION_KEYS_128,
    DERIVATION_KEYS_256,
    IK128,
    IK256,
    IKID,
    WORKING_KEYS_128_COUNTER_1,
    WORKING_KEYS_256_COUNTER_1,
)
from tests.protocols.test_kcv import KCV_VECTORS
from tests.protocols.test_mac import CMAC_VECTORS, ISO9797_VECTORS, NIST_MESSAGE
from tests.protocols.test_pinblock import CLEAR_VECTORS
from tests.protocols.test_tr31 import IDS as TR31_IDS
from tests.protocols.test_tr31 import VECTORS as TR31_VECTORS

pytestmark = STRICT_WARNINGS


def crypto(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, Any], str]:
    """Run ``tellerhal crypto ARGV --json``: exit status, the JSON object (or {}), stderr."""
    status = main(["crypto", *argv, "--json"])
    out, err = capsys.readouterr()
    if err:
        # With --json an error is one JSON object on stderr: {"error": "..."}.
        assert err.count("\n") == 1, err
        err = f"error: {json.loads(err)['error']}\n"
    return status, (json.loads(out) if out else {}), err


def ok(capsys: pytest.CaptureFixture[str], *argv: str) -> dict[str, Any]:
    status, result, err = crypto(capsys, *argv)
    assert (status, err) == (0, ""), err
    return result


def h(data: bytes) -> str:
    return data.hex().upper()


# --- PIN blocks -----------------------------------------------------------------------


@pytest.mark.parametrize(("fmt", "pin", "pan", "fill", "block", "source"), CLEAR_VECTORS)
def test_clear_pin_block_vectors(
    capsys: pytest.CaptureFixture[str],
    fmt: int,
    pin: str,
    pan: str | None,
    fill: str | None,
    block: str,
    source: str,
) -> None:
    args = ["--format", str(fmt), "--pin", pin]
    args += ["--pan", pan] if pan else []
    built = ok(capsys, "pinblock", "build", *args, *(["--fill", fill] if fill else []))
    assert built["pin_block"] == block, source
    assert built["enciphered"] is False
    decoded = ok(capsys, "pinblock", "decode", *args[:2], "--block", block, *args[4:])
    assert decoded["pin"] == pin, source


def test_text_output_of_the_published_format_0_example(capsys: pytest.CaptureFixture[str]) -> None:
    # reference §4.2 and §7 #39: PIN 1234, PAN 43219876543210987 -> 0412AC89ABCDEF67.
    argv = ["crypto", "pinblock", "build", "--format", "0", "--pin", "1234"]
    assert main([*argv, "--pan", "43219876543210987"]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    assert "pin_block: 0412AC89ABCDEF67" in out.splitlines()


def test_format_0_under_tdes_is_the_dukpt_annex_block(capsys: pytest.CaptureFixture[str]) -> None:
    # X9.24-1:2009 A.4: format 0 of PIN 1234, PAN 4012345678909 under the counter-1 PIN key
    # (VARIANT_KEYS row 1) is the published encrypted PIN block 1B9C1845EB993A7A.
    pin_key = VARIANT_KEYS[0][0]
    pan = ["--pin", "1234", "--pan", "4012345678909"]
    built = ok(capsys, "pinblock", "build", "--format", "0", *pan, "--key", pin_key)
    assert built["pin_block"] == INITIAL_SEQUENCE[0][1]
    decoded = ok(
        capsys, "pinblock", "decode", "--format", "0", "--block", INITIAL_SEQUENCE[0][1],
        "--pan", "4012345678909", "--key", pin_key,
    )  # fmt: skip
    assert decoded["pin"] == "1234"


def test_format_4_under_aes(capsys: pytest.CaptureFixture[str]) -> None:
    # No published enciphered format 4 block: the CLI agrees with protocols.pinblock (whose
    # fields carry the openemv/dukpt vectors) and decodes its own block.
    key = "2B7E151628AED2A6ABF7158809CF4F3C"
    pan = "4111111111111111"
    fill = "1122334455667788"
    built = ok(
        capsys, "pinblock", "build", "--format", "4", "--pin", "2468013", "--pan", pan,
        "--key", key, "--fill", fill,
    )  # fmt: skip
    expected = encipher_iso4(bytes.fromhex(key), "2468013", pan, fill=bytes.fromhex(fill))
    assert built == {
        "format": 4,
        "algorithm": "aes",
        "enciphered": True,
        "pin_block": h(expected),
    }
    decoded = ok(
        capsys, "pinblock", "decode", "--format", "4", "--block", built["pin_block"],
        "--pan", pan, "--key", key,
    )  # fmt: skip
    assert decoded["pin"] == "2468013"
    random_one = ok(capsys, "pinblock", "build", "--format", "4", "--pin", "2468013",
                    "--pan", pan, "--key", key)  # fmt: skip
    assert random_one["pin_block"] != built["pin_block"]  # fresh random fill


# --- KCV ------------------------------------------------------------------------------


@pytest.mark.parametrize(("alg", "method", "key", "kcv", "source"), KCV_VECTORS)
def test_kcv_vectors(
    capsys: pytest.CaptureFixture[str],
    alg: Algorithm,
    method: KcvMethod,
    key: str,
    kcv: str,
    source: str,
) -> None:
    result = ok(capsys, "kcv", "--algorithm", alg.value, "--key", key, "--method", method.value)
    assert result["kcv"] == kcv, source


# --- TR-31 ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "kbpk", "block", "key", "kcv", "padding"), TR31_VECTORS, ids=TR31_IDS
)
def test_tr31_vectors(
    capsys: pytest.CaptureFixture[str],
    source: str,
    kbpk: str,
    block: str,
    key: str,
    kcv: str,
    padding: str,
) -> None:
    unwrapped = ok(capsys, "tr31", "unwrap", "--kbpk", kbpk, "--block", block)
    assert unwrapped["key"] == key, source
    assert unwrapped["kcv"][:6] == kcv, source  # openemv/tr31 gives 3 bytes
    assert unwrapped["header"]["version"] == block[0]
    header = block[:16]
    rewrapped = ok(
        capsys, "tr31", "wrap", "--kbpk", kbpk, "--header", _full_header(block),
        "--key", key, "--padding", padding,
    )  # fmt: skip
    assert rewrapped["key_block"] == block, source
    assert rewrapped["key_block"][:16] == header
    fresh = ok(capsys, "tr31", "wrap", "--kbpk", kbpk, "--header", _full_header(block),
               "--key", key)  # fmt: skip
    assert ok(capsys, "tr31", "unwrap", "--kbpk", kbpk, "--block", fresh["key_block"])["key"] == key


def _full_header(block: str) -> str:
    """The header with its optional blocks (the length field is recomputed by wrap)."""
    from protocols.tr31_header import parse_header

    _, _, length = parse_header(block)
    return block[:length]


def test_tr31_inspect_the_a73_block(capsys: pytest.CaptureFixture[str]) -> None:
    # TR-31:2018 A.7.3.1: a version C BDK block with a KS optional block; no key needed.
    block = TR31_VECTORS[2][2]
    assert TR31_VECTORS[2][0] == "TR-31:2018 A.7.3.1"
    result = ok(capsys, "tr31", "inspect", "--block", block)
    header = result["header"]
    assert (header["version"], header["key_usage"], header["key_usage_meaning"]) == (
        "C",
        "B0",
        "bdk",
    )
    assert (header["algorithm"], header["mode_of_use"], header["exportability"]) == ("T", "X", "S")
    assert header["key_version"] == "12"
    assert header["optional_blocks"] == [{"id": "KS", "data": "00604B120F9292800000"}]
    assert result["declared_length"] == result["actual_length"] == 96
    assert (result["header_length"], result["mac_chars"], result["mac"]) == (40, 8, "5D02155C")


# --- DUKPT ----------------------------------------------------------------------------

BDK_HEX = h(BDK)


def test_tdes_ipek(capsys: pytest.CaptureFixture[str]) -> None:
    # ANSI X9.24-1:2009 A.4: BDK 0123...3210, KSN FFFF9876543210E00000 -> IPEK 6AC292FA...
    result = ok(capsys, "dukpt", "ipek", "--bdk", BDK_HEX, "--ksn", IKSN.hex())
    assert result["ipek"] == h(IPEK)


def test_tdes_pin_blocks_of_the_initial_and_rollover_sequences(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # ANSI X9.24-1:2009 A.4.2 and A.4.3: PIN 1234, PAN 4012345678909, format 0.
    pin = ["--pin", "1234", "--pan", "4012345678909"]
    rows = [(IKSN.with_counter(n).hex(), k, b) for n, (k, b) in enumerate(INITIAL_SEQUENCE, 1)]
    for ksn, transaction_key, block in rows + ROLLOVER_SEQUENCE:
        result = ok(capsys, "dukpt", "pin", "--bdk", BDK_HEX, "--ksn", ksn, *pin)
        assert (result["ksn"], result["pin_block"]) == (ksn, block)
        key = ok(capsys, "dukpt", "key", "--ipek", h(IPEK), "--ksn", ksn, "--usage", "transaction")
        assert key["key"] == transaction_key, ksn


def test_tdes_working_keys(capsys: pytest.CaptureFixture[str]) -> None:
    # PIN, MAC request and data request keys of counters 1-5 (test_dukpt.VARIANT_KEYS:
    # shenyan1206/dukpt's tests, agreeing with other implementations).
    for counter, row in enumerate(VARIANT_KEYS, start=1):
        ksn = IKSN.with_counter(counter).hex()
        for usage, expected in zip(("pin", "mac", "data"), row, strict=True):
            result = ok(capsys, "dukpt", "key", "--bdk", BDK_HEX, "--ksn", ksn, "--usage", usage)
            assert result["key"] == expected, (counter, usage)


def test_aes_initial_keys(capsys: pytest.CaptureFixture[str]) -> None:
    # ANSI X9.24-3:2017 supplement (openemv/dukpt): initial keys of the AES-128/256 BDKs.
    r128 = ok(capsys, "dukpt", "ipek", "--aes", "--bdk", h(BDK128), "--ksn", IKID)
    assert (r128["scheme"], r128["initial_key"]) == ("aes128", h(IK128))
    r256 = ok(capsys, "dukpt", "ipek", "--scheme", "aes256", "--bdk", h(BDK256), "--ksn", IKID)
    assert (r256["scheme"], r256["initial_key"]) == ("aes256", h(IK256))


def _aes_ksn(counter: int) -> str:
    return f"{IKID}{counter:08X}"


@pytest.mark.parametrize(
    ("bdk", "table"), [(BDK128, DERIVATION_KEYS_128), (BDK256, DERIVATION_KEYS_256)]
)
def test_aes_intermediate_derivation_keys(
    capsys: pytest.CaptureFixture[str], bdk: bytes, table: dict[int, str]
) -> None:
    # ANSI X9.24-3:2017 supplement (openemv/dukpt): intermediate derivation keys.
    for counter, expected in list(table.items())[:6]:
        result = ok(
            capsys, "dukpt", "key", "--aes", "--bdk", h(bdk), "--ksn", _aes_ksn(counter),
            "--usage", "transaction",
        )  # fmt: skip
        assert result["key"] == expected, hex(counter)


_CLI_USAGE = {
    AesKeyUsage.KEY_ENCRYPTION: "kek",
    AesKeyUsage.PIN_ENCRYPTION: "pin",
    AesKeyUsage.MAC_GENERATION: "mac-generate",
    AesKeyUsage.MAC_VERIFICATION: "mac-verify",
    AesKeyUsage.MAC_BOTH: "mac-both",
    AesKeyUsage.DATA_ENCRYPT: "data-encrypt",
    AesKeyUsage.DATA_DECRYPT: "data-decrypt",
    AesKeyUsage.DATA_BOTH: "data-both",
}


def test_aes_working_keys(capsys: pytest.CaptureFixture[str]) -> None:
    # AES-128 BDK, counter 1, every usage (paysec-dukpt tests); AES-256 BDK, counter 1,
    # AES-128 and AES-256 working keys (X9.24-3 supplement as carried by test_dukpt_aes).
    ksn = _aes_ksn(1)
    for usage, expected in WORKING_KEYS_128_COUNTER_1.items():
        result = ok(
            capsys, "dukpt", "key", "--aes", "--bdk", h(BDK128), "--ksn", ksn,
            "--usage", _CLI_USAGE[usage],
        )  # fmt: skip
        assert result["key"] == expected, usage.name
    from_initial = ok(capsys, "dukpt", "key", "--aes", "--ipek", h(IK128), "--ksn", ksn)
    assert from_initial["key"] == WORKING_KEYS_128_COUNTER_1[AesKeyUsage.PIN_ENCRYPTION]
    for kind, pin, mac_key, data in WORKING_KEYS_256_COUNTER_1:
        for name, expected in (("pin", pin), ("mac", mac_key), ("data", data)):
            result = ok(
                capsys, "dukpt", "key", "--scheme", "aes256", "--bdk", h(BDK256), "--ksn", ksn,
                "--usage", name, "--key-type", kind.name.lower(),
            )  # fmt: skip
            assert result["key"] == expected, (kind.name, name)


def test_aes_dukpt_pin_block_is_format_4_under_the_pin_key(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # No published AES DUKPT PIN block: the block is format 4 under the published counter-1
    # PIN key, and decodes with it.
    ksn, fill, pan = _aes_ksn(1), "0102030405060708", "4111111111111111"
    result = ok(
        capsys, "dukpt", "pin", "--aes", "--bdk", h(BDK128), "--ksn", ksn, "--pin", "7305",
        "--pan", pan, "--fill", fill,
    )  # fmt: skip
    pin_key = WORKING_KEYS_128_COUNTER_1[AesKeyUsage.PIN_ENCRYPTION]
    expected = encipher_iso4(bytes.fromhex(pin_key), "7305", pan, fill=bytes.fromhex(fill))
    assert (result["format"], result["pin_block"]) == (4, h(expected))
    decoded = ok(capsys, "pinblock", "decode", "--format", "4", "--block", h(expected),
                 "--pan", pan, "--key", pin_key)  # fmt: skip
    assert decoded["pin"] == "7305"
    # A TDEA PIN key type gives a format 0 block under that key.
    tdea = ok(
        capsys, "dukpt", "pin", "--aes", "--bdk", h(BDK128), "--ksn", ksn, "--pin", "7305",
        "--pan", pan, "--key-type", "2tdea",
    )  # fmt: skip
    key = host_derive_working_key(BDK128, ksn, AesKeyUsage.PIN_ENCRYPTION, AesKeyType.TDEA2)
    assert tdea["format"] == 0
    back = ok(capsys, "pinblock", "decode", "--format", "0", "--block", tdea["pin_block"],
              "--pan", pan, "--key", h(key))  # fmt: skip
    assert back["pin"] == "7305"


# --- MAC ------------------------------------------------------------------------------


@pytest.mark.parametrize(("mac_alg", "key", "data", "padding", "mac", "source"), ISO9797_VECTORS)
def test_iso9797_mac_vectors(
    capsys: pytest.CaptureFixture[str],
    mac_alg: MacAlgorithm,
    key: str,
    data: str,
    padding: int,
    mac: str,
    source: str,
) -> None:
    name = mac_alg.value.replace("_", "-")
    base = ["mac", "--algorithm", "tdes", "--key", key, "--data", data, "--mac-algorithm", name]
    base += ["--padding", str(padding)]
    assert ok(capsys, *base, "--length", str(len(mac) // 2))["mac"] == mac, source
    assert ok(capsys, *base, "--verify", mac)["verified"] is True


@pytest.mark.parametrize(("alg", "key", "size", "tag", "source"), CMAC_VECTORS)
def test_cmac_vectors(
    capsys: pytest.CaptureFixture[str], alg: Algorithm, key: str, size: int, tag: str, source: str
) -> None:
    data = NIST_MESSAGE[: 2 * size]
    base = ["mac", "--algorithm", alg.value, "--key", key, "--data", data, "--mac-algorithm"]
    assert ok(capsys, *base, "cmac")["mac"] == tag, source


def test_a_mac_that_does_not_verify_exits_1(capsys: pytest.CaptureFixture[str]) -> None:
    key, data, mac = ISO9797_VECTORS[6][1], ISO9797_VECTORS[6][2], ISO9797_VECTORS[6][4]
    wrong = mac[:-1] + ("0" if mac[-1] != "0" else "1")
    status, result, err = crypto(
        capsys, "mac", "--algorithm", "tdes", "--key", key, "--data", data,
        "--mac-algorithm", "iso9797-3", "--verify", wrong,
    )  # fmt: skip
    assert (status, result["verified"], err) == (1, False, "")


# --- ciphers --------------------------------------------------------------------------


@pytest.mark.parametrize(("alg", "key", "plain", "cipher", "source"), ECB_VECTORS)
def test_ecb_vectors(
    capsys: pytest.CaptureFixture[str],
    alg: Algorithm,
    key: str,
    plain: str,
    cipher: str,
    source: str,
) -> None:
    # Includes the GB/T 32907-2016 SM4 example (reference §4.6, §7 #43) and FIPS 197.
    base = ["--algorithm", alg.value, "--mode", "ecb", "--key", key]
    assert ok(capsys, "encrypt", *base, "--data", plain)["data"] == cipher, source
    assert ok(capsys, "decrypt", *base, "--data", cipher)["data"] == plain, source


def test_cbc_vector_sp800_38a(capsys: pytest.CaptureFixture[str]) -> None:
    # NIST SP 800-38A F.2.1 CBC-AES128.Encrypt, first block.
    base = ["--algorithm", "aes", "--mode", "cbc", "--key", "2B7E151628AED2A6ABF7158809CF4F3C"]
    base += ["--iv", "000102030405060708090A0B0C0D0E0F"]
    plain, cipher = "6BC1BEE22E409F96E93D7E117393172A", "7649ABAC8119B246CEE98E9B12E9197D"
    assert ok(capsys, "encrypt", *base, "--data", plain)["data"] == cipher
    assert ok(capsys, "decrypt", *base, "--data", cipher)["data"] == plain


# --- bad input ------------------------------------------------------------------------

SECRET_KEY = "C0FFEE0123456789ABCDEF0123456789"
A72 = TR31_VECTORS[0]
# A version B block, MACed under SECRET_KEY by psec (which checks no algorithm), whose
# header says TDES (T) but whose key is 8 bytes (C0FFEE0123456789): authentic, yet invalid.
with oracle_warnings_ignored():
    SHORT_TDES_BLOCK = psec.tr31.wrap(
        bytes.fromhex(SECRET_KEY), "B0000P0TE00E0000", bytes.fromhex(SECRET_KEY[:16])
    )


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["tr31", "unwrap", "--kbpk", A72[1], "--block", A72[2][:-1] + "0"],
            "key block MAC does not verify",
        ),
        (["tr31", "unwrap", "--kbpk", A72[1], "--block", A72[2][:20]], "length"),
        (["tr31", "inspect", "--block", "X0072P0TE00E0000"], "version must be A, B, C or D"),
        (["tr31", "unwrap", "--kbpk", SECRET_KEY[:30], "--block", A72[2]], "KBPK"),
        (["kcv", "--algorithm", "tdes", "--key", SECRET_KEY[:14]], "tdes key must be"),
        (["kcv", "--algorithm", "aes", "--key", SECRET_KEY[:31]], "odd number of hex digits"),
        (["kcv", "--algorithm", "aes", "--key", "C0FFEEZZ"], "must be hex digits"),
        (
            ["pinblock", "build", "--format", "0", "--pin", "7305", "--pan", "54801234ABCD1234"],
            "PAN must be a string of decimal digits",
        ),
        (["pinblock", "build", "--format", "4", "--pin", "7305", "--pan", "5480"], "AES --key"),
        (["pinblock", "build", "--format", "0", "--pin", "12", "--pan", "5480123498761234"], "PIN"),
        (
            [
                "pinblock",
                "decode",
                "--format",
                "0",
                "--block",
                "0412AC89ABCDEF67",
                "--pan",
                "5480123498761234",
            ],
            "does not decode",
        ),
        (
            f"dukpt pin --bdk {SECRET_KEY} --ksn FFFF9876543210E0 --pin 7305 --pan 5480".split(),
            "KSN",
        ),
        (["dukpt", "ipek", "--aes", "--bdk", SECRET_KEY[:20], "--ksn", IKID], "AES DUKPT key"),
        (
            f"mac --algorithm tdes --key {SECRET_KEY}{SECRET_KEY[:16]} --data 00 "
            "--mac-algorithm iso9797-3".split(),
            "double-length",
        ),
        (
            f"encrypt --algorithm sm4 --mode ecb --key {SECRET_KEY} --data 0011".split(),
            "multiple of 16 bytes",
        ),
        (
            f"tr31 wrap --kbpk {SECRET_KEY} --header D0000P0TE00E0000 --key C0FFEE11".split(),
            "algorithm T (TDES) is 16 or 24 bytes, got 4",
        ),
        (
            [
                *("tr31", "wrap", "--kbpk", SECRET_KEY),
                *("--header", "B0000D0AB00E0000", "--key", SECRET_KEY[:16]),
            ],
            "algorithm A (AES) is 16, 24 or 32 bytes, got 8",
        ),
        (
            f"tr31 wrap --kbpk {SECRET_KEY} --header B0000D0DB00E0000 --key {SECRET_KEY}".split(),
            "algorithm D (DES) is 8 bytes, got 16",
        ),
        (
            ["tr31", "unwrap", "--kbpk", SECRET_KEY, "--block", SHORT_TDES_BLOCK],
            "does not fit its header",
        ),
        (
            f"encrypt --algorithm aes --mode ecb --key {SECRET_KEY} --data {'00' * 16} "
            f"--iv {'00' * 16}".split(),
            "ECB takes no --iv",
        ),
    ],
)
def test_bad_input_is_one_line_exit_2_without_the_key(
    capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    status, result, err = crypto(capsys, *argv)
    assert status == 2
    assert result == {}
    assert err.startswith("error: "), err
    assert err.count("\n") == 1, err
    assert message in err
    assert "Traceback" not in err
    for fragment in ("C0FFEE", "c0ffee", "7305"):
        assert fragment not in err


def test_with_json_an_error_is_a_json_object_and_without_it_one_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    argv = ["crypto", "kcv", "--algorithm", "aes", "--key", "00" * 5]
    assert main([*argv, "--json"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert set(json.loads(err)) == {"error"}
    assert main(argv) == 2
    out, err = capsys.readouterr()
    assert err.startswith("error: ")
    assert err.count("\n") == 1


def test_tr31_inspect_says_whether_the_length_field_is_right(
    capsys: pytest.CaptureFixture[str],
) -> None:
    block = TR31_VECTORS[2][2]
    assert ok(capsys, "tr31", "inspect", "--block", block)["length_ok"] is True
    padded = block + "00000000"  # 8 characters more than its length field says
    result = ok(capsys, "tr31", "inspect", "--block", padded)
    assert (result["declared_length"], result["actual_length"]) == (96, 104)
    assert result["length_ok"] is False


def test_argument_errors_are_one_line_and_do_not_echo_values(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as info:
        main(["crypto", "kcv", "--algorithm", "tdes"])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ")
    assert err.count("\n") == 1
    assert "--key" in err


def test_unrecognised_arguments_are_refused_without_echoing_them(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # A mistyped option followed by a key must not print the key.
    with pytest.raises(SystemExit) as info:
        main(["crypto", "kcv", "--algorithm", "tdes", "--key", "00" * 8, "--kye", SECRET_KEY])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err == "error: tellerhal crypto kcv: unrecognized arguments (see --help)\n"


def test_no_action_is_one_line_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["crypto"]) == 2
    assert capsys.readouterr().err == "error: tellerhal crypto: choose an action (see --help)\n"


def test_help_says_decode_is_for_test_keys(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["crypto", "pinblock", "decode", "--help"])
    assert "test keys" in capsys.readouterr().out


hex_ish = st.text(alphabet="0123456789ABCDEFabcdefXZ -", max_size=70)


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(key=hex_ish, data=hex_ish, alg=st.sampled_from(["tdes", "aes", "sm4"]))
def test_junk_hex_never_gives_a_traceback(
    capsys: pytest.CaptureFixture[str], key: str, data: str, alg: str
) -> None:
    for argv in (
        ["encrypt", "--algorithm", alg, "--mode", "cbc", f"--key={key}", f"--data={data}"],
        ["mac", "--algorithm", alg, f"--key={key}", f"--data={data}", "--mac-algorithm", "cmac"],
        ["kcv", "--algorithm", alg, f"--key={key}"],
    ):
        status, _, err = crypto(capsys, *argv)
        assert status in (0, 2)
        if status == 2:
            assert err.startswith("error: ")
            assert err.count("\n") == 1
