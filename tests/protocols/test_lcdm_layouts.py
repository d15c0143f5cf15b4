"""protocols.lcdm_layouts: the pick replies of every model read back as written (property
tests), the layouts' sizes and sources, and broken DATA refused."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from protocols.errors import ProtocolError
from protocols.lcdm import Direction, Model, build_frame, parse_frame
from protocols.lcdm_commands import CODES, Op
from protocols.lcdm_layouts import (
    PICK_OPS,
    CassetteCounts,
    PickReply,
    Status4000,
    cassettes_of,
    encode_pick,
    encode_status_4000,
    parse_status_4000,
    pick_reply,
)
from protocols.lcdm_replies import (
    DispenseReply,
    ErrorCode1000,
    ErrorCode2000,
    ErrorCode4000,
    RawReply,
    parse_reply,
)

PAIRS = [(model, op) for model, ops in PICK_OPS.items() for op in sorted(ops, key=str)]


@st.composite
def pick_replies(draw: st.DrawFn) -> PickReply:
    model, op = draw(st.sampled_from(PAIRS))
    four = model is Model.LCDM4000
    entries = []
    for n in cassettes_of(model, op):
        if four:
            exit_, rejects = draw(st.integers(0, 100)), draw(st.integers(0, 10))
            present = draw(st.booleans())
            entries.append(CassetteCounts(n, None, exit_, rejects, present=present))
        else:
            check = draw(st.integers(0, 99))
            exit_ = draw(st.integers(0, check))
            rejects = draw(st.integers(0, check - exit_))
            near = draw(st.booleans())
            entries.append(CassetteCounts(n, check, exit_, rejects, near_end=near))
    table = {Model.LCDM1000: ErrorCode1000, Model.LCDM2000: ErrorCode2000}.get(model, ErrorCode4000)
    error = draw(st.sampled_from([int(code) for code in table]))
    return PickReply(model, op, error, tuple(entries))


@given(pick_replies())
def test_pick_replies_read_back_as_written(reply: PickReply) -> None:
    frame = parse_frame(encode_pick(reply))
    decoded = pick_reply(parse_reply(frame, reply.model))
    assert decoded == reply


def test_layout_sizes_follow_the_sources() -> None:
    # LCDM-2000 upper+lower: 15 bytes; LCDM-4000 dispense 23, purge 14 (puloon 0.2.1).
    sizes = {
        (Model.LCDM2000, Op.UPPER_LOWER_DISPENSE): 15,
        (Model.LCDM2000, Op.UPPER_TEST_DISPENSE): 8,
        (Model.LCDM1000, Op.TEST_DISPENSE): 8,
        (Model.LCDM4000, Op.DISPENSE): 23,
        (Model.LCDM4000, Op.PURGE): 14,
    }
    for (model, op), size in sizes.items():
        entries = tuple(
            CassetteCounts(n, None if model is Model.LCDM4000 else 0, 0, 0)
            for n in cassettes_of(model, op)
        )
        frame = parse_frame(encode_pick(PickReply(model, op, 0x30, entries)))
        assert len(frame.data) == size, (model, op)


def test_the_typed_dispense_reply_reads_as_one_cassette() -> None:
    golden = bytes.fromhex("01 50 02 45 31 30 31 30 30 30 30 30 03 15")
    reply = parse_reply(parse_frame(golden), Model.LCDM1000)
    assert isinstance(reply, DispenseReply)
    pick = pick_reply(reply)
    assert pick.cassettes == (CassetteCounts(1, 10, 10, 0, near_end=False),)
    assert pick.error_code is not None
    assert pick.error_code.meaning == "good"


@pytest.mark.parametrize(
    ("model", "op", "data"),
    [
        (Model.LCDM2000, Op.UPPER_LOWER_DISPENSE, b"0000000000000000"),  # 16 bytes
        (Model.LCDM2000, Op.UPPER_LOWER_DISPENSE, b"0000000000200000"[:15]),  # near-end 32h
        (Model.LCDM1000, Op.TEST_DISPENSE, b"01010\x300"),  # 7 bytes
        (Model.LCDM4000, Op.PURGE, bytes((0x20, 0x30)) + b"\x20\x20\x35" * 4),  # TYPE 35h
        (Model.LCDM4000, Op.DISPENSE, bytes((0x20, 0x30)) + b"\x20\x20\x31" * 4),  # no RSV
        (Model.LCDM1000, Op.TEST_DISPENSE, b"0A0000" + b"00"),  # a count not digits
    ],
)
def test_broken_data_is_refused(model: Model, op: Op, data: bytes) -> None:
    with pytest.raises(ProtocolError):
        pick_reply(RawReply(model, op, data))


def test_other_replies_are_no_pick() -> None:
    with pytest.raises(ProtocolError):
        pick_reply(RawReply(Model.LCDM4000, Op.GET_ORDER, b"\x20"))


@given(
    st.integers(0x20, 0x7F).filter(lambda b: b != 0x03),
    st.integers(0, 0x1F),
    st.lists(
        st.tuples(st.integers(0x30, 0x7F), st.booleans(), st.integers(0, 200), st.integers(0, 200)),
        min_size=4,
        max_size=4,
    ),
)
def test_the_4000_status_reads_back(
    error: int, disp: int, cassettes: list[tuple[int, bool, int, int]]
) -> None:
    status = Status4000(error, disp, tuple(cassettes))
    assert parse_status_4000(parse_frame(encode_status_4000(status))) == status


def test_the_4000_status_refuses_a_short_reply() -> None:
    code = CODES[Model.LCDM4000][Op.STATUS]
    raw = build_frame(Direction.REPLY, 0x30, code, b"\x20\x20")
    with pytest.raises(ProtocolError):
        parse_status_4000(parse_frame(raw))
