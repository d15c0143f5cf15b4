"""The clear PIN and clear keys never leave the PIN pad (issue 5, item 6; DESIGN "Security
rules").

A whole session runs through each implementation: a KEK loaded as two clear components,
a PIN key and a MAC key under it, a PIN entry with a distinctive PIN, its ISO-0 block,
errors provoked on purpose (a wrong component KCV, a wrong key KCV, a component of the
wrong length, key usage violations, an entry that times out with the whole PIN typed,
one cancelled with the whole PIN typed, a second block of one PIN), and `initialize`.
Everything an observer could see is captured: every log record of every logger at DEBUG
(message, arguments, exception text), every event, every exception (text, repr, args,
the whole traceback with its causes), the repr of every public dataclass of
`hal.devices.pin_pad_model` and of every result, and the wire: over ``zmq://`` every
frame between the app and the server (`tests.remote_tap.FrameTap`), over the zt588 driver
every frame and key byte on the pty, both ways. The PIN is in none of them, in any of its
spellings (`tests.secret_forms`), nor is any key: the clear components, the combined KEK,
the PIN key, the MAC key. Clear key material is allowed on the wire only in the commands
that load it: over ``zmq://`` each component in its ``ImportKeyComponent``; to the ZT588,
which has no component loading, the KEK the driver combined, in its load-plain-key
command ('1') (so the serial line between the PC and the pad carries it once).

The search helper is shown to find what it looks for: a PIN planted in a log line or a
frame, in each spelling, is found.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import inspect
import itertools
import logging
import tempfile
import traceback
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

import hal
from hal.devices import pin_pad_model
from hal.devices.pin_pad import (
    DIGIT_KEYS,
    EntryCompletion,
    EntrySpec,
    IllegalKeyAccess,
    Initialized,
    KeyAlgorithm,
    KeyAttributes,
    KeyDetail,
    KeyEvent,
    KeyUsage,
    ModeOfUse,
    PinBlock,
    PinFormat,
    PinPad,
)
from hal.devices.pin_pad_service import PinPadService
from hal.errors import (
    HalTimeout,
    InvalidKeyLength,
    KcvMismatch,
    KeyNotFound,
    SequenceError,
    UnsupportedOperation,
    UseViolation,
)
from hal.events import Event
from hal.remote import RemoteServer
from hal.stimulus import PinPadStimulus
from protocols import pinblock, zt588
from protocols.crypto_primitives import encrypt_ecb, xor_bytes
from protocols.kcv import compute_kcv
from simulator.models.pin_pad import PinPadModel
from simulator.pin_pad_control import PinPadControl
from simulator.world import get_world, reset_worlds
from tellerhal.conformance.pin_pad_steps import make_key
from tests.remote_tap import FrameTap, Tapped
from tests.secret_forms import Found, Secret, key_secret, leaks, pin_secret
from tests.zt588_rig import PtyRig, zt588_registered

#: The customer's PIN: distinctive and long enough that no form of it turns up by
#: chance in random key material, ciphertext or timestamps (see `tests.secret_forms`).
PIN = "47291653"
PAN = "4761739001010010"
TDES = KeyAlgorithm.TDES

_worlds = itertools.count()


@pytest.fixture(autouse=True)
def _fresh_worlds() -> Iterator[None]:
    reset_worlds()
    yield
    reset_worlds()


# --- the search helper finds what it looks for -------------------------------------------


def _pin_keys(pin: str) -> list[str]:
    return [DIGIT_KEYS[int(d)] for d in pin]


def test_the_search_finds_a_planted_pin_in_every_form(caplog: pytest.LogCaptureFixture) -> None:
    secret = pin_secret(PIN)
    log = logging.getLogger("tellerhal.test.planted")
    with caplog.at_level(logging.DEBUG):
        for form, pattern in secret.patterns.items():
            caplog.clear()
            if pattern.isascii():
                log.debug("a careless line: before%safter", pattern.decode("ascii"))
                hay: str | bytes = caplog.text
            else:  # raw bytes (UCS-2, BCD) travel in frames, not in text
                hay = b"\x00header" + pattern + b"\xfftrailer"
            found = leaks([secret], [("planted", hay)])
            assert any(f.form == form for f in found), (form, found)
    # base64 of the PIN inside a longer blob, at every alignment, is found.
    for raw in (PIN.encode(), bytes.fromhex(PIN)):
        for prefix in (b"", b"x", b"xy", b"xyz"):
            blob = base64.b64encode(prefix + raw + b"tail").decode()
            assert leaks([secret], [("b64", f"data={blob}")]), (prefix, raw)
    # The PIN as a bytes repr of its UCS-2 and BCD forms, in a log line.
    for raw in (PIN.encode("utf-16-le"), bytes.fromhex(PIN)):
        assert leaks([secret], [("repr", f"got {raw!r}")]), raw
    # The names of the keys pressed, in order.
    pressed = ", ".join(_pin_keys(PIN))
    assert leaks([secret], [("keys", f"pressed [{pressed}]")])
    # And a haystack without the PIN has none of it.
    assert not leaks([secret], [("clean", "PIN entry ended enter, 8 digits"), ("b", b"\x47\x29")])


def test_the_search_finds_a_planted_key_in_every_form() -> None:
    key = bytes.fromhex("0123456789ABCDEFFEDCBA9876543210")
    secret = key_secret(key, "KEK")
    for form, pattern in secret.patterns.items():
        found = leaks([secret], [("planted", b"<" + pattern + b">")])
        assert any(f.form == form for f in found), (form, found)
    assert leaks([secret], [("log", f"loaded {key!r}")])
    assert leaks([secret], [("log", f"key={key.hex()}")])
    assert leaks([secret], [("log", f"k={base64.b64encode(b'.' + key).decode()}")])
    assert leaks([secret], [("half", f"left half {key[:8].hex().upper()}")])
    assert not leaks([secret], [("other", key[::-1])])


# --- a whole session, everything captured --------------------------------------------------


@dataclass
class Seen:
    """Everything an observer could see of a session, as (where, text or bytes)."""

    texts: list[tuple[str, str | bytes]] = field(default_factory=list)
    objects: list[object] = field(default_factory=list)
    errors: list[BaseException] = field(default_factory=list)

    def keep(self, what: str, value: Any) -> Any:
        self.objects.append(value)
        self.texts.append((f"repr of {what}", repr(value)))
        self.texts.append((f"str of {what}", str(value)))
        return value

    async def refused(
        self,
        kind: type[BaseException] | tuple[type[BaseException], ...],
        awaitable: Any,
        what: str,
    ) -> None:
        try:
            result = await awaitable
        except kind as exc:
            self.errors.append(exc)
            return
        raise AssertionError(f"{what}: expected {kind}, got {result!r}")

    def error_texts(self) -> Iterator[tuple[str, str]]:
        for n, exc in enumerate(self.errors):
            chain: list[BaseException] = []
            cause: BaseException | None = exc
            while cause is not None and cause not in chain:
                chain.append(cause)
                cause = cause.__cause__ or cause.__context__
            for depth, link in enumerate(chain):
                where = f"error {n} ({type(exc).__name__}) link {depth}"
                yield where, str(link)
                yield where, repr(link)
                yield where, repr(link.args)
                yield where, repr(vars(link)) if hasattr(link, "__dict__") else ""
            yield f"error {n} traceback", "".join(traceback.format_exception(exc))


@dataclass(frozen=True)
class Made:
    """The keys the session made (to search for) and what it saw."""

    components: tuple[bytes, bytes]
    kek: bytes
    pin_key: bytes
    mac_key: bytes


async def _type(stimulus: PinPadStimulus, keys: list[str], patience: float) -> None:
    await stimulus.press_keys(keys, timeout=patience)


async def _entry(
    pad: PinPad, stimulus: PinPadStimulus, keys: list[str], seen: Seen, *, timeout: float = 5.0
) -> Any:
    task = asyncio.create_task(pad.pin_entry(min_len=4, max_len=12, timeout=timeout))
    try:
        await _type(stimulus, keys, 5.0)
        return seen.keep("PinEntryResult", await task)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def whole_session(pad: PinPad, stimulus: PinPadStimulus, seen: Seen) -> Made:
    """The session every implementation goes through; security properties are checked
    on the way (a wrong KCV refuses the key, usage is enforced, initialize erases)."""
    kek = make_key(TDES)
    first = make_key(TDES)
    second = xor_bytes(kek, first)
    pin_key = make_key(TDES)
    mac_key = make_key(TDES)
    caps = seen.keep("capabilities", await pad.capabilities())
    features = caps.features()
    # A pad without MACs (the ZT588) has no MAC key: the KEK is the key of another usage.
    other = "mac" if "mac" in features else "kek"
    seen.keep("status", await pad.status())
    with pad.events(maxsize=10_000) as events:
        # A wrong component KCV: refused, nothing kept.
        await seen.refused(
            KcvMismatch,
            pad.import_key_component("kek", first, algorithm=TDES, kcv=compute_kcv(TDES, second)),
            "a component with another component's KCV",
        )
        assert not await pad.keys()
        await seen.refused(
            InvalidKeyLength,
            pad.import_key_component(
                "kek", first + second[:3], algorithm=TDES, kcv=compute_kcv(TDES, first)
            ),
            "a component of 19 bytes",
        )
        for component in (first, second):
            seen.keep(
                "KeyDetail",
                await pad.import_key_component(
                    "kek", component, algorithm=TDES, kcv=compute_kcv(TDES, component)
                ),
            )
        detail = seen.keep("KeyDetail", await pad.activate_key("kek", kcv=compute_kcv(TDES, kek)))
        seen.keep("KeyAttributes", detail.attributes)
        # A wrong key KCV: refused, nothing loaded.
        await seen.refused(
            KcvMismatch,
            pad.import_key(
                "pin",
                encrypt_ecb(TDES, kek, pin_key),
                kek="kek",
                usage=KeyUsage.PIN,
                algorithm=TDES,
                mode_of_use=ModeOfUse.ENCRYPT,
                kcv=compute_kcv(TDES, mac_key),
            ),
            "a PIN key with a wrong KCV",
        )
        await seen.refused(KeyNotFound, pad.key_detail("pin"), "the refused PIN key")
        loading = [("pin", pin_key, KeyUsage.PIN, ModeOfUse.ENCRYPT)]
        if other == "mac":
            loading.append(("mac", mac_key, KeyUsage.MAC_ISO9797_3, ModeOfUse.GENERATE_VERIFY))
        for name, value, usage, mode in loading:
            seen.keep(
                "KeyDetail",
                await pad.import_key(
                    name,
                    encrypt_ecb(TDES, kek, value),
                    kek="kek",
                    usage=usage,
                    algorithm=TDES,
                    mode_of_use=mode,
                    kcv=compute_kcv(TDES, value),
                ),
            )
        seen.keep("keys", await pad.keys())
        seen.keep("status", await pad.status())
        # The whole PIN, then enter; its ISO-0 block holds it.
        if caps.pin_block_data_first:
            await pad.set_pin_block_data("pin", format=PinFormat.ISO0, customer_data=PAN)
        result = await _entry(pad, stimulus, [*_pin_keys(PIN), "enter"], seen)
        assert (result.digits, result.completion) == (len(PIN), EntryCompletion.ENTER)
        block = seen.keep(
            "PinBlock", await pad.get_pin_block("pin", format=PinFormat.ISO0, customer_data=PAN)
        )
        assert pinblock.decipher_pin_block(0, pin_key, block.block, PAN) == PIN
        # The PIN makes one block only.
        await seen.refused(
            SequenceError,
            pad.get_pin_block("pin", format=PinFormat.ISO0, customer_data=PAN),
            "a second block",
        )
        # Key usage: a MAC key (or the KEK) makes no PIN block; a PIN key encrypts and
        # MACs nothing (a pad that does neither says so: unsupported).
        with pad.events(kinds=[IllegalKeyAccess]) as illegal:
            await seen.refused(
                UseViolation,
                pad.set_pin_block_data(other, format=PinFormat.ISO0, customer_data=PAN),
                "PIN block data under a key of another usage",
            )
            if not caps.pin_block_data_first:
                await _entry(pad, stimulus, [*_pin_keys(PIN), "enter"], seen)
                await seen.refused(
                    UseViolation,
                    pad.get_pin_block(other, format=PinFormat.ISO0, customer_data=PAN),
                    "a PIN block under a key of another usage",
                )
            for feature, call in (
                ("encrypt", pad.encrypt("pin", bytes(8))),
                ("mac", pad.generate_mac("pin", bytes(8))),
            ):
                kinds = (
                    UseViolation if feature in features else (UseViolation, UnsupportedOperation)
                )
                await seen.refused(kinds, call, f"{feature} under the PIN key")
            access = seen.keep("event", await illegal.get(timeout=5))
            assert isinstance(access, IllegalKeyAccess)
            assert access.error_code == "useViolation"
        if other == "mac":
            seen.keep("MAC", await pad.generate_mac("mac", b"an amount: 125.50"))
        # The whole PIN typed, then the entry times out; then typed and cancelled.
        if caps.pin_block_data_first:
            await pad.set_pin_block_data("pin", format=PinFormat.ISO0, customer_data=PAN)
        timed = asyncio.create_task(pad.pin_entry(min_len=4, max_len=12, timeout=1.0))
        await _type(stimulus, _pin_keys(PIN), 5.0)
        await seen.refused(HalTimeout, timed, "an entry left with the whole PIN typed")
        await seen.refused(
            SequenceError,
            pad.get_pin_block("pin", format=PinFormat.ISO0, customer_data=PAN),
            "a block after a timeout",
        )
        if caps.pin_block_data_first:
            await pad.set_pin_block_data("pin", format=PinFormat.ISO0, customer_data=PAN)
        cancelled = await _entry(pad, stimulus, [*_pin_keys(PIN), "cancel"], seen)
        assert cancelled.completion is EntryCompletion.CANCEL
        # Zeroize: no key works afterwards.
        await pad.initialize()
        for name in {"kek", "pin", other}:
            await seen.refused(KeyNotFound, pad.key_detail(name), f"{name} after initialize")
        await seen.refused(
            KeyNotFound,
            pad.set_pin_block_data("pin", format=PinFormat.ISO0, customer_data=PAN),
            "the erased PIN key",
        )
        if other == "mac":
            await seen.refused(KeyNotFound, pad.generate_mac("mac", b"data"), "the erased MAC")
        await seen.refused(
            KeyNotFound,
            pad.import_key(
                "again",
                encrypt_ecb(TDES, kek, pin_key),
                kek="kek",
                usage=KeyUsage.PIN,
                algorithm=TDES,
                mode_of_use=ModeOfUse.ENCRYPT,
                kcv=compute_kcv(TDES, pin_key),
            ),
            "a key under the erased KEK",
        )
        assert not await pad.keys()
        seen.keep("status", await pad.status())
        for _ in range(3):
            await asyncio.sleep(0)
        for event in events.drain():
            seen.keep(f"event {type(event).__name__}", event)
    kinds = {type(o) for o in seen.objects}
    assert Initialized in kinds, "no Initialized event"
    return Made((first, second), kek, pin_key, mac_key)


def _model_dataclasses() -> set[type]:
    return {
        obj
        for name in pin_pad_model.__all__
        if dataclasses.is_dataclass(obj := getattr(pin_pad_model, name)) and inspect.isclass(obj)
    }


def _more_dataclasses(seen: Seen) -> None:
    """The model's dataclasses a session does not return through the interface."""
    seen.keep(
        "EntrySpec",
        EntrySpec(4, 12, False, frozenset(DIGIT_KEYS) | {"enter"}, frozenset({"enter"})),
    )
    seen.keep("DataEntryResult", pin_pad_model.DataEntryResult("125.50", EntryCompletion.ENTER))


# --- implementations ------------------------------------------------------------------------


@dataclass
class Rig:
    """An implementation to run the session through.

    Attributes:
        open: opens the pad as an app does.
        stimulus: the customer's fingers.
        wire: every unit that crossed between the app and the device (or server), as
            ``(where, bytes)``, after the session; empty when nothing crosses.
        clear_load: whether a wire unit is one that loads clear key material (a clear
            component, and on a pad that combines components on the host, the KEK).
        kek_crosses: the combined KEK travels in clear (the ZT588 has no component
            loading: the driver combines the components and loads the KEK with '1').
    """

    open: Callable[[], PinPad]
    stimulus: PinPadStimulus
    wire: Callable[[], list[tuple[str, str | bytes]]] = lambda: []
    clear_load: Callable[[str], bool] = lambda where: False
    kek_crosses: bool = False


def _opener(address: str) -> Callable[[], PinPad]:
    def open_pad() -> PinPad:
        device = hal.open(address)
        assert isinstance(device, PinPad)
        return device

    return open_pad


@asynccontextmanager
async def sim_rig() -> AsyncIterator[Rig]:
    world = f"secrecy{next(_worlds)}"
    address = f"sim://pin_pad?world={world}"
    hal.open(address)
    yield Rig(_opener(address), get_world(world).pin_pad_control())


@asynccontextmanager
async def zmq_rig() -> AsyncIterator[Rig]:
    """The simulated pad behind a `RemoteServer` (in this process, so its logs are
    captured too), reached through a `FrameTap` that records every frame."""
    world = get_world(f"secrecy{next(_worlds)}")
    world.pin_pad()
    async with (
        RemoteServer(
            {"pin_pad": world.open_pin_pad()}, "tcp://127.0.0.1:0", simulator=True
        ) as server,
        FrameTap(server.endpoint) as tap,
    ):
        yield Rig(
            _opener(tap.address("pin_pad")),
            world.pin_pad_control(),
            wire=lambda: _zmq_wire(tap.messages),
            clear_load=lambda where: where.endswith("to_server KeyManagement.ImportKeyComponent"),
        )


def _zmq_wire(messages: list[Tapped]) -> list[tuple[str, str | bytes]]:
    names = {m.header.get("name") for m in messages}
    assert {"PinPad.GetPinBlock", "Keyboard.PinEntry"} <= names, names
    wire: list[tuple[str, str | bytes]] = [
        (f"frame {n}.{i} {m.direction} {m.header.get('name')}", frame)
        for n, m in enumerate(messages)
        for i, frame in enumerate(m.frames)
    ]
    key_events = [
        m.payload.get("digit")
        for m in messages
        if m.header.get("name") == "Keyboard.KeyEvent" and isinstance(m.payload, dict)
    ]
    wire.append(("the key events' keys on the wire, in order", " ".join(map(str, key_events))))
    return wire


@asynccontextmanager
async def zt588_rig() -> AsyncIterator[Rig]:
    """The zt588 driver on a pty, against the ZT588 emulator: every byte the host wrote
    (the emulator's ``received``) and every byte the pad sent (recorded on its link)."""
    with tempfile.TemporaryDirectory(prefix="zt588-") as directory, zt588_registered():
        rig = PtyRig(Path(directory))
        async with rig.wire() as emulator:
            sent: list[bytes] = []
            link_send = emulator.link.send

            async def send(data: bytes) -> None:
                sent.append(bytes(data))
                await link_send(data)

            emulator.link.send = send  # type: ignore[method-assign]
            yield Rig(
                _opener(rig.address()),
                emulator.keyboard,
                wire=lambda: _zt588_wire(bytes(emulator.received), b"".join(sent)),
                clear_load=lambda where: where.startswith("host frame") and where.endswith("'1'"),
                kek_crosses=True,
            )


def _zt588_wire(host: bytes, pad: bytes) -> list[tuple[str, str | bytes]]:
    """Both directions cut into frames (by the codec's decoder), labelled by command;
    the pad's key bytes between frames in order as one more unit."""
    wire: list[tuple[str, str | bytes]] = []
    for side, stream in (("host", host), ("pad", pad)):
        keys = bytearray()
        for n, item in enumerate(zt588.Zt588Decoder().feed(stream)):
            if isinstance(item, zt588.Frame):
                wire.append((f"{side} frame {n} command {chr(item.text[0])!r}", item.text))
            elif isinstance(item, zt588.KeyPress):
                keys.append(item.raw)
            else:
                wire.append((f"{side} bytes {n}", bytes(getattr(item, "raw", b""))))
        wire.append((f"{side} key bytes, in order", bytes(keys)))
    assert any(" command '7'" in where for where, _ in wire), "no PIN block was read"
    return wire


RIGS: dict[str, Callable[[], Any]] = {"sim": sim_rig, "zmq": zmq_rig, "zt588": zt588_rig}


def _debug_everywhere(caplog: pytest.LogCaptureFixture) -> None:
    """DEBUG for the root logger and every logger that exists (restored after the test)."""
    caplog.set_level(logging.DEBUG)
    for name, logger in list(logging.root.manager.loggerDict.items()):
        if isinstance(logger, logging.Logger):
            caplog.set_level(logging.DEBUG, logger=name)
            assert logger.propagate or logger.handlers, name


def _log_texts(caplog: pytest.LogCaptureFixture) -> list[tuple[str, str]]:
    texts: list[tuple[str, str]] = [("the captured log", caplog.text)]
    for n, record in enumerate(caplog.records):
        where = f"log record {n} ({record.name})"
        texts.append((where, record.getMessage()))
        texts.append((where, repr(record.args)))
        if record.exc_info:
            texts.append((where, "".join(traceback.format_exception(*record.exc_info))))
        if record.exc_text:
            texts.append((where, record.exc_text))
    return texts


async def observe(rig: Callable[[], Any], caplog: pytest.LogCaptureFixture) -> list[Found]:
    """Run the whole session through ``rig`` and return every leak found: of the PIN,
    the keys and the components in everything observed, of the full PAN outside the
    wire, and on the wire (if the rig records one) of the PIN or a key, or of clear key
    material anywhere but in the commands that load it into the pad."""
    _debug_everywhere(caplog)
    seen = Seen()
    async with rig() as built:
        async with built.open() as pad:
            made = await whole_session(pad, built.stimulus, seen)
            seen.keep("the pad", pad)
        seen.keep("the stimulus", built.stimulus)
        wire, clear_load, kek_crosses = built.wire(), built.clear_load, built.kek_crosses
    _more_dataclasses(seen)
    missing = _model_dataclasses() - {type(o) for o in seen.objects}
    assert not missing, f"no instance of {sorted(t.__name__ for t in missing)} was searched"
    assert seen.errors, "the session provoked no error"
    assert caplog.records, "the session logged nothing"
    pressed = [o.digit for o in seen.objects if isinstance(o, KeyEvent)]
    seen.texts.append(("the key events' keys, in order", " ".join(map(str, pressed))))

    pin = pin_secret(PIN)
    keys = [
        key_secret(made.kek, "KEK"),
        key_secret(made.pin_key, "PIN key"),
        key_secret(made.mac_key, "MAC key"),
    ]
    components = [key_secret(c, f"component {n}") for n, c in enumerate(made.components, 1)]
    pan = Secret("PAN", {"ASCII": PAN.encode(), "BCD": bytes.fromhex(PAN)})
    observed = [*seen.texts, *seen.error_texts(), *_log_texts(caplog)]
    found = leaks([pin, *keys, *components, pan], observed)
    if not wire:
        return found
    kek, never = keys[0], keys[1:]
    found += leaks([pin, *never, *([] if kek_crosses else [kek])], wire)
    # Clear key material travels only in the commands that load it into the pad.
    # (What carries the key to the pad must be seen, or the search saw the wrong wire:
    # each component, or the KEK a driver combined from them.)
    for material in [*components, *([kek] if kek_crosses else [])]:
        hits = leaks([material], wire)
        carrier = material is kek or not kek_crosses
        assert hits or not carrier, f"{material.name} never reached the pad over the wire"
        found += [f for f in hits if not clear_load(f.where)]
    return found


@pytest.mark.parametrize("rig", sorted(RIGS))
async def test_no_pin_and_no_key_escapes_a_whole_session(
    rig: str, caplog: pytest.LogCaptureFixture
) -> None:
    found = await observe(RIGS[rig], caplog)
    assert not found, found[:10]


# --- and the session's search catches a pad that leaks ---------------------------------------

_leak_log = logging.getLogger("simulator.models.pin_pad")


class _LogsThePin(PinPadModel):
    async def pin_block(
        self, key: str, format: PinFormat, customer_data: str, padding: int
    ) -> PinBlock:
        _leak_log.debug("making a block of %s", self._pin.decode())
        return await super().pin_block(key, format, customer_data, padding)


class _NamesDigits(PinPadModel):
    def _emit(self, event: Event) -> None:
        if isinstance(event, KeyEvent) and event.digit is None:
            event = dataclasses.replace(event, digit=self._last_key)
        super()._emit(event)

    def press(self, key: str) -> bool:
        self._last_key = key
        return super().press(key)


class _EchoesComponent(PinPadModel):
    async def load_component(
        self, name: str, component: bytes, attributes: KeyAttributes, kcv: bytes
    ) -> KeyDetail:
        try:
            return await super().load_component(name, component, attributes, kcv)
        except KcvMismatch as exc:
            raise KcvMismatch(f"component {component.hex()} does not match") from exc


@asynccontextmanager
async def _leaky_rig(model: PinPadModel) -> AsyncIterator[Rig]:
    yield Rig(lambda: PinPadService(model), PinPadControl(model))


@pytest.mark.parametrize(
    ("leaky", "secret"),
    [(_LogsThePin, "PIN"), (_EchoesComponent, "component 1")],
    ids=["logs_the_pin", "echoes_a_component"],
)
async def test_the_session_search_catches_a_leaking_pad(
    leaky: type[PinPadModel], secret: str, caplog: pytest.LogCaptureFixture
) -> None:
    found = await observe(lambda: _leaky_rig(leaky()), caplog)
    assert secret in {f.secret for f in found}, found


async def test_the_service_drops_the_digits_a_backend_names_in_pin_entry_events(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # A backend whose key events name each digit pressed (the second line of defence:
    # PinPadService strips anything but a function key's name during a PIN entry).
    found = await observe(lambda: _leaky_rig(_NamesDigits()), caplog)
    assert found == []
    assert any("the name was dropped" in r.getMessage() for r in caplog.records)
