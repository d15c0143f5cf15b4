"""`RemoteCameraControl`: what a camera of a ``tellerhal sim`` sees, its cable and its
faults, over the control socket (re-exported by `simulator.remote_control`).
"""

from __future__ import annotations

from hal.stimulus import (
    CameraStimulus,
)
from simulator.control_commands import (
    CameraPayload,
    SetScenePayload,
    SlowRepliesPayload,
)
from simulator.remote_control_base import _RemoteDeviceControl, control_call


class RemoteCameraControl(_RemoteDeviceControl, CameraStimulus):
    """What a camera of a ``tellerhal sim`` sees, its cable and its faults.

    Args:
        endpoint: the simulator's control socket.
        device: the camera's device name.
        timeout: seconds to reach the simulator and get each acknowledge.

    Raises:
        ConfigurationError: a bad endpoint.
        ValueError: a bad device name or timeout.
    """

    def __init__(self, endpoint: str, device: str = "camera", *, timeout: float = 5.0) -> None:
        super().__init__(endpoint, device, timeout=timeout)

    async def set_scene(self, scene: str, *, camera: str = "person") -> None:
        """What ``camera`` sees from its next frame on (a scene name or ``file:PATH``, a
        path on the simulator's host).

        Raises:
            UnsupportedOperation: an unknown scene, a missing file or camera.
            InvalidData: a scene name over 1024 characters or an unknown camera.
        """
        await self._call("Control.SetScene", SetScenePayload(scene, camera))

    async def unplug(self, *, camera: str = "person") -> None:
        """``camera`` leaves the bus."""
        await self._call("Control.UnplugCamera", CameraPayload(camera))

    async def replug(self, *, camera: str = "person") -> None:
        """``camera`` is back on the bus (it works after a reset)."""
        await self._call("Control.ReplugCamera", CameraPayload(camera))

    async def slow_capture(self, seconds: float) -> None:
        """Every frame takes ``seconds`` simulated seconds (0: at once)."""
        await self._call("Control.SlowCapture", SlowRepliesPayload(seconds))

    async def reset(self) -> None:
        """A fresh world: the simulator rebuilds its devices from its scenario."""
        await control_call(self.endpoint, "Control.Reset", timeout=self._timeout, wait=30.0)
