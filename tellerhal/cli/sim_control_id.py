"""``tellerhal sim-control``'s ID scanner actions (`tellerhal.cli.sim_control` describes
them): their names, their arguments and what each does over the control socket.
"""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ["ACTIONS", "act", "add_actions"]

#: The ID scanner's actions (``--device`` defaults to ``id_scanner``).
ACTIONS = frozenset(
    {
        "present-document",
        "remove-document",
        "document-position",
        "jam-document",
        "sam-failure",
        "fail-read",
    }
)


def add_actions(actions: argparse._SubParsersAction[Any]) -> tuple[argparse.ArgumentParser, ...]:
    """Add the ID scanner's actions to ``actions``; returns those that take ``--timeout``."""
    present = actions.add_parser(
        "present-document", help="the customer presents an ID document of a profile"
    )
    present.add_argument(
        "profile", metavar="PROFILE", help="resident, passport, bad_check, unreadable, ..."
    )
    remove = actions.add_parser(
        "remove-document", help="the customer takes the document (from the exit once there)"
    )
    actions.add_parser("document-position", help="where the ID document really is")
    actions.add_parser("jam-document", help="the next document movement jams")
    sam = actions.add_parser(
        "sam-failure", help="the ID scanner's security module fails its self-test (on) or not"
    )
    sam.add_argument("state", choices=("on", "off"))
    actions.add_parser("fail-read", help="the ID scanner's next read fails")
    return (remove,)


async def act(endpoint: str, args: argparse.Namespace) -> dict[str, Any]:
    from simulator.remote_control import RemoteIdScannerControl

    scanner = RemoteIdScannerControl(endpoint, args.device, timeout=args.timeout)
    action: str = args.action
    if action == "present-document":
        sample = await scanner.present_document(args.profile)
        kind = sample.expected.kind.value if sample.expected is not None else None
        return {"profile": sample.profile, "kind": kind, "valid": sample.valid}
    if action == "remove-document":
        await scanner.remove_document(timeout=args.timeout)
    elif action == "document-position":
        return {"position": await scanner.document_position()}
    elif action == "jam-document":
        await scanner.jam()
    elif action == "sam-failure":
        await scanner.sam_failure(args.state == "on")
    elif action == "fail-read":
        await scanner.fail_next_read()
    return {}
