"""The Camera over the remote: its payloads, completions and `CAMERA`.

Commands follow XFS4IoT ``Camera``: ``Camera.TakePicture`` (``camera``: ``person``,
``document`` or ``room``; ``format``: ``jpeg`` or ``png``) and ``Camera.Reset``; status
and capabilities through ``Common.Status`` / ``Common.Capabilities`` (the status's
``cameras`` maps each position to its state). The camera has no events of its own
besides ``StatusChangedEvent``.

A picture is personal data: its bytes travel as a blob (a raw frame after the JSON,
referenced as ``{"$blob": N}``), never inside the JSON; the quality report travels in the
JSON (numbers and face boxes only); the capture time as ISO 8601 text in UTC. The reprs
show sizes only. Every name here is also importable from `hal.remote.interfaces`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Final

from hal.devices.camera import (
    CameraCapabilities,
    CameraPosition,
    CameraStatus,
    Picture,
    PictureFormat,
    QualityReport,
)
from hal.errors import ProtocolError
from hal.remote.interfaces import Command, build_interface, size_only

__all__ = ["CAMERA", "PictureCompletion", "TakePictureCommand", "TakePicturePayload"]


@dataclass(frozen=True)
class TakePicturePayload:
    """``Camera.TakePicture``: which camera, and the picture's encoding."""

    camera: CameraPosition = CameraPosition.PERSON
    format: PictureFormat = PictureFormat.JPEG


@dataclass(frozen=True, repr=False)
class PictureCompletion:
    """The completion of ``Camera.TakePicture``: a `Picture` as it travels.

    Attributes:
        data: the encoded picture (a blob; never printed).
        timestamp: when the frame was captured, ISO 8601 with its UTC offset
            (``2026-11-29T03:00:00.123456+00:00``).
        quality: what the service measured (in the JSON).
    """

    data: bytes
    format: PictureFormat
    width: int
    height: int
    timestamp: str
    camera: CameraPosition
    quality: QualityReport

    def __repr__(self) -> str:
        return (
            f"PictureCompletion(camera={self.camera.value!r}, format={self.format.value!r}, "
            f"{self.width}x{self.height}, data={size_only(self.data)}, faces="
            f"{len(self.quality.faces)})"
        )

    @classmethod
    def of(cls, picture: Picture) -> PictureCompletion:
        """The completion that carries ``picture``."""
        timestamp = picture.timestamp
        if timestamp.tzinfo is None:
            timestamp = timestamp.replace(tzinfo=dt.UTC)
        return cls(
            data=picture.data,
            format=picture.format,
            width=picture.width,
            height=picture.height,
            timestamp=timestamp.astimezone(dt.UTC).isoformat(),
            camera=picture.camera,
            quality=picture.quality,
        )

    def picture(self) -> Picture:
        """The `Picture` it carries.

        Raises:
            ProtocolError: the timestamp is not ISO 8601 text with a UTC offset.
        """
        try:
            timestamp = dt.datetime.fromisoformat(self.timestamp)
        except ValueError:
            raise ProtocolError(
                f"Camera.TakePicture: the picture's timestamp {self.timestamp[:40]!r} is not "
                "ISO 8601"
            ) from None
        if timestamp.tzinfo is None:
            raise ProtocolError(
                f"Camera.TakePicture: the picture's timestamp {self.timestamp[:40]!r} has no "
                "UTC offset"
            )
        return Picture(
            data=self.data,
            format=self.format,
            width=self.width,
            height=self.height,
            timestamp=timestamp.astimezone(dt.UTC),
            camera=self.camera,
            quality=self.quality,
        )


@dataclass(frozen=True)
class TakePictureCommand(Command):
    """``Camera.TakePicture``: the method's `Picture` travels as a `PictureCompletion`."""

    def completion_of(self, result: Any) -> Any:
        if not isinstance(result, Picture):
            raise TypeError(f"take_picture returned a {type(result).__name__}, not a Picture")
        return PictureCompletion.of(result)

    def result_of(self, completion: Any) -> Any:
        if not isinstance(completion, PictureCompletion):
            raise TypeError(f"expected a PictureCompletion, got a {type(completion).__name__}")
        return completion.picture()


CAMERA: Final = build_interface(
    "Camera",
    CameraStatus,
    CameraCapabilities,
    (
        TakePictureCommand(
            "Camera.TakePicture", "take_picture", TakePicturePayload, PictureCompletion
        ),
        Command("Camera.Reset", "reset"),
    ),
    (),
)
