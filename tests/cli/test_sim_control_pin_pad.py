"""``tellerhal sim-control`` on a PIN pad of a real ``tellerhal sim`` process: an app
runs a PIN entry over ``zmq://`` while ``sim-control type-pin`` (or ``press-keys``)
types; the app's PIN block deciphers to what was typed, and the digits themselves
appear in no output and no log, only their count."""

from __future__ import annotations

import asyncio
import concurrent.futures
import io
import json
import logging
from pathlib import Path

import pytest

import hal
from hal.devices.pin_pad import (
    EntryCompletion,
    KeyAlgorithm,
    KeyUsage,
    ModeOfUse,
    PinEntryResult,
    PinFormat,
    PinPad,
)
from protocols import crypto_primitives as prim
from protocols import pinblock
from protocols.kcv import compute_kcv
from tellerhal.cli.main import main
from tellerhal.cli.sim_control import KEY_NAMES
from tests.sim_process import sim

TDES = KeyAlgorithm.TDES
COMPONENT_1 = bytes.fromhex("3B6A0D2C91E4F5078A9C2E1D4B7F6053")
COMPONENT_2 = bytes.fromhex("C41F28E7065DB3A9F2E05C8D7A163B4E")
KEK = prim.xor_bytes(COMPONENT_1, COMPONENT_2)
PIN_KEY = bytes.fromhex("5E2A9C07D1B4F3688F0C1E6A2D4B9753")
PAN = "4761739001010010"
PIN = "860527"  # distinctive: no run, no repeat

SCENARIO = "version = 1\nclock_scale = 0.005\n\n[devices.pin_pad]\npin_max = 12\n"


def _control(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    status = main(["sim-control", *args])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


async def _load_keys(pad: PinPad) -> None:
    for component in (COMPONENT_1, COMPONENT_2):
        await pad.import_key_component(
            "kek", component, algorithm=TDES, kcv=compute_kcv(TDES, component)
        )
    await pad.activate_key("kek", kcv=compute_kcv(TDES, KEK))
    await pad.import_key(
        "pin",
        prim.encrypt_ecb(TDES, KEK, PIN_KEY),
        kek="kek",
        usage=KeyUsage.PIN,
        algorithm=TDES,
        mode_of_use=ModeOfUse.ENCRYPT,
        kcv=compute_kcv(TDES, PIN_KEY),
    )


async def _entry_and_pin(address: str, load: bool) -> tuple[PinEntryResult, str]:
    """The app: one PIN entry over zmq://, then the PIN its block deciphers to."""
    async with hal.open(address) as pad:
        assert isinstance(pad, PinPad)
        if load:
            await _load_keys(pad)
        result = await pad.pin_entry(timeout=10)
        block = await pad.get_pin_block("pin", format=PinFormat.ISO0, customer_data=PAN)
        return result, pinblock.decipher_pin_block(0, PIN_KEY, block.block, PAN)


def test_an_app_enters_a_pin_that_sim_control_types(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    caplog.set_level(logging.DEBUG)
    scenario = tmp_path / "pad.toml"
    scenario.write_text(SCENARIO)
    with sim(tmp_path / "sim", str(scenario)) as proc:
        rf = str(proc.ready_file)
        address = proc.address("pin_pad")
        assert _control(capsys, "--ready-file", rf, "entry-active")[:2] == (
            0,
            '{"ok": true, "active": false}\n',
        )
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            # The app waits in its entry; type-pin waits (up to --timeout) for it.
            app = pool.submit(asyncio.run, _entry_and_pin(address, load=True))
            status, out, err = _control(
                capsys, "--ready-file", rf, "type-pin", PIN, "--timeout", "5"
            )
            result, pin = app.result(timeout=15)
        assert (status, err) == (0, ""), err
        assert json.loads(out) == {"ok": True, "digits": 6, "enter": True}
        assert (result.digits, result.completion) == (6, EntryCompletion.ENTER)
        assert pin == PIN

        # press-keys by name; the digits read from standard input by 'type-pin -'.
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            app = pool.submit(asyncio.run, _entry_and_pin(address, load=False))
            keys = ["four", "zero", "nine", "one", "backspace", "three", "enter"]
            status, out, err = _control(
                capsys, "--control", proc.control, "--device", "pin_pad", "press-keys", *keys
            )
            result, pin = app.result(timeout=15)
        assert (status, out, err) == (0, '{"ok": true, "pressed": 7}\n', "")
        assert (result.digits, pin) == (4, "4093")
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            app = pool.submit(asyncio.run, _entry_and_pin(address, load=False))
            monkeypatch.setattr("sys.stdin", io.StringIO(PIN[::-1] + "\n"))
            status, out, err = _control(capsys, "--ready-file", rf, "type-pin", "-")
            result, pin = app.result(timeout=15)
        assert (status, out, err) == (0, '{"ok": true, "digits": 6, "enter": true}\n', "")
        assert pin == PIN[::-1]

        # Nobody asks for a PIN: the keys wait, then give up, saying how many went in.
        status, out, err = _control(capsys, "--ready-file", rf, "type-pin", PIN, "--timeout", "0.2")
        assert (status, out) == (1, "")
        assert err.startswith("tellerhal sim-control: HalTimeout: pin_pad: no entry took")
        assert "0 of 7 pressed" in err
        # A name XFS4IoT has but this keyboard lacks: the simulator refuses it.
        status, _, err = _control(capsys, "--ready-file", rf, "press-keys", "seven", "help")
        assert status == 1
        assert "InvalidData" in err
        assert "no key 'help'" in err
        # The PIN pad commands on a card reader: refused, not misapplied.
        status, _, err = _control(
            capsys, "--ready-file", rf, "--device", "card_reader", "entry-active"
        )
        assert status == 1
        assert "no device 'card_reader'" in err
        assert proc.stop() == 0
        sim_err = proc.err
    assert "Traceback" not in sim_err
    texts = [sim_err, *(record.getMessage() for record in caplog.records)]
    for secret in (PIN, PIN[::-1], PIN.encode().hex()):
        for text in texts:
            assert secret not in text


def test_bad_keys_and_digits_are_refused_before_anything_is_sent(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # No simulator at this address: each refusal below comes before any connection.
    nowhere = ("--control", "tcp://127.0.0.1:1", "--timeout", "0.2")
    status, out, err = _control(capsys, *nowhere, "press-keys", "seven", "sevn", "okay")
    assert (status, out) == (2, "")
    assert err.startswith("tellerhal sim-control: press-keys: no key named 'okay', 'sevn'; ")
    assert err.rstrip().endswith("the keys are " + ", ".join(KEY_NAMES))
    # Digits typed as keys may be a PIN: counted, never quoted.
    status, _, err = _control(capsys, *nowhere, "press-keys", "8", "6", "05", "enter")
    assert status == 2
    assert "3 key(s) with digits in them are not key names" in err
    for digit in "865":
        assert f"'{digit}" not in err
    status, _, err = _control(capsys, *nowhere, "type-pin", "86O5")
    assert (status, err) == (2, "tellerhal sim-control: a PIN is typed as ASCII digits only\n")
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    assert _control(capsys, *nowhere, "type-pin", "-")[:3:2] == (
        2,
        "tellerhal sim-control: type-pin -: no digits on standard input\n",
    )
    # The pad's 64-key limit, and the wire's device-name rule.
    status, _, err = _control(capsys, *nowhere, "type-pin", "1" * 64)
    assert status == 2
    assert "keys must be 1 to 64 key names, got 65" in err
    assert _control(capsys, *nowhere, "--device", "Pad", "entry-active")[0] == 2
    # Well-formed, but nothing answers: a connection error, named as such.
    status, _, err = _control(capsys, *nowhere, "entry-active")
    assert status == 1
    assert err == (
        "tellerhal sim-control: ConnectionLost: tcp://127.0.0.1:1: cannot send "
        "Control.EntryActive within 0.2 s\n"
    )
