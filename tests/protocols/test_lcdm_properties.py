"""Properties of protocols.lcdm*: command and reply round trips for every model, the
stream decoder in any chunking and after noise, random bytes never crash it, and any
single changed byte of a frame refused."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from protocols.errors import ProtocolError
from protocols.lcdm import (
    ETX,
    FRAME,
    BadFrame,
    BadFrameReason,
    Control,
    Direction,
    Frame,
    Item,
    LcdmStreamDecoder,
    Model,
    build_frame,
    parse_frame,
)
from protocols.lcdm_commands import CODES, MAX_COUNT, MAX_COUNT_4000, Command, Op, parse_command
from protocols.lcdm_replies import (
    Cassette,
    DispenseReply,
    ErrorCode1000,
    ErrorCode2000,
    PurgeReply,
    RawReply,
    Reply,
    RomReply,
    StatusReply,
    encode_reply,
    parse_reply,
)

TYPED = {Op.PURGE, Op.DISPENSE, Op.UPPER_DISPENSE, Op.LOWER_DISPENSE, Op.STATUS, Op.ROM_VERSION}
_no_etx = st.binary(max_size=20).filter(lambda b: ETX not in b)


@st.composite
def commands(draw: st.DrawFn) -> Command:
    model = draw(st.sampled_from(list(Model)))
    op = draw(st.sampled_from(sorted(CODES[model], key=lambda o: o.value)))
    if op in (Op.DISPENSE, Op.UPPER_DISPENSE, Op.LOWER_DISPENSE) and model is not Model.LCDM4000:
        return Command(model, op, (draw(st.integers(1, MAX_COUNT)),))
    if op is Op.UPPER_LOWER_DISPENSE:
        counts = draw(st.tuples(st.integers(0, MAX_COUNT), st.integers(0, MAX_COUNT)))
        return Command(model, op, counts if any(counts) else (1, 0))
    if op is Op.DISPENSE:
        four = draw(st.lists(st.integers(0, MAX_COUNT_4000), min_size=4, max_size=4))
        to = draw(st.binary(min_size=2, max_size=2).filter(lambda b: ETX not in b))
        return Command(model, op, tuple(four) if any(four) else (0, 0, 0, 1), to=to)
    if op in (Op.SET_OPACITIES, Op.SET_ORDER, Op.SET_LENGTHS):
        return Command(model, op, data=draw(_no_etx))
    return Command(model, op)


@st.composite
def replies(draw: st.DrawFn) -> Reply:
    model = draw(st.sampled_from([Model.LCDM1000, Model.LCDM2000]))
    table = ErrorCode1000 if model is Model.LCDM1000 else ErrorCode2000
    error = draw(st.sampled_from(list(table)))
    kind = draw(st.integers(0, 4))
    if kind == 0:
        return PurgeReply(model, error)
    if kind == 1:
        op = (
            Op.DISPENSE
            if model is Model.LCDM1000
            else draw(st.sampled_from([Op.UPPER_DISPENSE, Op.LOWER_DISPENSE]))
        )
        n = st.integers(0, 99)
        return DispenseReply(
            model, op, draw(n), draw(n), error, draw(st.sampled_from(list(Cassette))), draw(n)
        )
    if kind == 2:
        sensor = st.integers(0x80, 0xFF)
        return StatusReply(model, 0x30, error, draw(sensor), draw(sensor))
    if kind == 3:
        text = st.text(
            st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=4, max_size=4
        )
        return RomReply(model, draw(text), draw(text))
    raw_model = draw(st.sampled_from(list(Model)))
    ops = [o for o in CODES[raw_model] if raw_model is Model.LCDM4000 or o not in TYPED]
    op = draw(st.sampled_from(sorted(ops, key=lambda o: o.value)))
    return RawReply(raw_model, op, draw(_no_etx))


@settings(max_examples=200)
@given(commands())
def test_commands_round_trip(command: Command) -> None:
    raw = command.encode()
    assert parse_command(parse_frame(raw), command.model) == command
    assert LcdmStreamDecoder().feed(raw) == [command.frame()]


@settings(max_examples=200)
@given(replies())
def test_replies_round_trip(reply: Reply) -> None:
    raw = encode_reply(reply)
    assert parse_reply(parse_frame(raw), reply.model) == reply


frames = st.builds(
    build_frame,
    st.sampled_from(list(Direction)),
    st.sampled_from([0x30, 0x50]),
    st.integers(0, 0xFF).filter(lambda b: b != ETX),
    _no_etx,
)


def _accounted(items: list[Item]) -> int:
    return sum(1 if isinstance(i, Control) else i.wire_size for i in items)


@settings(max_examples=150)
@given(
    st.lists(frames | st.sampled_from([b"\x06", b"\x15"]), max_size=6),
    st.lists(st.integers(1, 10), max_size=30),
)
def test_any_chunking_gives_the_same_items(parts: list[bytes], cuts: list[int]) -> None:
    stream = b"".join(parts)
    whole = LcdmStreamDecoder().feed(stream)
    assert [i.to_bytes() if isinstance(i, Frame) else bytes((i,)) for i in whole] == parts
    decoder = LcdmStreamDecoder()
    chunked: list[Item] = []
    at = 0
    for cut in cuts:
        chunked += decoder.feed(stream[at : at + cut])
        at += cut
    chunked += decoder.feed(stream[at:])
    assert chunked == whole
    assert decoder.pending == 0


@settings(max_examples=300)
@given(
    st.binary(max_size=200) | st.lists(frames | st.binary(max_size=20), max_size=6).map(b"".join)
)
def test_random_bytes_never_crash_and_every_byte_is_accounted(noise: bytes) -> None:
    decoder = LcdmStreamDecoder()
    items = decoder.feed(noise)
    assert _accounted(items) + decoder.pending == len(noise)
    for item in items:
        if isinstance(item, Frame):
            try:
                parse_frame(item.to_bytes())
            except ProtocolError as exc:  # pragma: no cover - would be a decoder bug
                raise AssertionError(item) from exc
            for model in Model:
                try:
                    if item.direction is Direction.COMMAND:
                        parse_command(item, model)
                    else:
                        parse_reply(item, model)
                except ProtocolError:
                    pass


@settings(max_examples=150)
@given(frames, st.binary(max_size=30))
def test_a_frame_after_noise_is_found_again(frame: bytes, noise: bytes) -> None:
    # Noise that cannot start a frame: no EOT/SOH/ACK/NAK in it.
    noise = bytes(b for b in noise if b not in (0x01, 0x04, 0x06, 0x15))
    items = LcdmStreamDecoder().feed(noise + frame)
    assert items[-1] == parse_frame(frame)
    if noise:
        assert items[0] == BadFrame(BadFrameReason.NOISE, noise)


@settings(max_examples=200)
@given(frames, st.data())
def test_any_single_changed_byte_is_refused(frame: bytes, data: st.DataObject) -> None:
    at = data.draw(st.integers(0, len(frame) - 1))
    new = data.draw(st.integers(0, 0xFF).filter(lambda b: b != frame[at]))
    changed = frame[:at] + bytes((new,)) + frame[at + 1 :]
    try:
        parse_frame(changed)
    except ProtocolError:
        pass
    else:
        raise AssertionError(f"accepted {changed.hex(' ')}")
    items = LcdmStreamDecoder().feed(changed)
    assert not any(isinstance(i, Frame) and i.to_bytes() == changed for i in items)


@settings(max_examples=150)
@given(frames)
def test_construct_layout_equals_the_fast_path(raw: bytes) -> None:
    frame = parse_frame(raw)
    parsed = FRAME.parse(raw)
    assert (parsed.start, parsed.frame_id, parsed.cmd) == (
        frame.direction.value,
        frame.frame_id,
        frame.cmd,
    )
    assert parsed.data == frame.data
    assert parsed.bcc == raw[-1]
    built = FRAME.build(
        {
            "start": frame.direction.value,
            "frame_id": frame.frame_id,
            "cmd": frame.cmd,
            "data": frame.data,
            "bcc": raw[-1],
        }
    )
    assert built == raw
