"""The control socket's payloads: what their repr shows (no key a customer pressed)."""

from __future__ import annotations

import dataclasses
import logging

import pytest

from hal.devices.pin_pad import DIGIT_KEYS
from hal.remote.codec import codec_for
from simulator.control_commands import COMMANDS, PressKeysPayload

PIN = "8305"
KEYS = (*(DIGIT_KEYS[int(d)] for d in PIN), "enter")


def test_press_keys_repr_shows_the_count_only(caplog: pytest.LogCaptureFixture) -> None:
    payload = PressKeysPayload(KEYS, 2.5)
    with caplog.at_level(logging.DEBUG):
        logging.getLogger("test.control").debug("sending %r / %s", payload, payload)
    for text in (repr(payload), str(payload), f"{payload!r}", caplog.text):
        assert "5 keys" in text
        for name in {*KEYS, "zero", "one", "two", "three", "four"}:
            assert name not in text, (name, text)
        assert PIN not in text
    assert "timeout=2.5" in repr(payload)


def test_press_keys_still_compares_and_travels_by_value() -> None:
    payload = PressKeysPayload(KEYS, 1.0)
    assert payload == PressKeysPayload(KEYS, 1.0)
    assert payload != PressKeysPayload(KEYS[:-1], 1.0)
    codec = codec_for(PressKeysPayload)
    blobs: list[bytes] = []
    assert codec.decode(codec.encode(payload, blobs), blobs, "payload") == payload


@pytest.mark.parametrize("too_many", [0, 65])
def test_a_refused_press_keys_names_no_key(too_many: int) -> None:
    keys = tuple(DIGIT_KEYS[i % 10] for i in range(too_many))
    with pytest.raises(ValueError, match="key names") as caught:
        PressKeysPayload(keys, 1.0)
    assert not any(name in str(caught.value) for name in DIGIT_KEYS)


def test_no_payload_that_carries_keys_or_a_pin_has_the_default_repr() -> None:
    """Every control payload with a field for keys or a PIN overrides the repr."""
    carrying = []
    for command in COMMANDS.values():
        payload = command.payload
        if not dataclasses.is_dataclass(payload):
            continue
        names = {field.name for field in dataclasses.fields(payload)}
        if names & {"keys", "key", "pin", "digits"}:
            carrying.append(payload)
            assert "__repr__" in vars(payload), payload
            assert payload.__dataclass_params__.repr is False  # type: ignore[attr-defined]
    assert PressKeysPayload in carrying
