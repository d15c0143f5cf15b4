"""`EscPosLink`: the printer's unframed answers sorted by what is awaited, noise skipped,
in any chunking (hypothesis), over a memory pair whose device end is scripted here."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from drivers.printer.escpos_link import EscPosLink, is_status_byte
from hal.errors import ConnectionLost, HalTimeout
from hal.transports.memory import memory_pair
from protocols.escpos_status import build_process_id_reply

#: Bytes that can never be taken for an answer while a status or an ID is awaited.
NOISE = st.integers(0, 255).filter(lambda b: not is_status_byte(b) and b != 0x37)


def test_status_bytes_are_those_with_the_fixed_bits() -> None:
    assert [b for b in range(256) if is_status_byte(b)][:4] == [0x12, 0x16, 0x1A, 0x1E]
    assert sum(is_status_byte(b) for b in range(256)) == 16  # 4 free bits
    assert not is_status_byte(0x37)
    assert not is_status_byte(0x5F)


async def _exchange(
    noise: list[bytes], statuses: list[int], ids: list[bytes], split: int
) -> tuple[list[int], list[bool], int]:
    host, device = memory_pair()
    device.faults.split(split)
    await device.open()
    link = EscPosLink(host, name="printer")
    await link.open()
    try:
        got: list[int] = []
        for ident in ids:
            link.expect_pid(ident)
        for index, status in enumerate(statuses):
            task = asyncio.ensure_future(link.real_time(1 + index % 4, 1.0))
            request = await device.read_exactly(3, timeout=1)
            assert request == bytes((0x10, 0x04, 1 + index % 4))
            await device.write(noise[index] + bytes((status,)))
            got.append(await task)
        for index, ident in enumerate(ids):
            await device.write(noise[index % len(noise)] + build_process_id_reply(ident))
        seen = [await link.wait_pid(ident, 1.0) for ident in ids]
        return got, seen, link.garbage
    finally:
        await link.close()
        await device.close()


STATUS = st.sampled_from([b for b in range(256) if is_status_byte(b)])


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), count=st.integers(1, 5), split=st.integers(1, 9))
def test_answers_are_found_among_noise_in_any_chunking(
    data: st.DataObject, count: int, split: int
) -> None:
    statuses = data.draw(st.lists(STATUS, min_size=count, max_size=count))
    chunks = st.lists(NOISE, max_size=6).map(bytes)
    noise = data.draw(st.lists(chunks, min_size=count, max_size=count))
    ids = [f"{i:04d}".encode() for i in range(data.draw(st.integers(0, 3)))]
    got, seen, garbage = asyncio.run(_exchange(noise, statuses, ids, split))
    assert got == statuses
    assert seen == [True] * len(ids)
    skipped = sum(map(len, noise)) + sum(len(noise[i % count]) for i in range(len(ids)))
    assert garbage == skipped


async def test_a_silent_printer_and_a_lost_line() -> None:
    host, device = memory_pair()
    await device.open()
    link = EscPosLink(host, name="printer")
    await link.open()
    try:
        with pytest.raises(
            HalTimeout, match=r"did not answer DLE EOT 2 \(real-time status\) within 0.1 s"
        ):
            await link.real_time(2, 0.1)
        link.expect_pid(b"0001")
        assert not await link.wait_pid(b"0001", 0.05)
        # A status byte nobody asked for is noise.
        await device.write(b"\x12")
        await asyncio.sleep(0.05)
        assert link.garbage == 1
        waiting = asyncio.ensure_future(link.real_time(1, 2.0))
        await asyncio.sleep(0.02)
        await device.close()
        with pytest.raises(ConnectionLost):
            await waiting
        with pytest.raises(ConnectionLost):
            await link.write(b"x")
    finally:
        await link.close()
