"""``tellerhal sim-control``: act on a running ``tellerhal sim`` through its control socket.

One action per run, one JSON line of result on stdout (``{"ok": true, ...}``); on an
error, one line on stderr and a non-zero exit status. The simulator is found by
``--control ENDPOINT`` or by the ``--ready-file`` it wrote (default:
``tcp://127.0.0.1:5741``, next to the default ``tellerhal sim``).

The PIN pad actions (``press-keys``, ``type-pin``, ``entry-active``) act on the device
``pin_pad`` unless ``--device`` names another; the cash actions (``take-notes``,
``notes-at-exit``, ``jam-next-dispense``, ``double-note``, ``replenish``,
``ground-truth``) on ``cash_dispenser``; the cash acceptor's (``insert-notes``,
``take-returned``, ``jam-next-note``, ``empty-unit``) on ``cash_acceptor``; the others on
``card_reader``. ``clear-jam`` with ``--device cash_dispenser`` (or ``cash_acceptor``)
clears that device's transport; ``ground-truth``, ``notes-at-exit`` and ``replenish``
with ``--device cash_acceptor`` act on the acceptor. What ``type-pin`` types is never
printed nor logged: its result is the number of digits.

The ID scanner's actions (``present-document``, ``remove-document``,
``document-position``, ``jam-document``, ``sam-failure``, ``fail-read``) act on
``id_scanner``; ``present-document`` prints the profile, the document's kind and whether
it should pass the checks, never its personal data.

The camera's actions (``set-scene SCENE [--camera person]``, ``unplug-camera``,
``replug-camera``, each with ``--camera``) act on ``camera``; a scene is a generated
one (``face``, ``blurred``, ``dark``, ``bright``, ``no_face``, ``two_faces``,
``document``) or an image file on the simulator's host (``file:PATH``).

The printer's actions (``take-receipt``, ``paper-out [--after N]``, ``paper-low``,
``replenish-paper``, ``open-cover``, ``close-cover``, ``jam-printer [--after N]``,
``printed [--png FILE]``) act on ``receipt_printer`` (``--device journal_printer`` for
the journal); ``printed`` prints the text lines printed since it last asked and, with
``--png``, saves the newest receipt's picture.

``insert-notes`` takes notes as ``[Nx]ITEM[@LEVEL]``: ``CNY:10000`` is one fit note,
``3xCNY:5000`` three, ``CNY:10000@counterfeit`` a note the reader will classify so
(levels: ``fit``, ``unfit``, ``suspect``, ``counterfeit``, ``unrecognized``).

The ID scanner's, the camera's and the printer's actions live in
`tellerhal.cli.sim_control_id`, `tellerhal.cli.sim_control_camera` and
`tellerhal.cli.sim_control_printer`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
from typing import Any

from hal.devices.cash_in_model import NoteLevel
from hal.devices.pin_pad_model import DIGIT_KEYS, FUNCTION_KEYS
from hal.errors import ConfigurationError, HalError
from hal.stimulus import NoteSample
from tellerhal.cli import sim_control_camera, sim_control_id, sim_control_printer

__all__ = ["KEY_NAMES", "register", "run"]

_PROGRAM = "tellerhal sim-control"
_DEFAULT_CONTROL = "tcp://127.0.0.1:5741"

#: The actions that act on a PIN pad (``--device`` defaults to ``pin_pad`` for them).
_PIN_PAD_ACTIONS = frozenset({"press-keys", "type-pin", "entry-active"})

#: The actions that act on a cash dispenser (``--device`` defaults to ``cash_dispenser``).
_CASH_ACTIONS = frozenset(
    {"take-notes", "notes-at-exit", "jam-next-dispense", "double-note", "replenish", "ground-truth"}
)

#: The actions only a cash acceptor has (``--device`` defaults to ``cash_acceptor``).
_CASH_IN_ACTIONS = frozenset({"insert-notes", "take-returned", "jam-next-note", "empty-unit"})

#: The most notes one ``insert-notes`` puts in (the simulator's own limit).
_MAX_BUNCH = 500

#: The XFS4IoT key names ``press-keys`` takes: the digits, then the function keys.
KEY_NAMES: tuple[str, ...] = (*DIGIT_KEYS, *FUNCTION_KEYS)


def register(sub: argparse._SubParsersAction[Any]) -> None:
    """Add the ``sim-control`` sub-command."""
    parser = sub.add_parser(
        "sim-control",
        help="act on a running tellerhal sim: insert a card, jam, cut the power...",
        description=(
            "Send one action to a running tellerhal sim and print its result as one "
            "JSON line. Timeouts are real seconds; 'slow' takes simulated seconds."
        ),
    )
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--control", metavar="E", help=f"the control socket ({_DEFAULT_CONTROL})")
    where.add_argument("--ready-file", metavar="F", help="the ready file the simulator wrote")
    parser.add_argument(
        "--device",
        metavar="NAME",
        help=(
            "the device (pin_pad for press-keys, type-pin, entry-active; cash_acceptor "
            "for insert-notes, take-returned, jam-next-note, empty-unit; cash_dispenser "
            "for the other cash actions; id_scanner for the document actions; else "
            "card_reader)"
        ),
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=10.0,
        metavar="S",
        help=(
            "seconds to reach the simulator, and to wait in take-card, wait-for, "
            "press-keys, type-pin, take-notes, take-returned and remove-document "
            "(default 10)"
        ),
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION")
    actions.required = True
    insert = actions.add_parser("insert-card", help="push a card of a profile into the slot")
    insert.add_argument("profile", metavar="PROFILE", help="visa, mag_only, unreadable, ...")
    take = actions.add_parser("take-card", help="wait for the card at the exit and take it")
    actions.add_parser("jam", help="the next card movement jams")
    actions.add_parser("clear-jam", help="an operator clears the jam")
    actions.add_parser("position", help="where the card really is")
    actions.add_parser("retained", help="cards physically in the retain bin")
    actions.add_parser("empty-bin", help="an operator empties the retain bin")
    power = actions.add_parser("power", help="cut (off) or restore (on) the device's power")
    power.add_argument("state", choices=("off", "on"))
    slow = actions.add_parser("slow", help="delay every reply (simulated seconds; 0: none)")
    slow.add_argument("seconds", type=float, metavar="SECONDS")
    wait = actions.add_parser("wait-for", help="wait until a condition holds")
    wait.add_argument("condition", metavar="CONDITION", help="gate_open, card_at_exit, ...")
    press = actions.add_parser(
        "press-keys",
        help="press PIN pad keys by XFS4IoT name (seven, enter...), each once an entry takes it",
    )
    press.add_argument("keys", nargs="+", metavar="KEY", help=", ".join(KEY_NAMES))
    type_pin = actions.add_parser(
        "type-pin",
        help="type a PIN's digits, then enter (prints how many digits, never which)",
    )
    type_pin.add_argument(
        "pin", metavar="DIGITS", help="the digits, or '-' to read them from standard input"
    )
    type_pin.add_argument(
        "--no-enter", dest="enter", action="store_false", help="type the digits only"
    )
    actions.add_parser("entry-active", help="whether the PIN pad is in an entry now")
    take_notes = actions.add_parser(
        "take-notes", help="wait for notes at the dispenser's exit and take them"
    )
    actions.add_parser("notes-at-exit", help="notes physically at the dispenser's exit")
    jam_dispense = actions.add_parser(
        "jam-next-dispense", help="the next dispense jams (its next note stops in the transport)"
    )
    jam_dispense.add_argument(
        "--after",
        type=_count,
        default=1,
        metavar="N",
        help="notes that land before the jam (default 1)",
    )
    double = actions.add_parser(
        "double-note", help="the next pick from a unit takes two notes stuck together"
    )
    double.add_argument("unit", metavar="UNIT", help="a dispensing unit (unit1, ...)")
    replenish = actions.add_parser(
        "replenish", help="an operator makes a unit physically hold COUNT notes"
    )
    replenish.add_argument("unit", metavar="UNIT")
    replenish.add_argument("count", type=_count, metavar="COUNT")
    actions.add_parser("ground-truth", help="where every note physically is (units and positions)")
    insert_notes = actions.add_parser(
        "insert-notes",
        help="the customer puts notes into the acceptor's input ([Nx]ITEM[@LEVEL] each)",
    )
    insert_notes.add_argument(
        "notes",
        nargs="+",
        type=_notes,
        metavar="NOTE",
        help="CNY:10000, 3xCNY:5000, CNY:10000@counterfeit (levels: "
        + ", ".join(level.value for level in NoteLevel)
        + ")",
    )
    take_returned = actions.add_parser(
        "take-returned", help="wait for notes given back at the acceptor's exit and take them"
    )
    actions.add_parser(
        "jam-next-note", help="the next note the acceptor takes in jams in its transport"
    )
    empty = actions.add_parser("empty-unit", help="an operator empties an acceptor's unit")
    empty.add_argument("unit", metavar="UNIT", help="cashin, recycle100, cashbox, ...")
    id_waiting = sim_control_id.add_actions(actions)
    camera_waiting = sim_control_camera.add_actions(actions)
    printer_waiting = sim_control_printer.add_actions(actions, _count)
    for waiting in (
        take,
        wait,
        press,
        type_pin,
        take_notes,
        take_returned,
        *id_waiting,
        *camera_waiting,
        *printer_waiting,
    ):
        # --timeout after the action too
        waiting.add_argument("--timeout", type=float, default=argparse.SUPPRESS, metavar="S")
    actions.add_parser("reset", help="a fresh world: every device rebuilt from the scenario")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run the action; 0 done, 1 the simulator refused, failed or did not answer, 2 bad
    arguments or an unreadable ready file."""
    import logging

    # Errors are reported once, below; the client's own warnings would repeat them.
    logging.basicConfig(level=logging.ERROR, stream=sys.stderr)
    if not args.timeout > 0:
        return _fail("--timeout must be > 0", 2)
    if args.device is None:
        args.device = (
            "pin_pad"
            if args.action in _PIN_PAD_ACTIONS
            else "cash_dispenser"
            if args.action in _CASH_ACTIONS
            else "cash_acceptor"
            if args.action in _CASH_IN_ACTIONS
            else "id_scanner"
            if args.action in sim_control_id.ACTIONS
            else "camera"
            if args.action in sim_control_camera.ACTIONS
            else "receipt_printer"
            if args.action in sim_control_printer.ACTIONS
            else "card_reader"
        )
    if args.action == "insert-notes":
        args.notes = [note for bunch in args.notes for note in bunch]
        if len(args.notes) > _MAX_BUNCH:
            return _fail(f"insert-notes: at most {_MAX_BUNCH} notes at once", 2)
    try:
        _check_keys(args)
    except ValueError as exc:
        return _fail(str(exc), 2)
    try:
        endpoint = _endpoint(args)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return _fail(f"cannot read the ready file {args.ready_file}: {exc}", 2)
    try:
        result = asyncio.run(_act(endpoint, args))
    except ConfigurationError as exc:
        return _fail(str(exc), 2)
    except HalError as exc:
        return _fail(f"{type(exc).__name__}: {exc}", 1)
    except ValueError as exc:  # a bad device name or number, before anything was sent
        return _fail(str(exc), 2)
    print(json.dumps({"ok": True, **result}))
    return 0


def _check_keys(args: argparse.Namespace) -> None:
    """Check the key names of ``press-keys``; read the digits of ``type-pin -``.

    Raises:
        ValueError: an unknown key name (digits given as keys are counted, not quoted:
            they may be a PIN), or no digits on standard input.
    """
    if args.action == "type-pin" and args.pin == "-":
        args.pin = sys.stdin.readline().strip()
        if not args.pin:
            raise ValueError("type-pin -: no digits on standard input")
    if args.action != "press-keys":
        return
    known = frozenset(KEY_NAMES)
    unknown = [key for key in args.keys if key not in known]
    if not unknown:
        return
    # A name with a digit in it may be part of a PIN typed as keys: counted, not quoted.
    digits = sum(1 for key in unknown if any(ch.isdigit() for ch in key))
    named = sorted({key for key in unknown if not any(ch.isdigit() for ch in key)})
    parts = []
    if named:
        parts.append(f"no key named {', '.join(map(repr, named))}")
    if digits:
        parts.append(
            f"{digits} key(s) with digits in them are not key names (digits go by "
            "name: zero ... nine; type-pin takes digits)"
        )
    raise ValueError(f"press-keys: {'; '.join(parts)}; the keys are {', '.join(KEY_NAMES)}")


def _endpoint(args: argparse.Namespace) -> str:
    if args.control is not None:
        return str(args.control)
    if args.ready_file is None:
        return _DEFAULT_CONTROL
    with open(args.ready_file, encoding="utf-8") as f:
        control = json.load(f)["control"]
    if not isinstance(control, str):
        raise ValueError("it names no control socket (a tellerhal serve ready file?)")
    return control


async def _act(endpoint: str, args: argparse.Namespace) -> dict[str, Any]:
    from protocols.tracks import mask_pan
    from simulator.remote_control import RemoteCardReaderControl

    action: str = args.action
    if action in _PIN_PAD_ACTIONS:
        return await _act_on_pin_pad(endpoint, args)
    if action in _CASH_ACTIONS:
        return await _act_on_cash(endpoint, args)
    if action in _CASH_IN_ACTIONS:
        return await _act_on_cash_in(endpoint, args)
    if action in sim_control_id.ACTIONS:
        return await sim_control_id.act(endpoint, args)
    if action in sim_control_camera.ACTIONS:
        return await sim_control_camera.act(endpoint, args)
    if action in sim_control_printer.ACTIONS:
        return await sim_control_printer.act(endpoint, args)
    control = RemoteCardReaderControl(endpoint, args.device, timeout=args.timeout)
    if action == "insert-card":
        sample = await control.insert_card(args.profile)
        pan = mask_pan(sample.pan) if sample.pan else None
        return {"profile": sample.profile, "hasChip": sample.has_chip, "pan": pan}
    if action == "take-card":
        await control.take_card(timeout=args.timeout)
    elif action == "jam":
        await control.jam()
    elif action == "clear-jam":
        await control.clear_jam()
    elif action == "position":
        return {"position": await control.card_position()}
    elif action == "retained":
        return {"retained": await control.retained_count()}
    elif action == "empty-bin":
        return {"emptied": await control.empty_retain_bin()}
    elif action == "power":
        await control.power_loss(on=args.state == "off")
    elif action == "slow":
        await control.slow_replies(args.seconds)
    elif action == "wait-for":
        await control.wait_for(args.condition, timeout=args.timeout)
    elif action == "reset":
        await control.reset()
    return {}


async def _act_on_pin_pad(endpoint: str, args: argparse.Namespace) -> dict[str, Any]:
    from simulator.pin_pad_control import pin_keys
    from simulator.remote_control import RemotePinPadControl

    pad = RemotePinPadControl(endpoint, args.device, timeout=args.timeout)
    if args.action == "entry-active":
        return {"active": await pad.entry_active()}
    if args.action == "press-keys":
        await pad.press_keys(args.keys, timeout=args.timeout)
        return {"pressed": len(args.keys)}
    keys = pin_keys(args.pin, enter=args.enter)  # ValueError, never quoting the digits
    await pad.press_keys(keys, timeout=args.timeout)
    return {"digits": len(args.pin), "enter": bool(args.enter)}


async def _act_on_cash(endpoint: str, args: argparse.Namespace) -> dict[str, Any]:
    from simulator.remote_control import RemoteCashDispenserControl

    cash = RemoteCashDispenserControl(endpoint, args.device, timeout=args.timeout)
    action: str = args.action
    if action == "take-notes":
        return {"taken": await cash.take_notes(timeout=args.timeout)}
    if action == "notes-at-exit":
        return {"notes": await cash.notes_at_exit()}
    if action == "jam-next-dispense":
        await cash.jam_next_dispense(args.after)
    elif action == "double-note":
        await cash.double_note_next_pick(args.unit)
    elif action == "replenish":
        await cash.replenish(args.unit, args.count)
    elif action == "ground-truth":
        return {"notes": dict(await cash.ground_truth())}
    return {}


async def _act_on_cash_in(endpoint: str, args: argparse.Namespace) -> dict[str, Any]:
    from simulator.remote_control import RemoteCashAcceptorControl

    acceptor = RemoteCashAcceptorControl(endpoint, args.device, timeout=args.timeout)
    action: str = args.action
    if action == "insert-notes":
        waiting = await acceptor.insert_bunch(args.notes)
        return {"inserted": len(args.notes), "waiting": waiting}
    if action == "take-returned":
        return {"taken": await acceptor.take_returned(timeout=args.timeout)}
    if action == "jam-next-note":
        await acceptor.jam_next_note()
    elif action == "empty-unit":
        return {"emptied": await acceptor.empty_unit(args.unit)}
    return {}


_NOTE = re.compile(r"^(?:(?P<count>\d+)x)?(?P<item>[A-Z]{3}:\d+)(?:@(?P<level>[a-z]+))?$")


def _notes(text: str) -> list[NoteSample]:
    """``[Nx]ITEM[@LEVEL]`` as N note samples."""
    match = _NOTE.match(text)
    if match is None:
        raise argparse.ArgumentTypeError(
            f"expected [Nx]ITEM[@LEVEL] (3xCNY:10000, CNY:5000@unfit), got {text!r}"
        )
    count = int(match["count"] or 1)
    if not 1 <= count <= _MAX_BUNCH:
        raise argparse.ArgumentTypeError(f"{text!r}: between 1 and {_MAX_BUNCH} notes")
    try:
        level = NoteLevel(match["level"] or NoteLevel.FIT)
    except ValueError:
        known = ", ".join(level.value for level in NoteLevel)
        raise argparse.ArgumentTypeError(
            f"{text!r}: no note level {match['level']!r}; the levels are {known}"
        ) from None
    return [NoteSample(match["item"], level)] * count


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {value}")
    return value


def _fail(message: str, status: int) -> int:
    print(f"{_PROGRAM}: {message}", file=sys.stderr)
    return status
