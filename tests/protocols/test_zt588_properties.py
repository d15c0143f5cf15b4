"""Properties of protocols.zt588: every command and reply round-trips, construct's frame
layout equals the fast path, the stream decoder never raises and keeps its memory
bounded on any bytes, finds frames after any junk, hands back frames and key presses
unchanged however the stream is split, and a frame with any byte changed is refused."""

from __future__ import annotations

import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocols.errors import ChecksumError, ProtocolError
from protocols.zt588 import (
    FRAME,
    MAX_FRAME,
    MAX_TEXT,
    Ack,
    Authenticate,
    AuthReply,
    BadFrame,
    ClearPinRequest,
    Command,
    CommandCode,
    Communication,
    Control,
    ControlCode,
    EraseKey,
    ErrorReply,
    Frame,
    GetPinBlock,
    Item,
    Key,
    KeyLoaded,
    KeyPress,
    KeyType,
    LoadEncryptedKey,
    LoadPlainKey,
    LoadScancodes,
    Misc,
    PinBlockReply,
    PinFormat,
    QueryUserInfo,
    Reply,
    Settings,
    StartPinEntry,
    UserInfo,
    WriteUserInfo,
    Zt588Decoder,
    build_command,
    build_frame,
    build_reply,
    checksum,
    encode_reply,
    key_press,
    parse_command,
    parse_frame,
    parse_reply,
)

byte = st.integers(0, 0xFF)
keys = st.sampled_from([8, 16, 24]).flatmap(lambda n: st.binary(min_size=n, max_size=n))
key_types = st.sampled_from(KeyType)
digits = st.text("0123456789", max_size=19)
latin = st.characters(min_codepoint=0x20, max_codepoint=0xFF)

commands: st.SearchStrategy[Command] = st.one_of(
    st.builds(LoadPlainKey, byte, key_types, keys),
    st.builds(LoadEncryptedKey, byte, byte, key_types, keys),
    st.builds(EraseKey, byte, byte, st.integers(0, 9)),
    st.just(QueryUserInfo()),
    st.builds(WriteUserInfo, st.text(latin, min_size=1, max_size=50)),
    st.builds(LoadScancodes, st.binary(min_size=1, max_size=64)),
    st.builds(Control, st.sampled_from(ControlCode), st.binary(min_size=1, max_size=16)),
    st.sampled_from(Misc).map(Control.misc),
    st.sampled_from(Communication).map(Control.communication),
    st.builds(StartPinEntry, byte, st.sampled_from(PinFormat), st.integers(0, 9),
              st.integers(0, 99), digits),
    st.just(GetPinBlock()),
    st.builds(Authenticate, byte, st.binary(max_size=32)),
)  # fmt: skip


def _fixed(width: int) -> st.SearchStrategy[str]:
    return st.text(latin, min_size=width, max_size=width)


user_infos = st.builds(
    UserInfo,
    byte.filter(lambda b: not 0xE0 <= b <= 0xEF and b != 0x02),
    _fixed(50),
    st.binary(min_size=24, max_size=24),
    st.binary(min_size=10, max_size=10).map(Settings),
    _fixed(8),
    _fixed(6),
    _fixed(3),
    _fixed(3),
    _fixed(4),
    _fixed(4),
)


def no_stx(size: int) -> st.SearchStrategy[bytes]:
    return st.binary(max_size=size).map(lambda b: b.replace(b"\x02", b""))


heads = byte.filter(lambda b: not 0xE0 <= b <= 0xEF and b != 0x02)
# A reply with the command it answers (its layout depends on it).
answered: st.SearchStrategy[tuple[Reply, Command | CommandCode | None]] = st.one_of(
    st.tuples(st.builds(ErrorReply, st.integers(0xE0, 0xEF), no_stx(8)),
              commands | st.none()),
    st.tuples(st.builds(KeyLoaded, heads, st.binary(max_size=8)),
              st.sampled_from([CommandCode.LOAD_PLAIN_KEY, CommandCode.LOAD_ENCRYPTED_KEY])),
    st.tuples(user_infos, st.just(QueryUserInfo())),
    st.tuples(st.builds(PinBlockReply, heads, st.integers(0, 99), st.integers(0, 99),
                        st.binary(min_size=1, max_size=16)), st.just(GetPinBlock())),
    st.tuples(st.builds(AuthReply, heads, st.binary(max_size=32)),
              st.just(CommandCode.AUTHENTICATE)),
    st.tuples(st.builds(Ack, heads, no_stx(20)),
              st.sampled_from([None, CommandCode.CONTROL, CommandCode.START_PIN_ENTRY])),
)  # fmt: skip
texts = st.binary(min_size=1, max_size=MAX_TEXT).map(lambda b: b.replace(b"\x02", b"\x01"))
presses = st.sampled_from(
    [key_press(Key.DIGIT, d) for d in "0123456789"]
    + [key_press(k) for k in Key if k is not Key.DIGIT]
)


@settings(max_examples=300)
@given(commands)
def test_any_command_round_trips(command: Command) -> None:
    text = command.encode()
    assert parse_command(text) == command
    assert parse_command(parse_frame(build_command(command)).text) == command


@settings(max_examples=200)
@given(answered)
def test_any_reply_round_trips(case: tuple[Reply, Command | CommandCode | None]) -> None:
    reply, command = case
    assert parse_reply(encode_reply(reply), command) == reply
    assert parse_reply(parse_frame(build_reply(reply)).text, command) == reply


@given(st.binary(min_size=10, max_size=10))
def test_settings_rebuild_from_their_meanings(raw: bytes) -> None:
    s = Settings(raw)
    if s.baud is None or raw[1] or raw[9] or raw[7] not in b"07" or raw[0] > 7:
        return
    rebuilt = Settings.make(
        blank=s.blank,
        input_enabled=s.input_enabled,
        sound=s.sound,
        input_time_limit=s.input_time_limit,
        pin_mask=s.pin_mask,
        min_pin_length=s.min_pin_length,
        max_pin_length=s.max_pin_length,
        baud=s.baud,
        broken_hex=s.broken_hex,
        beep_time_ms=s.beep_time_ms,
    )
    assert rebuilt == s


@settings(max_examples=300)
@given(texts)
def test_frames_round_trip_and_construct_agrees(text: bytes) -> None:
    try:
        raw = build_frame(text)
    except ProtocolError:  # a clear-PIN request: refused (tests/protocols/test_zt588.py)
        return
    assert parse_frame(raw).text == text
    parsed = FRAME.parse(raw)
    assert (parsed.length, parsed.text, parsed.chk) == (len(text), text, checksum(raw[1:-2]))
    assert FRAME.build({"text": text, "chk": raw[-2:]}) == raw


@settings(max_examples=300)
@given(texts, st.data())
def test_any_changed_byte_is_refused(text: bytes, data: st.DataObject) -> None:
    raw = build_frame(text.replace(b"@", b"?"))
    index = data.draw(st.integers(0, len(raw) - 1))
    new = data.draw(byte.filter(lambda b: b != raw[index]))
    changed = raw[:index] + bytes((new,)) + raw[index + 1 :]
    with pytest.raises(ProtocolError):
        parse_frame(changed)
    if new != 0x02 and (index >= len(raw) - 2 or 4 <= index < len(raw) - 3):
        with pytest.raises(ChecksumError):
            parse_frame(changed)


def _account(items: list[Item], pending: int, fed: int) -> None:
    assert sum(item.wire_size for item in items) + pending == fed
    assert all(isinstance(item, Frame | KeyPress | BadFrame) for item in items)
    assert pending < MAX_FRAME


@settings(max_examples=400)
@given(st.lists(st.binary(max_size=80) | st.sampled_from([b"\x02", b"\x02012", b"\x03"])))
def test_random_bytes_never_raise_and_memory_stays_bounded(chunks: list[bytes]) -> None:
    decoder = Zt588Decoder()
    items: list[Item] = []
    fed = 0
    for chunk in chunks:
        items += decoder.feed(chunk)
        fed += len(chunk)
        _account(items, decoder.pending, fed)
    items += decoder.flush()
    _account(items, 0, fed)
    for item in items:
        if isinstance(item, BadFrame):
            assert isinstance(item.error, ProtocolError)


def test_a_megabyte_of_noise_decodes_in_bounded_time() -> None:
    import random

    rng = random.Random(588)
    data = bytes(rng.getrandbits(8) for _ in range(1 << 20))
    decoder = Zt588Decoder()
    start = time.perf_counter()
    fed = 0
    items: list[Item] = []
    for at in range(0, len(data), 4096):
        items += decoder.feed(data[at : at + 4096])
        fed += len(data[at : at + 4096])
    assert time.perf_counter() - start < 10
    _account(items, decoder.pending, fed)


def _wire(item: Frame | KeyPress) -> bytes:
    return item.to_bytes()


stream_items = st.lists(
    presses
    | commands.map(lambda c: Frame(c.encode()))
    | answered.map(lambda case: Frame(encode_reply(case[0]))),
    max_size=12,
)


@settings(max_examples=200)
@given(stream_items, st.data())
def test_frames_and_key_presses_come_out_whatever_the_split(
    expected: list[Frame | KeyPress], data: st.DataObject
) -> None:
    stream = b"".join(_wire(item) for item in expected)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=8)))
    decoder = Zt588Decoder()
    got: list[Item] = []
    for start, end in zip([0, *cuts], [*cuts, len(stream)], strict=True):
        got += decoder.feed(stream[start:end])
    assert got == expected
    assert decoder.pending == 0


@settings(max_examples=300)
@given(st.binary(max_size=40), commands | st.just(GetPinBlock()), st.binary(max_size=40))
def test_a_frame_survives_any_junk_around_it(before: bytes, command: Command, after: bytes) -> None:
    raw = build_command(command)
    decoder = Zt588Decoder()
    items = decoder.feed(before + raw + after) + decoder.flush()
    assert Frame(command.encode()) in items


@settings(max_examples=400)
@given(
    st.sampled_from(b"1234567:")
    .map(lambda c: bytes((c,)))
    .flatmap(lambda head: st.binary(max_size=60).map(lambda rest: head + rest))
    | st.binary(max_size=160),
    st.sampled_from([None, *CommandCode, QueryUserInfo(), GetPinBlock()]),
)
def test_any_text_parses_and_rebuilds_byte_for_byte_or_raises_a_protocol_error(
    text: bytes, command: CommandCode | Command | None
) -> None:
    try:
        parsed = parse_command(text)
    except ProtocolError:
        pass
    else:
        if not isinstance(parsed, ClearPinRequest):
            assert parsed.encode() == text
    try:
        reply = parse_reply(text, command)
    except ProtocolError:
        pass
    else:
        assert encode_reply(reply) == text
