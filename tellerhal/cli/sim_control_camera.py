"""``tellerhal sim-control``'s camera actions (`tellerhal.cli.sim_control` describes
them): their names, their arguments and what each does over the control socket.
"""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ["ACTIONS", "act", "add_actions"]

#: The camera's actions (``--device`` defaults to ``camera``).
ACTIONS = frozenset({"set-scene", "unplug-camera", "replug-camera"})


def add_actions(actions: argparse._SubParsersAction[Any]) -> tuple[argparse.ArgumentParser, ...]:
    """Add the camera's actions to ``actions``; returns those that take ``--timeout``."""
    scene = actions.add_parser("set-scene", help="what a camera sees from its next frame on")
    scene.add_argument(
        "scene",
        help="face, blurred, dark, bright, no_face, two_faces, document, or file:PATH",
    )
    unplug = actions.add_parser("unplug-camera", help="a camera leaves the bus")
    replug = actions.add_parser(
        "replug-camera", help="a camera is back on the bus (it works after a reset)"
    )
    for camera_action in (scene, unplug, replug):
        camera_action.add_argument(
            "--camera", default="person", choices=("person", "document", "room")
        )
    return ()


async def act(endpoint: str, args: argparse.Namespace) -> dict[str, Any]:
    from simulator.remote_control import RemoteCameraControl

    camera = RemoteCameraControl(endpoint, args.device, timeout=args.timeout)
    action: str = args.action
    if action == "set-scene":
        await camera.set_scene(args.scene, camera=args.camera)
        return {"camera": args.camera, "scene": args.scene}
    if action == "unplug-camera":
        await camera.unplug(camera=args.camera)
    else:
        await camera.replug(camera=args.camera)
    return {"camera": args.camera}
