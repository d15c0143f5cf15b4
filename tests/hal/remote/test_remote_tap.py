"""`tests.remote_tap.FrameTap`: clients through the tap behave as without it, and the
tap records every message both ways (the PIN secrecy tests rely on it)."""

from __future__ import annotations

import asyncio

from hal.devices.card_reader import MediaInserted, Track
from hal.remote import RemoteCardReader, RemoteServer
from simulator.control import CardReaderControl
from tests.remote_tap import FrameTap


async def test_a_reader_through_the_tap_works_and_every_frame_is_recorded(
    server: RemoteServer, control: CardReaderControl
) -> None:
    async with (
        FrameTap(server.endpoint) as tap,
        RemoteCardReader(tap.endpoint, timeout=2.0) as reader,
    ):
        events = reader.events(kinds=[MediaInserted])
        read = asyncio.create_task(reader.read_raw_data([Track.TRACK2], timeout=5))
        await control.wait_for("gate_open", timeout=2)
        sample = await control.insert_card("visa")
        result = await read
        await events.get()
        events.close()
    track2 = result[Track.TRACK2].data
    assert track2 == sample.track2
    to_server = tap.names("to_server")
    assert to_server[:3] == ["Common.Status", "Common.Open", "CardReader.ReadRawData"]
    assert to_server[-1] == "Common.Close"
    to_client = [(m.header["type"], m.header["name"]) for m in tap.messages if m.client == 0]
    assert ("event", "CardReader.MediaInsertedEvent") in to_client
    completion = next(
        m
        for m in tap.messages
        if m.header["type"] == "completion" and m.header["name"] == "CardReader.ReadRawData"
    )
    # The track travelled as a blob frame, never inside a JSON frame.
    assert completion.blobs == (track2,)
    assert completion.payload == {"sources": {"track2": {"status": "ok", "data": {"$blob": 0}}}}
    assert track2 in tap.all_frames()
    json_frames = [m.frames[0] + m.frames[1] for m in tap.messages]
    assert not any(track2 in frames for frames in json_frames)


async def test_each_client_is_its_own_peer_upstream(server: RemoteServer) -> None:
    async with FrameTap(server.endpoint) as tap:
        first = RemoteCardReader(tap.endpoint, timeout=2.0)
        second = RemoteCardReader(tap.endpoint, timeout=2.0, heartbeat=0.4)  # another session
        async with first, second:
            await first.status()
            await second.status()
            assert server.session_count == 2
        assert {m.client for m in tap.messages} == {0, 1}
        assert {m.direction for m in tap.messages} == {"to_server", "to_client"}


async def test_a_tapped_message_prints_no_blob(
    server: RemoteServer, control: CardReaderControl
) -> None:
    async with (
        FrameTap(server.endpoint) as tap,
        RemoteCardReader(tap.endpoint, timeout=2.0) as reader,
    ):
        read = asyncio.create_task(reader.read_raw_data([Track.TRACK2], timeout=5))
        await control.wait_for("gate_open", timeout=2)
        sample = await control.insert_card("visa")
        await read
    assert sample.track2 is not None
    shown = repr(tap.messages)
    assert "CardReader.ReadRawData" in shown
    assert f"<{len(sample.track2)} bytes>" in shown
    assert sample.track2.decode() not in shown
