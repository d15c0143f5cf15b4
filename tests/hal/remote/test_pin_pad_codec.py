"""The PinPad over the remote, without sockets: every command payload, completion and
event through real frames (strict decoding) and back; bytes only as blobs; reprs that
show lengths; the routes from wire payloads to method calls."""

from __future__ import annotations

import dataclasses
import enum
import json
import types
import typing
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hal.device import DeviceState
from hal.devices.pin_pad import (
    CipherMode,
    DataEntryResult,
    EncryptionState,
    EnterData,
    EntryCompletion,
    IllegalKeyAccess,
    Initialized,
    KcvMethod,
    KeyAlgorithm,
    KeyDetail,
    KeyEvent,
    KeyState,
    KeyUsage,
    ModeOfUse,
    PinBlock,
    PinEntryResult,
    PinFormat,
    PinPadCapabilities,
    PinPadStatus,
)
from hal.errors import (
    DukptOverflow,
    KcvMismatch,
    KeyNotFound,
    KeyNoValue,
    UseViolation,
    error_class_for,
)
from hal.events import Event, StatusChanged
from hal.remote.codec import WireValueError, codec_for
from hal.remote.encoding import encode
from hal.remote.interfaces import (
    INTERFACES,
    PIN_PAD,
    ActivateKeyPayload,
    CryptoDataCompletion,
    CryptoDataPayload,
    DataEntryPayload,
    Empty,
    GenerateKcvPayload,
    GenerateMacPayload,
    GenerateRandomPayload,
    GetPinBlockPayload,
    ImportKeyBlockPayload,
    ImportKeyComponentPayload,
    ImportKeyPayload,
    KcvCompletion,
    KeyListCompletion,
    KeyNamePayload,
    MacCompletion,
    PinEntryPayload,
    RandomCompletion,
    VerifyMacCompletion,
    VerifyMacPayload,
)
from hal.remote.messages import (
    CLIENT_TYPES,
    SERVER_TYPES,
    Header,
    MessageType,
    decode,
)

# Distinctive values, to look for in the JSON frames and in reprs.
COMPONENT = bytes.fromhex("0123456789ABCDEFFEDCBA9876543210")
ENCIPHERED = bytes.fromhex("A1B2C3D4E5F60718293A4B5C6D7E8F90")
PAN = "4761739001010010"
KEY_BLOCK = "B0096P0TE00E0000" + "C3D4E5F6" * 10
DATA = b"attack at dawn!!"
KCV = bytes.fromhex("D5D44F")
KSN = bytes.fromhex("FFFF9876543210E00001")
MAC = bytes.fromhex("9B3B1C2D4E5F6071")
BLOCK = bytes.fromhex("1B5CE1ADA4F43D6A")

DETAIL = KeyDetail(
    "pin_key",
    KeyUsage.PIN,
    KeyAlgorithm.TDES,
    ModeOfUse.ENCRYPT,
    16,
    KCV,
    KeyState.LOADED,
    0,
    "00",
    KSN,
)

#: One command payload per PinPad command (Status and Capabilities take `Empty`).
PAYLOADS: dict[str, Any] = {
    "Keyboard.PinEntry": PinEntryPayload(4, 12, False, None, ("enter", "cancel")),
    "Keyboard.DataEntry": DataEntryPayload(6, True, ("one", "two", "enter"), ("enter",)),
    "PinPad.GetPinBlock": GetPinBlockPayload("pin_key", PinFormat.ISO0, PAN.encode(), 0x0F),
    "PinPad.SetPinBlockData": GetPinBlockPayload("pin_key", PinFormat.ISO4, PAN.encode(), 0x0F),
    "KeyManagement.ImportKeyComponent": ImportKeyComponentPayload(
        "kek", COMPONENT, KeyAlgorithm.TDES, KCV, KeyUsage.KEK, ModeOfUse.BOTH
    ),
    "KeyManagement.ActivateKey": ActivateKeyPayload("kek", KCV),
    "KeyManagement.ImportKey": ImportKeyPayload(
        "dukpt",
        ENCIPHERED,
        "kek",
        KeyUsage.INITIAL_DUKPT,
        KeyAlgorithm.TDES,
        ModeOfUse.DERIVE,
        KCV,
        KSN,
    ),
    "KeyManagement.ImportKeyBlock": ImportKeyBlockPayload("mac", KEY_BLOCK.encode(), "kbpk"),
    "KeyManagement.DeleteKey": KeyNamePayload("mac"),
    "KeyManagement.GetKeyDetail": KeyNamePayload("pin_key"),
    "KeyManagement.ListKeys": Empty(),
    "KeyManagement.GenerateKCV": GenerateKcvPayload("kek", KcvMethod.CMAC),
    "KeyManagement.Initialization": Empty(),
    "Crypto.CryptoData": CryptoDataPayload(
        "data", ModeOfUse.ENCRYPT, CipherMode.CBC, DATA, bytes(8)
    ),
    "Crypto.GenerateAuthentication": GenerateMacPayload("mac", DATA, 2),
    "Crypto.VerifyAuthentication": VerifyMacPayload("mac", DATA, MAC, 1),
    "Crypto.GenerateRandom": GenerateRandomPayload(16),
    "PinPad.Reset": Empty(),
    "Common.Status": Empty(),
    "Common.Capabilities": Empty(),
}

#: One completion per command that has one (the completion payload object).
COMPLETIONS: dict[str, Any] = {
    "Common.Status": PinPadStatus(DeviceState.BUSY, EncryptionState.READY, 3),
    "Common.Capabilities": PinPadCapabilities(firmware="1.0"),
    "Keyboard.PinEntry": PinEntryResult(5, EntryCompletion.ENTER, "enter"),
    "Keyboard.DataEntry": DataEntryResult("12.50", EntryCompletion.AUTO),
    "PinPad.GetPinBlock": PinBlock(BLOCK, PinFormat.ISO0, KSN),
    "KeyManagement.ImportKeyComponent": dataclasses.replace(
        DETAIL, kcv=b"", state=KeyState.CONSTRUCTING, components=1, ksn=b""
    ),
    "KeyManagement.ActivateKey": DETAIL,
    "KeyManagement.ImportKey": DETAIL,
    "KeyManagement.ImportKeyBlock": dataclasses.replace(DETAIL, version="12"),
    "KeyManagement.GetKeyDetail": DETAIL,
    "KeyManagement.ListKeys": KeyListCompletion((DETAIL, dataclasses.replace(DETAIL, name="z"))),
    "KeyManagement.GenerateKCV": KcvCompletion(KCV),
    "Crypto.CryptoData": CryptoDataCompletion(ENCIPHERED),
    "Crypto.GenerateAuthentication": MacCompletion(MAC),
    "Crypto.VerifyAuthentication": VerifyMacCompletion(True),
    "Crypto.GenerateRandom": RandomCompletion(DATA),
}

#: Bytes that must never appear in a JSON frame or a repr.
SECRETS = [COMPONENT, ENCIPHERED, PAN.encode(), KEY_BLOCK.encode(), DATA, MAC, BLOCK]


def _forms(secret: bytes) -> list[str]:
    out = [secret.hex(), secret.hex().upper()]
    if secret.isascii():
        out.append(secret.decode())
    return out


def _command_frames(name: str, payload: Any) -> tuple[list[bytes], Any]:
    """``payload`` as a command's frames, decoded back by the server's strict path."""
    command = PIN_PAD.commands[name]
    blobs: list[bytes] = []
    data = codec_for(command.payload).encode(payload, blobs)
    header = Header(MessageType.COMMAND, name, 7, timeout=0, device="pin_pad")
    frames = encode(header, data, blobs)
    message = decode(frames, accept=CLIENT_TYPES)
    back = codec_for(command.payload).decode(message.payload, message.blobs, "")
    return frames, back


def _completion_frames(name: str, completion: Any) -> tuple[list[bytes], Any]:
    """``completion`` as a success completion's frames, decoded back by the client's path."""
    command = PIN_PAD.commands[name]
    assert command.completion is not None
    blobs: list[bytes] = []
    data = codec_for(command.completion).encode(completion, blobs)
    header = Header(
        MessageType.COMPLETION,
        name,
        7,
        completion_code="success",
        device="pin_pad",
        session="0123456789abcdef",
    )
    frames = encode(header, data, blobs)
    message = decode(frames, accept=SERVER_TYPES)
    back = codec_for(command.completion).decode(message.payload, message.blobs, "")
    return frames, back


def test_the_pin_pad_interface_is_carried() -> None:
    assert INTERFACES["PinPad"] is PIN_PAD
    assert set(PIN_PAD.commands) == set(PAYLOADS)
    assert {c.name for c in PIN_PAD.commands.values() if c.completion is not None} == set(
        COMPLETIONS
    )


@pytest.mark.parametrize("name", sorted(PAYLOADS))
def test_every_command_payload_round_trips_through_frames(name: str) -> None:
    payload = PAYLOADS[name]
    frames, back = _command_frames(name, payload)
    assert back == payload
    json_frames = frames[0] + frames[1]
    for secret in SECRETS:
        for form in _forms(secret):
            assert form.encode() not in json_frames, (name, form)


@pytest.mark.parametrize("name", sorted(COMPLETIONS))
def test_every_completion_round_trips_through_frames(name: str) -> None:
    completion = COMPLETIONS[name]
    frames, back = _completion_frames(name, completion)
    assert back == completion
    command = PIN_PAD.commands[name]
    # What the client's method returns is what the server's method returned.
    result = completion
    if command.result_field is not None:
        result = getattr(completion, command.result_field)
    assert command.completion_of(result) == completion
    assert command.result_of(back) == result
    for secret in SECRETS:
        for form in _forms(secret):
            assert form.encode() not in frames[0] + frames[1], (name, form)


def test_bytes_travel_as_blob_frames() -> None:
    frames, _ = _command_frames(
        "KeyManagement.ImportKeyComponent", PAYLOADS["KeyManagement.ImportKeyComponent"]
    )
    assert json.loads(frames[1]) == {
        "name": "kek",
        "component": {"$blob": 0},
        "algorithm": "tdes",
        "kcv": {"$blob": 1},
        "usage": "K0",
        "modeOfUse": "B",
    }
    assert frames[2:] == [COMPONENT, KCV]
    frames, _ = _command_frames("PinPad.GetPinBlock", PAYLOADS["PinPad.GetPinBlock"])
    assert json.loads(frames[1]) == {
        "key": "pin_key",
        "format": "iso0",
        "customerData": {"$blob": 0},
        "padding": 15,
    }
    assert frames[2:] == [PAN.encode()]
    frames, _ = _completion_frames("PinPad.GetPinBlock", COMPLETIONS["PinPad.GetPinBlock"])
    assert json.loads(frames[1]) == {"block": {"$blob": 0}, "format": "iso0", "ksn": {"$blob": 1}}
    assert frames[2:] == [BLOCK, KSN]


@pytest.mark.parametrize(
    "value",
    [*PAYLOADS.values(), *COMPLETIONS.values()],
    ids=lambda v: type(v).__name__,
)
def test_reprs_show_lengths_not_values(value: Any) -> None:
    shown = repr(value)
    for secret in SECRETS:
        assert repr(secret) not in shown
        for form in _forms(secret):
            assert form not in shown, (type(value).__name__, form)


# --- routes: from a decoded payload to the method call -------------------------------


def test_get_pin_block_gives_the_method_the_pan_as_text() -> None:
    method, kwargs = PIN_PAD.commands["PinPad.GetPinBlock"].call_of(PAYLOADS["PinPad.GetPinBlock"])
    assert method == "get_pin_block"
    assert kwargs == {
        "key": "pin_key",
        "format": PinFormat.ISO0,
        "customer_data": PAN,
        "padding": 15,
    }


def test_set_pin_block_data_gives_the_method_the_pan_as_text() -> None:
    payload = PAYLOADS["PinPad.SetPinBlockData"]
    method, kwargs = PIN_PAD.commands["PinPad.SetPinBlockData"].call_of(payload)
    assert method == "set_pin_block_data"
    assert kwargs == {
        "key": "pin_key",
        "format": PinFormat.ISO4,
        "customer_data": PAN,
        "padding": 15,
    }


def test_import_key_block_gives_the_method_the_block_as_text() -> None:
    payload = PAYLOADS["KeyManagement.ImportKeyBlock"]
    method, kwargs = PIN_PAD.commands["KeyManagement.ImportKeyBlock"].call_of(payload)
    assert (method, kwargs) == (
        "import_key_block",
        {"name": "mac", "key_block": KEY_BLOCK, "kbpk": "kbpk"},
    )


@pytest.mark.parametrize(
    ("use", "method"), [(ModeOfUse.ENCRYPT, "encrypt"), (ModeOfUse.DECRYPT, "decrypt")]
)
def test_crypto_data_calls_encrypt_or_decrypt_by_its_mode_of_use(
    use: ModeOfUse, method: str
) -> None:
    payload = CryptoDataPayload("data", use, CipherMode.ECB, DATA, None)
    _, back = _command_frames("Crypto.CryptoData", payload)
    assert PIN_PAD.commands["Crypto.CryptoData"].call_of(back) == (
        method,
        {"key": "data", "data": DATA, "mode": CipherMode.ECB, "iv": None},
    )


def test_commands_without_a_route_call_their_method_with_the_fields() -> None:
    payload = PAYLOADS["KeyManagement.ImportKey"]
    method, kwargs = PIN_PAD.commands["KeyManagement.ImportKey"].call_of(payload)
    assert method == "import_key"
    assert kwargs == {f.name: getattr(payload, f.name) for f in dataclasses.fields(payload)}


# --- strict decoding ---------------------------------------------------------------------


def _wire(name: str) -> tuple[dict[str, Any], list[bytes]]:
    blobs: list[bytes] = []
    data = codec_for(PIN_PAD.commands[name].payload).encode(PAYLOADS[name], blobs)
    return data, blobs


@pytest.mark.parametrize("name", sorted(n for n, p in PAYLOADS.items() if type(p) is not Empty))
def test_a_payload_missing_a_field_is_refused(name: str) -> None:
    data, blobs = _wire(name)
    tp = PIN_PAD.commands[name].payload
    for key in data:
        partial = {k: v for k, v in data.items() if k != key}
        with pytest.raises(WireValueError, match=f"missing {key}"):
            codec_for(tp).decode(partial, blobs, "")


@pytest.mark.parametrize("name", sorted(PAYLOADS))
def test_a_payload_with_an_unknown_field_is_refused(name: str) -> None:
    data, blobs = _wire(name)
    with pytest.raises(WireValueError, match="unknown constructing"):
        codec_for(PIN_PAD.commands[name].payload).decode({**data, "constructing": True}, blobs, "")


def test_bytes_inside_json_are_refused_without_quoting_them() -> None:
    data, blobs = _wire("KeyManagement.ImportKey")
    with pytest.raises(
        WireValueError, match=r'value: expected bytes as \{"\$blob": N\}, got a string'
    ):
        codec_for(ImportKeyPayload).decode({**data, "value": ENCIPHERED.hex()}, blobs, "")
    data, blobs = _wire("PinPad.GetPinBlock")
    for pan in (PAN, [PAN], {"pan": PAN}, int(PAN)):
        with pytest.raises(WireValueError, match="customerData: expected bytes") as info:
            codec_for(GetPinBlockPayload).decode({**data, "customerData": pan}, blobs, "")
        assert PAN[:6] not in str(info.value)


def test_a_pan_or_a_key_block_that_is_not_ascii_is_refused_without_echo() -> None:
    data, _ = _wire("PinPad.GetPinBlock")
    with pytest.raises(WireValueError, match="customerData must be ASCII") as info:
        codec_for(GetPinBlockPayload).decode(data, ["4761é".encode()], "")
    assert "4761" not in str(info.value)
    data, _ = _wire("KeyManagement.ImportKeyBlock")
    with pytest.raises(WireValueError, match="keyBlock must be ASCII"):
        codec_for(ImportKeyBlockPayload).decode(data, [b"B0096\xff"], "")


@pytest.mark.parametrize("use", ["B", "C", "X", "e"])
def test_crypto_data_is_encrypt_or_decrypt_only(use: str) -> None:
    data, blobs = _wire("Crypto.CryptoData")
    with pytest.raises(WireValueError, match="modeOfUse"):
        codec_for(CryptoDataPayload).decode({**data, "modeOfUse": use}, blobs, "")


def test_a_key_event_with_a_digit_where_null_is_expected_type_checks() -> None:
    with pytest.raises(WireValueError, match="digit: expected a string"):
        PIN_PAD.decode_event("Keyboard.KeyEvent", {"completion": "continue", "digit": 5}, [])
    with pytest.raises(WireValueError, match="fields: missing digit"):
        PIN_PAD.decode_event("Keyboard.KeyEvent", {"completion": "continue"}, [])


# --- events --------------------------------------------------------------------------------

EVENTS: list[Event] = [
    EnterData(),
    KeyEvent(completion=EntryCompletion.CONTINUE, digit=None),
    KeyEvent(completion=EntryCompletion.ENTER, digit="enter"),
    KeyEvent(completion=EntryCompletion.CONTINUE, digit="five"),
    IllegalKeyAccess(key_name="mac", error_code="useViolation"),
    Initialized(),
]


@pytest.mark.parametrize("event", EVENTS, ids=repr)
def test_events_round_trip_by_their_xfs_name(event: Event) -> None:
    blobs: list[bytes] = []
    name, payload = PIN_PAD.encode_event(event, blobs)
    assert name == event.xfs_name
    header = Header(MessageType.EVENT, name, 3, device="pin_pad", seq=1)
    message = decode(encode(header, payload, blobs), accept=SERVER_TYPES)
    assert PIN_PAD.decode_event(message.header.name, message.payload, message.blobs) == event


def test_a_pin_mode_key_event_carries_digit_null() -> None:
    name, payload = PIN_PAD.encode_event(KeyEvent(digit=None), [])
    assert (name, payload) == ("Keyboard.KeyEvent", {"completion": "continue", "digit": None})
    name, payload = PIN_PAD.encode_event(
        IllegalKeyAccess(key_name="mac", error_code="useViolation"), []
    )
    assert (name, payload) == (
        "KeyManagement.IllegalKeyAccessEvent",
        {"keyName": "mac", "errorCode": "useViolation"},
    )


def test_status_changed_travels_as_the_delta() -> None:
    old = PinPadStatus(DeviceState.ONLINE, EncryptionState.NOT_INITIALIZED, 0)
    new = PinPadStatus(DeviceState.ONLINE, EncryptionState.READY, 2)
    event = StatusChanged(old=old, new=new, changed=frozenset({"encryption_state", "keys"}))
    name, payload = PIN_PAD.encode_event(event, [])
    assert name == "Common.StatusChangedEvent"
    assert payload == {
        "encryptionState": "ready",
        "keys": 2,
        "old": {"device": "online", "encryptionState": "notInitialized", "keys": 0},
    }
    assert PIN_PAD.decode_event(name, payload, []) == event


def test_card_reader_events_are_not_pin_pad_events() -> None:
    with pytest.raises(WireValueError, match="not an event of PinPad"):
        PIN_PAD.decode_event("CardReader.MediaRemovedEvent", {}, [])


# --- errors ------------------------------------------------------------------------------


@pytest.mark.parametrize("cls", [KeyNotFound, KeyNoValue, UseViolation, KcvMismatch, DukptOverflow])
def test_key_errors_come_back_as_their_class(cls: type[Any]) -> None:
    error = cls("x")
    assert error_class_for(error.completion.value, error.error_code) is cls


# --- properties ----------------------------------------------------------------------------

_INT = st.integers(-(2**63), 2**63 - 1)
_DIGITS = st.text("0123456789", max_size=19).map(str.encode)
_KEY_BLOCK = st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=120).map(
    str.encode
)

#: Fields whose values a payload's own checks restrict.
_FIELD_OVERRIDES: dict[tuple[type[Any], str], st.SearchStrategy[Any]] = {
    (GetPinBlockPayload, "customer_data"): _DIGITS,
    (ImportKeyBlockPayload, "key_block"): _KEY_BLOCK,
    (CryptoDataPayload, "mode_of_use"): st.sampled_from([ModeOfUse.ENCRYPT, ModeOfUse.DECRYPT]),
}


def _strategy(tp: Any) -> st.SearchStrategy[Any]:
    """Any value of ``tp`` the codec carries (ints within the wire's range)."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        return st.one_of(*(_strategy(a) for a in args))
    if tp is type(None) or tp is None:
        return st.none()
    if tp is bool:
        return st.booleans()
    if tp is int:
        return _INT
    if tp is str:
        return st.text(max_size=20)
    if tp is bytes:
        return st.binary(max_size=40)
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return st.sampled_from(list(tp))
    if origin is tuple:
        return st.lists(_strategy(args[0]), max_size=4).map(tuple)
    if origin is frozenset:
        return st.frozensets(_strategy(args[0]), max_size=4)
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        hints = typing.get_type_hints(tp)
        fields = {
            f.name: _FIELD_OVERRIDES[tp, f.name]
            if (tp, f.name) in _FIELD_OVERRIDES
            else _strategy(hints[f.name])
            for f in dataclasses.fields(tp)
            if f.init
        }
        return st.builds(tp, **fields)
    raise TypeError(f"no strategy for {tp!r}")


_PAYLOAD_TYPES = sorted(
    {c.payload for c in PIN_PAD.commands.values()}
    | {c.completion for c in PIN_PAD.commands.values() if c.completion is not None},
    key=lambda t: t.__name__,
)


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(_PAYLOAD_TYPES).flatmap(_strategy))
def test_any_payload_or_completion_round_trips_through_frames(value: Any) -> None:
    codec = codec_for(type(value))
    blobs: list[bytes] = []
    data = codec.encode(value, blobs)
    header = Header(MessageType.COMMAND, "PinPad.Any", 1, timeout=0, device="pin_pad")
    message = decode(encode(header, data, blobs), accept=CLIENT_TYPES)
    assert codec.decode(message.payload, message.blobs, "") == value


@settings(max_examples=100, deadline=None)
@given(
    st.one_of(
        st.builds(EnterData),
        st.builds(
            KeyEvent,
            completion=st.sampled_from(list(EntryCompletion)),
            digit=st.none() | st.text(max_size=10),
        ),
        st.builds(IllegalKeyAccess, key_name=st.text(max_size=64), error_code=st.text()),
        st.builds(Initialized),
    )
)
def test_any_event_round_trips(event: Event) -> None:
    blobs: list[bytes] = []
    name, payload = PIN_PAD.encode_event(event, blobs)
    header = Header(MessageType.UNSOLICITED, name, device="pin_pad", seq=1)
    message = decode(encode(header, payload, blobs), accept=SERVER_TYPES)
    assert PIN_PAD.decode_event(name, message.payload, message.blobs) == event


def test_every_pin_pad_method_has_a_command() -> None:
    from hal.devices.pin_pad import PinPad

    wire = {c.method for c in PIN_PAD.commands.values()} | {"decrypt"}  # CryptoData 'D'
    local = {"name", "open", "close", "events"}
    assert set(PinPad.__abstractmethods__) - local == wire
