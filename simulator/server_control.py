"""The simulator's control socket: a ROUTER acting on a world's devices.

`ControlServer` is opened by `simulator.server.SimServer` next to the devices it serves;
through it another process acts as the customer, the operator or fate
(`simulator.remote_control`). It speaks the envelope of the remote
(`hal.remote.messages`): each command is answered with one ``acknowledge`` and then one
``completion``; the commands are in `simulator.control_commands`. The actions per
device class are here for the card reader, PIN pad, cash dispenser and cash acceptor,
and in `simulator.server_control_id`, `simulator.server_control_camera` and
`simulator.server_control_printer` for the ID scanner, camera and printer.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Final

import zmq
import zmq.asyncio

from hal.errors import Completion, ConfigurationError, HalError, TransportError
from hal.remote.codec import WireValueError, codec_for
from hal.remote.messages import AckStatus, Limits, MessageError, MessageType, decode
from hal.remote.security import check_endpoint_security, remove_ipc_socket
from hal.remote.sessions import Outbox, Outcome
from hal.stimulus import NoteSample
from simulator.cash_control import CashDispenserControl
from simulator.cash_in_control import CashAcceptorControl
from simulator.control import CardReaderControl
from simulator.control_commands import (
    CAMERA,
    CARD_READER,
    CASH_ACCEPTOR,
    CASH_DISPENSER,
    COMMANDS,
    ID_SCANNER,
    PIN_PAD,
    PRINTER,
    ControlCommand,
    CountCompletion,
    EntryActiveCompletion,
    GroundTruthCompletion,
    PositionCompletion,
)
from simulator.pin_pad_control import PinPadControl
from simulator.server_control_camera import CAMERA_ACTIONS
from simulator.server_control_id import ID_ACTIONS
from simulator.server_control_printer import PRINTER_ACTIONS
from simulator.world import World

__all__ = ["ControlServer"]

# The control socket logs as part of the simulator service, as before it had a module.
log = logging.getLogger("simulator.server")

_ACCEPT: Final = frozenset({MessageType.COMMAND})
_LIMITS: Final = Limits(max_header=2048, max_payload=4096, max_blobs=0, max_depth=4)
_SUCCESS: Final = Completion.SUCCESS.value


async def _insert_card(control: CardReaderControl, payload: Any) -> Any:
    return await control.insert_card(payload.profile)


async def _take_card(control: CardReaderControl, payload: Any) -> Any:
    await control.take_card(timeout=payload.timeout)


async def _jam(control: CardReaderControl, payload: Any) -> Any:
    await control.jam()


async def _clear_jam(control: CardReaderControl, payload: Any) -> Any:
    await control.clear_jam()


async def _position(control: CardReaderControl, payload: Any) -> Any:
    return PositionCompletion(await control.card_position())


async def _retained(control: CardReaderControl, payload: Any) -> Any:
    return CountCompletion(await control.retained_count())


async def _empty_bin(control: CardReaderControl, payload: Any) -> Any:
    return CountCompletion(await control.empty_retain_bin())


async def _stacker(control: CardReaderControl, payload: Any) -> Any:
    return CountCompletion(await control.stacker_count())


async def _load_stacker(control: CardReaderControl, payload: Any) -> Any:
    await control.load_stacker(payload.count)


async def _power(control: CardReaderControl, payload: Any) -> Any:
    await control.power_loss(payload.on)


async def _slow(control: CardReaderControl, payload: Any) -> Any:
    await control.slow_replies(payload.seconds)


async def _wait_for(control: CardReaderControl, payload: Any) -> Any:
    await control.wait_for(payload.condition, timeout=payload.timeout)


_ACTIONS: Final[dict[str, Callable[[CardReaderControl, Any], Awaitable[Any]]]] = {
    "Control.InsertCard": _insert_card,
    "Control.TakeCard": _take_card,
    "Control.Jam": _jam,
    "Control.ClearJam": _clear_jam,
    "Control.CardPosition": _position,
    "Control.RetainedCount": _retained,
    "Control.EmptyRetainBin": _empty_bin,
    "Control.StackerCount": _stacker,
    "Control.LoadStacker": _load_stacker,
    "Control.PowerLoss": _power,
    "Control.SlowReplies": _slow,
    "Control.WaitFor": _wait_for,
}


async def _press_keys(control: PinPadControl, payload: Any) -> Any:
    await control.press_keys(payload.keys, timeout=payload.timeout)


async def _wait_for_entry(control: PinPadControl, payload: Any) -> Any:
    await control.wait_for_entry(payload.timeout)


async def _entry_active(control: PinPadControl, payload: Any) -> Any:
    return EntryActiveCompletion(await control.entry_active())


async def _pad_power(control: PinPadControl, payload: Any) -> Any:
    await control.power_loss(payload.on)


async def _pad_slow(control: PinPadControl, payload: Any) -> Any:
    await control.slow_replies(payload.seconds)


_PIN_PAD_ACTIONS: Final[dict[str, Callable[[PinPadControl, Any], Awaitable[Any]]]] = {
    "Control.PressKeys": _press_keys,
    "Control.WaitForEntry": _wait_for_entry,
    "Control.EntryActive": _entry_active,
    "Control.PowerLoss": _pad_power,
    "Control.SlowReplies": _pad_slow,
}


async def _take_notes(control: CashDispenserControl, payload: Any) -> Any:
    return CountCompletion(await control.take_notes(timeout=payload.timeout))


async def _notes_at_exit(control: CashDispenserControl, payload: Any) -> Any:
    return CountCompletion(await control.notes_at_exit())


async def _ground_truth(control: CashDispenserControl, payload: Any) -> Any:
    return GroundTruthCompletion(dict(await control.ground_truth()))


_CASH_ACTIONS: Final[dict[str, Callable[[CashDispenserControl, Any], Awaitable[Any]]]] = {
    "Control.TakeNotes": _take_notes,
    "Control.NotesAtExit": _notes_at_exit,
    "Control.GroundTruth": _ground_truth,
    "Control.Replenish": lambda c, p: c.replenish(p.unit, p.count),
    "Control.ClearJam": lambda c, p: c.clear_jam(),
    "Control.JamNextDispense": lambda c, p: c.jam_next_dispense(p.after_notes),
    "Control.DoubleNote": lambda c, p: c.double_note_next_pick(p.unit),
    "Control.FailPick": lambda c, p: c.fail_next_pick(p.unit),
    "Control.UnitStatus": lambda c, p: c.set_unit_status(p.unit, p.status),
    "Control.JamShutter": lambda c, p: c.jam_shutter(),
    "Control.PartialRetract": lambda c, p: c.partial_retract(p.leave),
    "Control.NeverTake": lambda c, p: c.never_take(p.never),
    "Control.SafeDoor": lambda c, p: c.safe_door(p.open),
    "Control.PickTime": lambda c, p: c.pick_time(p.seconds),
    "Control.PowerLoss": lambda c, p: c.power_loss(p.on),
    "Control.SlowReplies": lambda c, p: c.slow_replies(p.seconds),
}


async def _insert_notes(control: CashAcceptorControl, payload: Any) -> Any:
    levels = payload.levels or ("fit",) * len(payload.notes)
    await control.insert_notes(
        [NoteSample(item, level) for item, level in zip(payload.notes, levels, strict=True)]
    )
    return CountCompletion(len(control.model.input_notes))


async def _take_returned(control: CashAcceptorControl, payload: Any) -> Any:
    return CountCompletion(await control.take_returned(timeout=payload.timeout))


async def _empty_unit(control: CashAcceptorControl, payload: Any) -> Any:
    return CountCompletion(await control.empty_unit(payload.unit))


async def _acceptor_exit(control: CashAcceptorControl, payload: Any) -> Any:
    return CountCompletion(await control.notes_at_exit())


async def _acceptor_truth(control: CashAcceptorControl, payload: Any) -> Any:
    return GroundTruthCompletion(dict(await control.ground_truth()))


_CASH_IN_ACTIONS: Final[dict[str, Callable[[CashAcceptorControl, Any], Awaitable[Any]]]] = {
    "Control.InsertNotes": _insert_notes,
    "Control.TakeReturned": _take_returned,
    "Control.NotesAtExit": _acceptor_exit,
    "Control.GroundTruth": _acceptor_truth,
    "Control.EmptyUnit": _empty_unit,
    "Control.Replenish": lambda c, p: c.replenish(p.unit, p.count),
    "Control.ClearJam": lambda c, p: c.clear_jam(),
    "Control.JamNextNote": lambda c, p: c.jam_next_note(),
    "Control.CashBoxFull": lambda c, p: c.cash_box_full(p.on),
    "Control.RemoveCashBox": lambda c, p: c.remove_cash_box(p.on),
    "Control.UnitStatus": lambda c, p: c.set_unit_status(p.unit, p.status),
    "Control.NeverTake": lambda c, p: c.never_take(p.never),
    "Control.SafeDoor": lambda c, p: c.safe_door(p.open),
    "Control.PickTime": lambda c, p: c.note_time(p.seconds),
    "Control.PowerLoss": lambda c, p: c.power_loss(p.on),
    "Control.SlowReplies": lambda c, p: c.slow_replies(p.seconds),
}


def _outcome(exc: BaseException, name: str) -> Outcome:
    if isinstance(exc, asyncio.CancelledError):
        return Outcome(Completion.CANCELED.value, description="the simulator is stopping")
    if isinstance(exc, HalError):
        return Outcome(exc.completion.value, error_code=exc.error_code, description=exc.message)
    if isinstance(exc, ValueError):  # an unknown condition: the caller's mistake
        return Outcome(Completion.INVALID_DATA.value, description=str(exc)[:500])
    log.error("%s failed unexpectedly", name, exc_info=(type(exc), exc, exc.__traceback__))
    return Outcome(Completion.INTERNAL_ERROR.value, description=f"{name} failed; see the log")


class ControlServer:
    """The simulator's control socket: a ROUTER acting on a world's devices.

    Args:
        endpoint: where to bind (loopback TCP, ``ipc://`` in a 0700 directory, ...;
            the policy of `hal.remote.security.check_endpoint_security` for a simulator).
        world: gives the world acted on (it changes on ``Control.Reset``).
        reset: what ``Control.Reset`` runs; ``None`` refuses it.
        max_requests: live commands per peer; more are refused ``tooManyRequests``.
    """

    def __init__(
        self,
        endpoint: str,
        world: Callable[[], World],
        *,
        reset: Callable[[], Awaitable[None]] | None = None,
        max_requests: int = 32,
    ) -> None:
        self._configured = endpoint
        self._world = world
        self._reset = reset
        self._max_requests = max_requests
        self._bound: str | None = None
        self._context: zmq.asyncio.Context | None = None
        self._socket: zmq.asyncio.Socket | None = None
        self._receiver: asyncio.Task[None] | None = None
        self._live: dict[tuple[bytes, int], asyncio.Task[None]] = {}
        self._out = Outbox(self._send, lambda session, reason: None)

    @property
    def endpoint(self) -> str:
        """The bound endpoint once started, else the one given."""
        return self._bound or self._configured

    async def start(self) -> None:
        """Check the endpoint policy, bind and start answering.

        Raises:
            ConfigurationError: the policy refuses the endpoint.
            TransportError: it cannot be bound.
        """
        if self._socket is not None:
            return
        check_endpoint_security(self._configured, None, simulator=True)
        context = self._context = zmq.asyncio.Context()
        sock = self._socket = context.socket(zmq.ROUTER)
        sock.setsockopt(zmq.LINGER, 0)
        sock.setsockopt(zmq.ROUTER_MANDATORY, 1)
        sock.setsockopt(zmq.MAXMSGSIZE, 64 * 1024)
        try:
            sock.bind(self._configured)
        except zmq.ZMQError as exc:
            await self.stop()
            raise TransportError(f"cannot bind {self._configured}: {exc}") from exc
        self._bound = sock.getsockopt_string(zmq.LAST_ENDPOINT)
        self._receiver = asyncio.get_running_loop().create_task(self._receive())

    async def stop(self) -> None:
        """Stop answering; commands still running complete ``canceled``."""
        receiver, self._receiver = self._receiver, None
        if receiver is not None:
            receiver.cancel()
            await asyncio.gather(receiver, return_exceptions=True)
        tasks = list(self._live.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._live.clear()  # commands cancelled before they started
        if self._socket is not None:
            self._socket.close(linger=100)  # let the last completions out
            self._socket = None
            if self._bound is not None:
                remove_ipc_socket(self._bound)
        if self._context is not None:
            self._context.term()
            self._context = None

    async def _receive(self) -> None:
        sock = self._socket
        assert sock is not None
        while True:
            frames = await sock.recv_multipart()
            try:
                self._handle(frames)
            except Exception:  # a bug must not stop the control socket
                log.exception("failed to handle a control message")

    def _send(self, frames: list[bytes]) -> BaseException | None:
        if self._socket is None:
            return None
        sent = self._socket.send_multipart(frames, flags=zmq.DONTWAIT)
        if isinstance(sent, asyncio.Future) and sent.done() and sent.exception() is not None:
            log.debug("a control answer was dropped: %s", sent.exception())
        return None  # a peer gone is no concern of the simulator's

    def _handle(self, frames: list[bytes]) -> None:
        peer = frames[0]
        try:
            message = decode(frames[1:], accept=_ACCEPT, limits=_LIMITS)
        except MessageError as exc:
            self._out.ack(peer, exc.request_id, exc.name, exc.status, exc.description)
            return
        header = message.header
        request_id, name, device = header.request_id, header.name, header.device
        assert request_id is not None  # decode() refuses a command without one

        def refuse(status: AckStatus, text: str) -> None:
            self._out.ack(peer, request_id, name, status, text, device)

        command = COMMANDS.get(name)
        if command is None:
            refuse(AckStatus.INVALID_MESSAGE, f"{name} is not one of {', '.join(COMMANDS)}")
            return
        if command.device:
            world = self._world()
            by_kind: Mapping[str, Mapping[str, object]] = {
                CARD_READER: world.card_readers,
                PIN_PAD: world.pin_pads,
                CASH_DISPENSER: world.cash_dispensers,
                CASH_ACCEPTOR: world.cash_acceptors,
                ID_SCANNER: world.id_scanners,
                CAMERA: world.cameras,
                PRINTER: world.printers,
            }
            offered: dict[str, object] = {}
            for kind in command.kinds:
                offered.update(by_kind.get(kind, world.models))
            if device not in offered:
                wanted = "a device in the header" if device is None else f"no device {device!r}"
                refuse(AckStatus.INVALID_MESSAGE, f"{name}: {wanted}; offered: {_list(offered)}")
                return
        elif device is not None:
            refuse(AckStatus.INVALID_MESSAGE, f"{name} acts on no device")
            return
        try:
            payload = codec_for(command.payload).decode(message.payload, (), "")
        except WireValueError as exc:
            refuse(AckStatus.INVALID_MESSAGE, f"{name}: {exc}")
            return
        if (peer, request_id) in self._live:
            refuse(AckStatus.INVALID_REQUEST_ID, f"requestId {request_id} is still live")
            return
        if sum(1 for p, _ in self._live if p == peer) >= self._max_requests:
            refuse(AckStatus.TOO_MANY_REQUESTS, f"{self._max_requests} commands are running")
            return
        self._out.ack(peer, request_id, name, device=device)
        key = (peer, request_id)
        task = asyncio.get_running_loop().create_task(self._run(key, command, device, payload))
        self._live[key] = task

    async def _run(
        self, key: tuple[bytes, int], command: ControlCommand, device: str | None, payload: Any
    ) -> None:
        peer, request_id = key
        completion: dict[str, Any] | None = None
        blobs: list[bytes] = []
        try:
            result = await self._act(command, device, payload)
            if command.completion is not None:
                completion = codec_for(command.completion).encode(result, blobs)
            outcome = Outcome(_SUCCESS)
        except BaseException as exc:  # CancelledError included: it ends this command only
            outcome = _outcome(exc, command.name)
            blobs = []
        finally:
            del self._live[key]
        self._out.completion(peer, request_id, command.name, device, outcome, completion, blobs)

    async def _act(self, command: ControlCommand, device: str | None, payload: Any) -> Any:
        if command.name == "Control.Reset":
            if self._reset is None:
                raise ConfigurationError("this control socket cannot reset its world")
            await self._reset()
            return None
        assert device is not None
        world = self._world()
        if device in world.pin_pads:
            return await _PIN_PAD_ACTIONS[command.name](world.pin_pad_control(device), payload)
        if device in world.cash_dispensers:
            cash = world.cash_dispenser_control(device)
            return await _CASH_ACTIONS[command.name](cash, payload)
        if device in world.cash_acceptors:
            acceptor = world.cash_acceptor_control(device)
            return await _CASH_IN_ACTIONS[command.name](acceptor, payload)
        if device in world.id_scanners:
            scanner = world.id_scanner_control(device)
            return await ID_ACTIONS[command.name](scanner, payload)
        if device in world.cameras:
            camera = world.camera_control(device)
            return await CAMERA_ACTIONS[command.name](camera, payload)
        if device in world.printers:
            printer = world.printer_control(device)
            return await PRINTER_ACTIONS[command.name](printer, payload)
        control = world.card_reader_control(device)
        return await _ACTIONS[command.name](control, payload)


def _list(names: Mapping[str, object]) -> str:
    return ", ".join(sorted(names)) or "none"
