"""Cardholder data never reaches a repr(), a str() or an error message (DESIGN "Security rules").

Every public dataclass that can hold card data is built here around a real-shaped PAN,
name and track, and its ``repr()``/``str()`` searched for them in every form they could
take (ASCII, hex of the ASCII, BCD hex). A guard makes any new dataclass with a
``bytes`` field choose: tested here, or listed as holding no cardholder data. Parsers
given the same card data, corrupted, must not quote it in their errors.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import pkgutil
from collections.abc import Iterator
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pytest
import zmq
from hypothesis import given, settings
from hypothesis import strategies as st

from hal.devices.card_reader import CardData, DataStatus, ReadResult, Track
from hal.devices.pin_pad import PinFormat
from hal.remote import interfaces as remote
from hal.remote.messages import Header, Message, MessageType
from hal.remote.security import CurveClientKeys, CurveServerKeys
from hal.remote.sessions import Outcome, Request, ServerSession
from hal.stimulus import CardSample
from protocols import apdu, crt310, crt591, pinblock, tlv, tracks, zt588
from protocols.errors import HalError, ProtocolError
from simulator.models.card_mechanism import Card
from simulator.profiles import CardProfile, EmvRecord, load_card_profile, load_card_profile_file
from tellerhal.emv import EmvApplication as AppListing
from tellerhal.emv import EmvReadout

PAN = "4761739001010010"
NAME = "DOE/JOHN"
TRACK1 = f"B{PAN}^{NAME}^28122011000012300000"
TRACK2 = f"{PAN}=28122011000012300000"
TRACK3 = f"01{PAN}==000000000000000000000000000000"


def forms(secret: str) -> set[str]:
    """The ways a secret can show up in text: as is, and as hex of its ASCII."""
    raw = secret.encode("ascii")
    return {secret, raw.hex(), raw.hex().upper(), raw.hex(" ").upper(), repr(raw)[2:-1]}


# The PAN also travels as BCD (tag 5A): its bytes repr escapes differ from the ASCII's.
SECRETS = (
    forms(PAN) | forms(NAME) | forms(TRACK2[len(PAN) + 1 :]) | {repr(bytes.fromhex(PAN))[2:-1]}
)


def assert_hidden(text: str) -> None:
    leaked = sorted(secret for secret in SECRETS if secret in text)
    assert not leaked, f"{leaked} in {text!r}"


def _apdu_record() -> bytes:
    return tlv.Tlv(
        0x70,
        tlv.build(
            [
                tlv.Tlv(0x57, bytes.fromhex(PAN + "D28122011000012300000F")),
                tlv.Tlv(0x5A, bytes.fromhex(PAN)),
                tlv.Tlv(0x5F20, NAME.encode()),
            ]
        ),
    ).to_bytes()


def _card_data_holders() -> Iterator[object]:
    """One instance of every public dataclass that can hold cardholder data."""
    t1, t2, t3 = TRACK1.encode(), TRACK2.encode(), TRACK3.encode()
    record = _apdu_record()
    yield tracks.RawTrack(2, TRACK2)
    yield tracks.read_track(1, "%" + TRACK1 + "?")
    yield tracks.parse_track1(TRACK1)
    yield tracks.parse_track2(TRACK2)
    yield tracks.parse_track3(TRACK3)
    yield tlv.Tlv(0x5A, bytes.fromhex(PAN))
    yield tlv.Tlv(0x70, record[2:])
    yield apdu.CommandApdu(0x00, 0x20, 0x00, 0x80, bytes.fromhex("24" + PAN[:6] + "FFFFFFFF"))
    yield apdu.parse_response(record + b"\x90\x00")
    frame = crt310.parse_frame(
        crt310.build_track_reply([crt310.TrackRecord(2, crt310.TrackStatus.OK, t2)])
    )
    yield frame
    yield crt310.decode_reply(frame)
    yield crt310.TrackRecord(1, crt310.TrackStatus.OK, t1)
    yield crt310.BadFrame(crt310.BadFrameReason.BCC, frame.to_bytes()[:-1] + b"\x00")
    yield crt310.decode_command(crt310.Frame(0x37, 0x32, len(record).to_bytes(2, "big") + record))
    yield crt310.ApduReply(crt310.Command.APDU_T1, crt310.OperationStatus.SUCCESS, record)
    yield crt310.PlainReply(crt310.Command.SLE4442, 0x30, t2)
    capdu = crt591.Request(0x51, crt591.CpuOperation.APDU_T1, bytes.fromhex("00DC010C") + record)
    frame591 = crt591.parse_frame(crt591.build_frame(crt591.encode_text(capdu)))
    yield frame591
    yield crt591.decode_frame(frame591)
    yield crt591.BadFrame(crt591.BadFrameReason.BCC, frame591.to_bytes()[:-1] + b"\x00")
    yield crt591.Reply(
        0x51,
        crt591.CpuOperation.APDU_T1,
        crt591.CardStatus.AT_POSITION,
        crt591.StackerStatus.ENOUGH,
        crt591.BinStatus.NOT_FULL,
        record + b"\x90\x00",
    )
    yield crt591.CpuResetData(t1=True, atr=t2)  # an ATR; hidden whatever it holds
    yield pinblock.build_format4_fields("7305", PAN)  # ISO 9564 format 4 plain fields
    # ZT588 PIN pad: a PAN in a start-PIN-entry (as a frame, a bad frame, a clear-PIN
    # request), and the PAN as the bytes of every field that may hold a key or a block.
    pin_text = zt588.StartPinEntry(0x40, zt588.PinFormat.ISO9564_0, 0, 4, PAN).encode()
    yield zt588.Frame(pin_text)
    yield zt588.decode_command(zt588.Frame(pin_text))
    yield zt588.ClearPinRequest(0x40, 0, 4, PAN)
    yield zt588.BadFrame(zt588.BadFrameReason.CHECKSUM, b"\x02" + pin_text, "CHK is 30 30")
    pan_bytes = bytes.fromhex(PAN)
    yield zt588.LoadPlainKey(0x80, zt588.KeyType.IMK, pan_bytes)
    yield zt588.LoadEncryptedKey(0x40, 0x00, zt588.KeyType.TPK, pan_bytes)
    yield zt588.Authenticate(0x91, pan_bytes)
    yield zt588.PinBlockReply(0x37, 2, 4, pan_bytes)
    yield zt588.AuthReply(0x3A, pan_bytes)
    yield zt588.Ack(0x36, PAN.encode())
    yield zt588.ErrorReply(0xE9, PAN.encode())
    yield CardData(DataStatus.OK, t2)
    yield ReadResult(
        {Track.TRACK1: CardData(DataStatus.OK, t1), Track.TRACK2: CardData(DataStatus.OK, t2)}
    )
    yield CardSample("visa", t1, t2, t3, has_chip=True, pan=PAN)
    profile = CardProfile(
        "visa",
        "a card",
        MappingProxyType({Track.TRACK1: t1, Track.TRACK2: t2, Track.TRACK3: t3}),
    )
    yield profile
    yield Card(profile)
    yield EmvRecord(sfi=1, record=1, data=record[2:])
    listing = AppListing(aid=bytes.fromhex("A0000000031010"), label="VISA CREDIT")
    yield EmvReadout((listing,), listing, PAN, "281231", 3, 9, track2_equivalent_pan=PAN)
    # The ZeroMQ remote: payloads, completions and the messages carrying them as blobs.
    yield remote.WriteRawDataPayload({Track.TRACK1: t1, Track.TRACK2: t2})
    yield remote.ChipIOPayload(bytes.fromhex("00DC010C") + bytes((len(record),)) + record)
    yield remote.ChipIOCompletion(record + b"\x90\x00")
    yield remote.GetPinBlockPayload("pin_key", PinFormat.ISO0, PAN.encode(), 0x0F)
    header = Header(type=MessageType.COMMAND, name="CardReader.WriteRawData", request_id=1)
    yield Message(header, {"data": {"track2": {"blob": 0}}}, (t2, record))
    outcome = Outcome("success", result=record + b"\x90\x00")  # what chip_io returned
    yield outcome
    session = ServerSession(routing_id=b"\x00peer", id="s1", last_seen=0.0)
    command = remote.CARD_READER.commands["CardReader.ChipIO"]
    request = Request(session, 7, command.name, "card_reader", command, outcome=outcome)
    request.backlog.append(("CardReader.ChipIO", {"apdu": {"blob": 0}}, [record]))
    session.requests[7] = request
    yield request
    yield session
    # The ID scanner: its byte-holding values with card data in every byte and text field
    # (their reprs show kinds, sizes and masked forms only).
    yield from _id_scanner_holders(t1, t2)
    # The camera: a frame, a picture and its remote completion with card data as pixels
    # (their reprs show the encoding, size and measures only).
    yield from _camera_holders(t2)
    # The printer: a raw job holding track data (its repr shows the size only).
    yield remote.PrintRawPayload(t2)


def _camera_holders(t2: bytes) -> Iterator[object]:
    import datetime as dt

    from hal.devices.camera import (
        CameraPosition,
        Frame,
        FrameEncoding,
        Picture,
        PictureFormat,
        QualityReport,
    )
    from hal.remote.interfaces_camera import PictureCompletion

    when = dt.datetime(2026, 11, 29, tzinfo=dt.UTC)
    yield Frame(t2, FrameEncoding.JPEG, 10, 10, when)
    picture = Picture(
        t2, PictureFormat.JPEG, 10, 10, when, CameraPosition.PERSON, QualityReport(1.0, 2.0, 3.0)
    )
    yield picture
    yield PictureCompletion.of(picture)


def _id_scanner_holders(t1: bytes, t2: bytes) -> Iterator[object]:
    from hal.devices.id_scanner import (
        DocumentKind,
        Fingerprint,
        IdentityDocument,
        ImageFormat,
        ImageSide,
        Photo,
        ScannedImage,
    )
    from hal.remote.interfaces_id_scanner import DocumentCompletion

    photo = Photo(t2, ImageFormat.WLT)
    print_ = Fingerprint(11, t1)
    yield photo
    yield print_
    yield ScannedImage(ImageSide.FRONT, t2, ImageFormat.JPEG, 10, 10)
    document = IdentityDocument(
        kind=DocumentKind.PASSPORT,
        name_latin=NAME,
        document_number=PAN,
        address=TRACK2,
        mrz=(TRACK1,),
        photo=photo,
        fingerprints=(print_,),
        raw={"track": TRACK2},
    )
    yield DocumentCompletion.of(document)


CARD_DATA_HOLDERS = list(_card_data_holders())


@pytest.mark.parametrize("holder", CARD_DATA_HOLDERS, ids=lambda h: type(h).__name__)
def test_repr_and_str_hide_card_data(holder: object) -> None:
    assert_hidden(repr(holder))
    assert_hidden(str(holder))
    assert_hidden(f"{holder}")


def test_shipped_profiles_print_no_card_data() -> None:
    visa = load_card_profile("visa")
    assert visa.pan is not None
    for shown in (repr(visa), repr(visa.chip), repr(visa.sample()), repr(Card(visa))):
        assert visa.pan not in shown
        for data in visa.tracks.values():
            assert data.decode() not in shown


# Dataclasses with bytes (or card text) fields that hold no cardholder data.
NOT_CARDHOLDER_DATA = {
    "protocols.print_document.Image": "a raster image to print on a receipt (a logo, a "
    "QR code rendered by the app); its repr shows the size only",
    "protocols.samv_frames.CommandFrame": "a SAM_V command: CMD PARA and (rarely) settings bytes; "
    "repr shows the DATA's length only",
    "protocols.samv_frames.ReplyFrame": "a SAM_V reply: ID-card personal data, no payment card "
    "data; repr shows the DATA's length only (tests/protocols/test_samv.py)",
    "protocols.samv_bodies.BaseMessage": "a chip's text, photo and fingerprint blocks: ID-card "
    "personal data, no payment card data; repr shows sizes only (tests/protocols/test_samv.py)",
    "simulator.wire.samv_firmware.ChipCard": "a simulated ID card's chip (synthetic people "
    "only); its repr shows the document's masked repr, never the photo or fingerprints",
    "protocols.lcdm.Frame": "a cash dispenser frame: note counts, error codes, sensor bits",
    "protocols.ssp.Frame": "an ITL SSP frame: commands, events, channels; encrypted DATA is "
    "never shown by its repr",
    "protocols.ssp.BadFrame": "bytes of an ITL SSP line; its repr shows only the length",
    "protocols.id003.Frame": "a bill validator frame: statuses, denomination codes, settings",
    "protocols.id003.BadFrame": "bytes of a bill validator line: statuses and settings",
    "protocols.id003_messages.Command": "a bill validator command: settings bytes",
    "protocols.id003_messages.Echo": "a bill validator setting echo: settings bytes",
    "protocols.id003_messages.TextReply": "a bill validator version or currency table text",
    "protocols.lcdm_commands.Command": "a cash dispenser command: counts and set-up bytes",
    "protocols.lcdm_replies.RawReply": "a cash dispenser reply: counts, codes, sensor bits",
    "simulator.profiles.EmvApplication": "AID, label, PDOL, AIP, AFL: the card's product",
    "simulator.profiles.ChipProfile": "ATRs and applications: the chip's product",
    "protocols.crt310_replies.CpuResetReply": "an ATR: the chip's product (repr hides it too)",
    "hal.remote.interfaces_card_reader.ChipPowerCompletion": "an ATR: the chip's product",
    "hal.transports.pcsc_types.ReaderState": "an ATR: the chip's product (repr shows its length)",
    "hal.remote.codec.Codec": "a pair of functions: holds no data",
    "hal.remote.security.CurveServerKeys": "CURVE keys (repr hides the secret: tested below)",
    "hal.remote.security.CurveClientKeys": "CURVE keys (repr hides the secret: tested below)",
    "tellerhal.emv.EmvApplication": "AID and label from the card's directory",
    # The PinPad over the remote: keys, data and MACs, no card data (each repr shows
    # lengths: tests/hal/remote/test_pin_pad_codec.py).
    **{
        f"hal.remote.interfaces_pin_pad.{name}": "keys, data, MACs or KCVs; repr shows lengths"
        for name in (
            "ImportKeyComponentPayload",
            "ActivateKeyPayload",
            "ImportKeyPayload",
            "ImportKeyBlockPayload",
            "KcvCompletion",
            "CryptoDataPayload",
            "CryptoDataCompletion",
            "GenerateMacPayload",
            "MacCompletion",
            "VerifyMacPayload",
            "RandomCompletion",
        )
    },
    "protocols.zt588_control_commands.LoadScancodes": "the pad's key matrix",
    "protocols.zt588_control_commands.Control": "a setting: mode, speed, lengths, mask character",
    "protocols.zt588_replies.KeyLoaded": "a key check value",
    "protocols.zt588_replies.Settings": "the pad's settings",
    "protocols.zt588_replies.UserInfo": "the pad's label, settings, model and versions",
    "protocols.tr31.Tr31Key": "a key, no card data (repr hides it: tests/protocols/test_tr31.py)",
    "hal.devices.pin_pad_model.KeyDetail": "a key's KCV and KSN: they identify, not reveal",
    "hal.devices.pin_pad_model.PinBlock": "an enciphered PIN block (repr shows its length)",
    "tellerhal.conformance.pin_pad_steps.LoadedKey": (
        "a random test key a contract case made (repr: name and algorithm only)"
    ),
    "tellerhal.demo.DemoResult": "the demo's enciphered PIN block (not in the repr)",
    # Decoded ESC/POS operations: what a printed receipt shows, for its customer (card
    # numbers are masked before printing; `tellerhal decode escpos` masks Luhn-valid
    # numbers again); images and unknown commands are pixels and printer commands.
    **{
        f"protocols.escpos_ops.{name}": "what a receipt prints, or a printer command"
        for name in (
            "Barcode",
            "QrCode",
            "RasterImage",
            "Presenter",
            "ProcessIdRequest",
            "OtherCommand",
            "Unknown",
        )
    },
    "simulator.control_commands_printer.LastReceiptCompletion": (
        "a simulated receipt's text and PNG, what its customer reads (card numbers masked "
        "before printing); repr shows sizes only"
    ),
}


def _dataclasses() -> Iterator[type[Any]]:
    for package in ("hal", "protocols", "simulator", "tellerhal", "drivers"):
        root = importlib.import_module(package)
        names = [package] + [
            info.name
            for info in pkgutil.walk_packages(root.__path__, f"{package}.")
            if not info.name.endswith("__main__")
        ]
        for name in names:
            module = importlib.import_module(name)
            for obj in vars(module).values():
                if (
                    inspect.isclass(obj)
                    and dataclasses.is_dataclass(obj)
                    and obj.__module__ == name
                ):
                    yield obj


def test_every_dataclass_with_bytes_is_checked_or_declared_harmless() -> None:
    tested = {type(holder) for holder in CARD_DATA_HOLDERS}
    unreviewed = []
    for cls in _dataclasses():
        annotations = " ".join(str(f.type) for f in dataclasses.fields(cls))
        if "bytes" not in annotations:
            continue
        qualified = f"{cls.__module__}.{cls.__qualname__}"
        if cls not in tested and qualified not in NOT_CARDHOLDER_DATA:
            unreviewed.append(qualified)
    assert not unreviewed, (
        "dataclasses with bytes fields that may hold card data: add an instance to "
        f"_card_data_holders() or a reason to NOT_CARDHOLDER_DATA: {unreviewed}"
    )


def test_curve_key_reprs_hide_the_secret_keys() -> None:
    server_public, server_secret = zmq.curve_keypair()
    client_public, client_secret = zmq.curve_keypair()
    for keys in (
        CurveServerKeys(server_secret, server_public, frozenset({client_public})),
        CurveClientKeys(client_secret, client_public, server_public),
    ):
        for shown in (repr(keys), str(keys)):
            assert server_secret.decode() not in shown
            assert client_secret.decode() not in shown


# --- errors ------------------------------------------------------------------------------


def _corruptions() -> st.SearchStrategy[tuple[int, str]]:
    """A real track with one character changed, dropped or added, or cut short."""
    track = st.sampled_from([(1, "%" + TRACK1 + "?"), (2, ";" + TRACK2 + "?"), (3, TRACK3)])

    @st.composite
    def corrupt(draw: st.DrawFn) -> tuple[int, str]:
        number, text = draw(track)
        at = draw(st.integers(0, len(text)))
        how = draw(st.sampled_from(["replace", "drop", "insert", "cut"]))
        char = draw(
            st.characters(min_codepoint=0x20, max_codepoint=0x7E) | st.sampled_from("^=?;%")
        )
        if how == "replace":
            text = text[:at] + char + text[at + 1 :]
        elif how == "drop":
            text = text[:at] + text[at + 1 :]
        elif how == "insert":
            text = text[:at] + char + text[at:]
        else:
            text = text[:at]
        return number, text

    return corrupt()


@settings(max_examples=300)
@given(_corruptions())
def test_track_parser_errors_never_quote_the_card(case: tuple[int, str]) -> None:
    number, text = case
    parse = {1: tracks.parse_track1, 2: tracks.parse_track2, 3: tracks.parse_track3}[number]
    for raw in (text, text.encode("latin-1")):
        try:
            parse(raw)
        except ProtocolError as exc:
            assert_hidden(str(exc))
            assert_hidden(repr(exc))


@settings(max_examples=200)
@given(_corruptions(), st.sampled_from(crt310.TrackMode))
def test_crt310_track_reply_errors_never_quote_the_card(
    case: tuple[int, str], mode: crt310.TrackMode
) -> None:
    number, text = case
    chars = text.encode("latin-1")
    if mode is crt310.TrackMode.BINARY:
        base = 0x20 if number == 1 else 0x30
        chars = bytes((c - base) & 0xFF for c in chars).hex().upper().encode()
    selector = {1: crt310.TrackSelector.T1, 2: crt310.TrackSelector.T2, 3: crt310.TrackSelector.T3}
    data = bytes((mode, selector[number])) + b"\x1fY" + chars
    try:
        crt310.decode_reply(crt310.Frame(0x45, 0x30, data))
    except ProtocolError as exc:
        assert_hidden(str(exc))


def test_simulator_profile_errors_never_quote_the_card(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    for track in (
        f'track2 = "{PAN}=2812201A"',  # outside the track's set
        f'track1 = "{TRACK1}{"0" * 60}"',  # too long
    ):
        path.write_text(f'version = 1\ndescription = "x"\n[tracks]\n{track}\n', encoding="utf-8")
        with pytest.raises(HalError) as caught:
            load_card_profile_file(path)
        assert_hidden(str(caught.value))
