"""Errors with details over the remote (`HalError.wire_details`): `PaperOut`'s counts go
into a failed completion's payload and come back as its attributes; what a client gets
that is not of the type declared for it (a list, a string or a boolean for a count) is
left out and the drop logged, also from a scripted server's frame; a class without
details ignores a payload."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
import zmq
import zmq.asyncio

from hal.errors import Completion, HalTimeout, MediaJam, PaperOut
from hal.remote import RemoteCardReader
from hal.remote.connection import raise_for
from hal.remote.messages import Header, Message, MessageType
from hal.remote.sessions import Request, error_details, outcome_of
from tests.hal.remote.test_remote_liveness import FakeServer


def failed(error_code: str | None, payload: Any, completion: str = "commandErrorCode") -> Message:
    header = Header(
        MessageType.COMPLETION,
        "Printer.PrintDocument",
        7,
        completion_code=completion,
        error_code=error_code,
        error_description="paper out after 3 of 8 blocks",
    )
    return Message(header, payload)


def test_paper_out_details_go_out_as_camel_case_scalars() -> None:
    error = PaperOut("paper out", printed_blocks=3, total_blocks=8, bytes_sent=170)
    assert error_details(error) == {"printedBlocks": 3, "totalBlocks": 8, "bytesSent": 170}
    assert error_details(PaperOut("no paper", bytes_sent=0)) == {
        "printedBlocks": None,
        "totalBlocks": None,
        "bytesSent": 0,
    }
    assert error_details(MediaJam("jam")) is None
    request = Request.__new__(Request)  # outcome_of reads only what a HalError needs
    outcome = outcome_of(error, request)
    assert outcome.error_code == "paperOut"
    assert outcome.details == {"printedBlocks": 3, "totalBlocks": 8, "bytesSent": 170}


def test_the_client_rebuilds_paper_out_with_its_counts() -> None:
    payload = {"printedBlocks": 3, "totalBlocks": 8, "bytesSent": 170}
    with pytest.raises(PaperOut) as caught:
        raise_for(failed("paperOut", payload))
    error = caught.value
    assert (error.printed_blocks, error.total_blocks, error.bytes_sent) == (3, 8, 170)
    assert error.completion is Completion.COMMAND_ERROR_CODE
    assert str(error) == "paper out after 3 of 8 blocks"


@pytest.mark.parametrize(
    "payload",
    [
        {},
        {"printedBlocks": [1], "totalBlocks": {"a": 1}, "bytesSent": None},
        {"unknown": 5},
        None,
    ],
)
def test_what_is_not_a_scalar_is_left_out(payload: Any) -> None:
    with pytest.raises(PaperOut) as caught:
        raise_for(failed("paperOut", payload))
    error = caught.value
    assert (error.printed_blocks, error.total_blocks, error.bytes_sent) == (None, None, None)


def test_a_class_without_details_ignores_the_payload() -> None:
    with pytest.raises(MediaJam):
        raise_for(failed("mediaJam", {"printedBlocks": 3}))
    with pytest.raises(HalTimeout):
        raise_for(failed(None, {"printedBlocks": 3}, completion="timeOut"))


def test_each_detail_has_its_declared_type() -> None:
    assert dict(PaperOut.wire_details) == {
        "printed_blocks": int,
        "total_blocks": int,
        "bytes_sent": int,
    }
    assert dict(MediaJam.wire_details) == {}


@pytest.mark.parametrize(
    ("payload", "dropped"),
    [
        ({"printedBlocks": "x", "totalBlocks": 8, "bytesSent": 170}, ["printedBlocks"]),
        ({"printedBlocks": True, "totalBlocks": 8, "bytesSent": 170}, ["printedBlocks"]),
        (
            {"printedBlocks": 3, "totalBlocks": 8.0, "bytesSent": False},
            ["totalBlocks", "bytesSent"],
        ),
    ],
)
def test_a_detail_of_the_wrong_type_is_dropped_and_logged(
    payload: dict[str, Any], dropped: list[str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="hal.remote.connection")
    with pytest.raises(PaperOut) as caught:
        raise_for(failed("paperOut", payload))
    error = caught.value
    got = {"printedBlocks": error.printed_blocks, "totalBlocks": error.total_blocks}
    got["bytesSent"] = error.bytes_sent
    for key, value in got.items():
        if key in dropped:
            assert value is None
        else:
            assert value == payload[key]
            assert type(value) is int
    warnings = [r.getMessage() for r in caplog.records]
    for key in dropped:
        assert any(f"PaperOut's {key}" in w and "not int" in w for w in warnings), warnings
    assert all("170" not in w and "'x'" not in w for w in warnings)  # the value is not logged


def test_the_server_sends_none_for_a_detail_of_the_wrong_type() -> None:
    error = PaperOut("paper out", printed_blocks=True, total_blocks="8")  # type: ignore[arg-type]
    assert error_details(error) == {"printedBlocks": None, "totalBlocks": None, "bytesSent": None}


async def test_a_scripted_server_frame_with_a_bad_count() -> None:
    # A real client (RemoteCardReader: the class comes from the codes, whatever the
    # interface) against a ROUTER that fails the command with paperOut and bad counts.
    context = zmq.asyncio.Context()
    server = FakeServer(context)
    try:
        async with RemoteCardReader(server.endpoint, timeout=1) as remote:
            call = asyncio.create_task(remote.status())
            for _ in range(200):  # the request reaches the server
                if server.commands:
                    break
                await asyncio.sleep(0.01)
            request = server.commands[-1]
            header = {"version": "1", "name": request["name"], "type": "completion"}
            header |= {"requestId": request["requestId"], "completionCode": "commandErrorCode"}
            header |= {"errorCode": "paperOut", "errorDescription": "paper out"}
            await server.send(header, {"printedBlocks": "x", "totalBlocks": 8, "bytesSent": True})
            with pytest.raises(PaperOut) as caught:
                await call
    finally:
        await server.close()
        context.destroy(linger=0)
    error = caught.value
    assert (error.printed_blocks, error.total_blocks, error.bytes_sent) == (None, 8, None)
