"""Errors with details over the remote (`HalError.wire_details`): `PaperOut`'s counts go
into a failed completion's payload and come back as its attributes; what a client gets
that is not a JSON scalar is left out; a class without details ignores a payload."""

from __future__ import annotations

from typing import Any

import pytest

from hal.errors import Completion, HalTimeout, MediaJam, PaperOut
from hal.remote.connection import raise_for
from hal.remote.messages import Header, Message, MessageType
from hal.remote.sessions import Request, error_details, outcome_of


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
