"""The sync facade: hal for scripts and GUI threads that run no event loop.

::

    import hal
    import hal.sync

    with hal.sync.open("sim://card_reader") as reader:
        result = reader.read_raw_data([hal.Track.TRACK2], timeout=30)
        with reader.events() as events:
            reader.move(hal.MoveTarget.EXIT)
            events.wait_for(hal.MediaRemoved, timeout=60)

    with hal.sync.SyncKiosk.from_config("kiosk.toml") as kiosk:
        kiosk.card_reader.reset()

Devices run on one background event loop in a daemon thread (``hal.sync``), started
on first use and shared. Each wrapper method has the signature of the async method it
forwards to (a test checks them against the ABCs), blocks until the command completes
and raises what it raised. A ``KeyboardInterrupt`` while waiting cancels the command
and waits for it to settle with the device. A call from the loop's own thread would
deadlock, so it raises `RuntimeError`. `shutdown()` (also run at exit) closes what is
still open through the facade and stops the loop; wrappers made before it refuse to run.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import logging
import os
import signal
import threading
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from typing import Any, Generic, ParamSpec, Self, TypeVar, overload

from hal import registry
from hal.address import DeviceAddress
from hal.config import Kiosk
from hal.device import CapsT, Device, StatusT
from hal.devices.card_reader import (
    CardReader,
    CardReaderCapabilities,
    CardReaderStatus,
    CardStacker,
    ChipPowerAction,
    MoveTarget,
    ReadResult,
    ResetAction,
    RetainBin,
    Track,
)
from hal.devices.pin_pad import (
    DEFAULT_TERMINATE_KEYS,
    CipherMode,
    DataEntryResult,
    KcvMethod,
    KeyAlgorithm,
    KeyDetail,
    KeyUsage,
    ModeOfUse,
    PinBlock,
    PinEntryResult,
    PinFormat,
    PinPad,
    PinPadCapabilities,
    PinPadStatus,
)
from hal.events import E, Event, Subscription

__all__ = [
    "WRAPPERS",
    "SyncCardReader",
    "SyncDevice",
    "SyncKiosk",
    "SyncPinPad",
    "SyncSubscription",
    "open",
    "run",
    "shutdown",
    "wrap",
]

log = logging.getLogger(__name__)

P = ParamSpec("P")
T = TypeVar("T")

LOOP_THREAD_ERROR = "hal.sync called from the event loop thread; await the async API instead"
_SETTLE_TIMEOUT = 60.0  # how long an interrupted call waits for its command to settle


class _LoopThread:
    """One event loop running in a daemon thread, and the devices opened on it."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.pid = os.getpid()  # a forked child needs a loop thread of its own
        self.stopped = False
        #: What was opened through the facade and not closed yet, by id().
        self.opened: dict[int, Device[Any, Any] | Kiosk] = {}
        self._ready = threading.Event()
        self.thread = threading.Thread(target=self._run, name="hal.sync", daemon=True)
        self.thread.start()
        self._ready.wait()

    def _run(self) -> None:
        if hasattr(signal, "pthread_sigmask"):
            # Ctrl-C must reach a thread waiting on us, not this one.
            signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        asyncio.set_event_loop(self.loop)
        self.loop.call_soon(self._ready.set)
        try:
            self.loop.run_forever()
        finally:
            self._finish()

    def _finish(self) -> None:
        loop = self.loop
        try:
            tasks = asyncio.all_tasks(loop)
            for task in tasks:
                task.cancel()
            loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.run_until_complete(loop.shutdown_default_executor())
        finally:
            asyncio.set_event_loop(None)
            loop.close()

    def check_caller(self) -> None:
        if threading.current_thread() is self.thread:
            raise RuntimeError(LOOP_THREAD_ERROR)
        if self.stopped:
            raise RuntimeError("hal.sync was shut down; open the device again")

    def call(self, fn: Callable[P, Awaitable[T]], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """Run ``fn(*args, **kwargs)`` on the loop and wait for its result."""
        self.check_caller()
        result: concurrent.futures.Future[T] = concurrent.futures.Future()
        tasks: list[asyncio.Task[T]] = []

        def start() -> None:
            if not result.set_running_or_notify_cancel():
                return  # the caller gave up before the loop got to it
            try:
                task = self.loop.create_task(_awaited(fn(*args, **kwargs)))
            except BaseException as exc:
                result.set_exception(exc)
                return
            tasks.append(task)
            task.add_done_callback(lambda done: _copy_outcome(done, result))

        self.loop.call_soon_threadsafe(start)
        try:
            return result.result()
        except BaseException:
            if not result.done() and not result.cancel():
                # Interrupted while the command runs: cancel it and let it settle.
                self.loop.call_soon_threadsafe(lambda: [t.cancel() for t in tasks])
                concurrent.futures.wait([result], timeout=_SETTLE_TIMEOUT)
            raise

    def call_soon(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """Run a plain function on the loop thread (objects there are not thread-safe)."""

        async def run() -> T:
            return fn(*args, **kwargs)

        return self.call(run)

    def open(self, thing: Device[Any, Any] | Kiosk) -> None:
        """Open a device or kiosk, remembering it for `shutdown()`."""
        self.call(thing.open)
        self.opened[id(thing)] = thing

    def close(self, thing: Device[Any, Any] | Kiosk) -> None:
        """Close a device or kiosk, forgetting it even if closing fails."""
        try:
            self.call(thing.close)
        finally:
            self.opened.pop(id(thing), None)

    def stop(self) -> None:
        self.stopped = True
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join()


async def _awaited(awaitable: Awaitable[T]) -> T:
    return await awaitable


def _copy_outcome(task: asyncio.Task[T], result: concurrent.futures.Future[T]) -> None:
    if task.cancelled():
        result.set_exception(asyncio.CancelledError())
    elif (exc := task.exception()) is not None:
        result.set_exception(exc)
    else:
        result.set_result(task.result())


_lock = threading.Lock()
_current: _LoopThread | None = None


def _loop() -> _LoopThread:
    global _current
    with _lock:
        if _current is None or _current.pid != os.getpid():
            _current = _LoopThread()
        return _current


def shutdown() -> None:
    """Close the devices still open through the facade and stop its loop thread.

    Errors closing devices are logged. Safe to call when nothing runs.

    Raises:
        RuntimeError: called from the loop's own thread.
    """
    global _current
    with _lock:
        runner = _current
        if runner is None:
            return
        runner.check_caller()
        _current = None
    if runner.pid == os.getpid():
        for thing in list(runner.opened.values()):
            try:
                runner.close(thing)
            except Exception:
                log.exception("hal.sync.shutdown: closing %r failed", thing)
        runner.stop()


atexit.register(shutdown)


def run(fn: Callable[P, Awaitable[T]], /, *args: P.args, **kwargs: P.kwargs) -> T:
    """Run an async function on the facade's loop and wait for its result.

    For what the wrappers do not cover, such as the simulator's control API, whose
    objects live on the same loop as the devices::

        hal.sync.run(control.insert_card, "visa")

    Raises:
        RuntimeError: called from the loop's own thread.
    """
    return _loop().call(fn, *args, **kwargs)


class _OpenedByWith(ABC):
    """``with`` calls `open()` and `close()`."""

    @abstractmethod
    def open(self) -> None: ...
    @abstractmethod
    def close(self) -> None: ...

    def __enter__(self) -> Self:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class SyncSubscription:
    """A device's event stream for threads: `Subscription` with blocking calls.

    Iterate it (``for event in events``) until it is closed, or call `get()`.
    """

    def __init__(self, subscription: Subscription, runner: _LoopThread) -> None:
        self._subscription = subscription
        self._runner = runner

    @property
    def closed(self) -> bool:
        """True once the subscription or its device is closed."""
        return self._subscription.closed

    def get(self, timeout: float | None = None) -> Event:
        """Wait for the next event (see `Subscription.get`)."""
        return self._runner.call(self._subscription.get, timeout)

    def wait_for(
        self,
        kind: type[E],
        timeout: float | None = None,
        predicate: Callable[[E], bool] | None = None,
    ) -> E:
        """Skip events until one of ``kind`` (matching ``predicate``) arrives."""
        return self._runner.call(self._subscription.wait_for, kind, timeout, predicate)

    def get_nowait(self) -> Event | None:
        """The next queued event, or ``None`` if none is queued."""
        return self._runner.call_soon(self._subscription.get_nowait)

    def drain(self) -> list[Event]:
        """Every event queued now, without waiting."""
        return self._runner.call_soon(self._subscription.drain)

    def close(self) -> None:
        """Stop receiving; queued events can still be read."""
        self._runner.call_soon(self._subscription.close)

    def __iter__(self) -> Iterator[Event]:
        while True:
            try:
                yield self.get()
            except EOFError:
                return

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class SyncDevice(_OpenedByWith, Generic[StatusT, CapsT]):
    """A `Device` for threads: the same methods, blocking; ``with`` opens and closes.

    Args:
        device: the async device (not yet opened, or opened through the facade).
    """

    def __init__(self, device: Device[StatusT, CapsT]) -> None:
        self._device = device
        self._runner = _loop()

    @property
    def device(self) -> Device[StatusT, CapsT]:
        """The async device this wraps (use it only on the facade's loop)."""
        return self._device

    @property
    def name(self) -> str:
        """The device's name."""
        return self._device.name

    def _call(self, fn: Callable[P, Awaitable[T]], /, *args: P.args, **kwargs: P.kwargs) -> T:
        return self._runner.call(fn, *args, **kwargs)

    def open(self) -> None:
        """Connect to the device (see `Device.open`)."""
        self._runner.open(self._device)

    def close(self) -> None:
        """Disconnect (see `Device.close`)."""
        self._runner.close(self._device)

    def status(self) -> StatusT:
        """The current status (see `Device.status`)."""
        return self._call(self._device.status)

    def capabilities(self) -> CapsT:
        """What the device can do (see `Device.capabilities`)."""
        return self._call(self._device.capabilities)

    def events(
        self, maxsize: int = 256, kinds: Iterable[type[Event]] | None = None
    ) -> SyncSubscription:
        """Subscribe to the device's events from this moment on (see `Device.events`)."""
        subscription = self._runner.call_soon(self._device.events, maxsize, kinds)
        return SyncSubscription(subscription, self._runner)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._device!r})"


class SyncCardReader(SyncDevice[CardReaderStatus, CardReaderCapabilities]):
    """A `CardReader` for threads; each method forwards to the async one."""

    _device: CardReader

    def __init__(self, device: CardReader) -> None:
        super().__init__(device)

    def read_raw_data(self, tracks: Iterable[Track], *, timeout: float | None = None) -> ReadResult:
        """See `CardReader.read_raw_data`."""
        return self._call(self._device.read_raw_data, tracks, timeout=timeout)

    def write_raw_data(self, data: Mapping[Track, bytes], *, timeout: float | None = None) -> None:
        """See `CardReader.write_raw_data`."""
        self._call(self._device.write_raw_data, data, timeout=timeout)

    def move(
        self, to: MoveTarget, *, from_unit: str | None = None, timeout: float | None = None
    ) -> None:
        """See `CardReader.move`."""
        self._call(self._device.move, to, from_unit=from_unit, timeout=timeout)

    def chip_power(self, action: ChipPowerAction, *, timeout: float | None = None) -> bytes:
        """See `CardReader.chip_power`."""
        return self._call(self._device.chip_power, action, timeout=timeout)

    def chip_io(self, apdu: bytes, *, timeout: float | None = None) -> bytes:
        """See `CardReader.chip_io`."""
        return self._call(self._device.chip_io, apdu, timeout=timeout)

    def reset(self, to: ResetAction = ResetAction.AUTO, *, timeout: float | None = None) -> None:
        """See `CardReader.reset`."""
        self._call(self._device.reset, to, timeout=timeout)

    def retain_bin(self) -> RetainBin:
        """See `CardReader.retain_bin`."""
        return self._call(self._device.retain_bin)

    def stacker(self) -> CardStacker:
        """See `CardReader.stacker`."""
        return self._call(self._device.stacker)

    def load_stacker(self, count: int, *, reason: str = "") -> None:
        """See `CardReader.load_stacker`."""
        self._call(self._device.load_stacker, count, reason=reason)

    def empty_retain_bin(self, *, reason: str = "") -> None:
        """See `CardReader.empty_retain_bin`."""
        self._call(self._device.empty_retain_bin, reason=reason)


class SyncPinPad(SyncDevice[PinPadStatus, PinPadCapabilities]):
    """A `PinPad` for threads; each method forwards to the async one."""

    _device: PinPad

    def __init__(self, device: PinPad) -> None:
        super().__init__(device)

    def pin_entry(
        self,
        *,
        min_len: int = 4,
        max_len: int = 12,
        auto_end: bool = False,
        active_keys: Iterable[str] | None = None,
        terminate_keys: Iterable[str] = DEFAULT_TERMINATE_KEYS,
        timeout: float | None = None,
    ) -> PinEntryResult:
        """See `PinPad.pin_entry`."""
        return self._call(
            self._device.pin_entry,
            min_len=min_len,
            max_len=max_len,
            auto_end=auto_end,
            active_keys=active_keys,
            terminate_keys=terminate_keys,
            timeout=timeout,
        )

    def data_entry(
        self,
        *,
        max_len: int,
        auto_end: bool = False,
        active_keys: Iterable[str] | None = None,
        terminate_keys: Iterable[str] = DEFAULT_TERMINATE_KEYS,
        timeout: float | None = None,
    ) -> DataEntryResult:
        """See `PinPad.data_entry`."""
        return self._call(
            self._device.data_entry,
            max_len=max_len,
            auto_end=auto_end,
            active_keys=active_keys,
            terminate_keys=terminate_keys,
            timeout=timeout,
        )

    def get_pin_block(
        self,
        key: str,
        *,
        format: PinFormat,
        customer_data: str = "",
        padding: int = 0x0F,
        timeout: float | None = None,
    ) -> PinBlock:
        """See `PinPad.get_pin_block`."""
        return self._call(
            self._device.get_pin_block,
            key,
            format=format,
            customer_data=customer_data,
            padding=padding,
            timeout=timeout,
        )

    def set_pin_block_data(
        self,
        key: str,
        *,
        format: PinFormat,
        customer_data: str = "",
        padding: int = 0x0F,
        timeout: float | None = None,
    ) -> None:
        """See `PinPad.set_pin_block_data`."""
        self._call(
            self._device.set_pin_block_data,
            key,
            format=format,
            customer_data=customer_data,
            padding=padding,
            timeout=timeout,
        )

    def import_key_component(
        self,
        name: str,
        component: bytes,
        *,
        algorithm: KeyAlgorithm,
        kcv: bytes,
        usage: KeyUsage = KeyUsage.KEK,
        mode_of_use: ModeOfUse = ModeOfUse.BOTH,
        timeout: float | None = None,
    ) -> KeyDetail:
        """See `PinPad.import_key_component`."""
        return self._call(
            self._device.import_key_component,
            name,
            component,
            algorithm=algorithm,
            kcv=kcv,
            usage=usage,
            mode_of_use=mode_of_use,
            timeout=timeout,
        )

    def activate_key(self, name: str, *, kcv: bytes, timeout: float | None = None) -> KeyDetail:
        """See `PinPad.activate_key`."""
        return self._call(self._device.activate_key, name, kcv=kcv, timeout=timeout)

    def import_key(
        self,
        name: str,
        value: bytes,
        *,
        kek: str,
        usage: KeyUsage,
        algorithm: KeyAlgorithm,
        mode_of_use: ModeOfUse,
        kcv: bytes,
        ksn: bytes = b"",
        timeout: float | None = None,
    ) -> KeyDetail:
        """See `PinPad.import_key`."""
        return self._call(
            self._device.import_key,
            name,
            value,
            kek=kek,
            usage=usage,
            algorithm=algorithm,
            mode_of_use=mode_of_use,
            kcv=kcv,
            ksn=ksn,
            timeout=timeout,
        )

    def import_key_block(
        self, name: str, key_block: str, *, kbpk: str, timeout: float | None = None
    ) -> KeyDetail:
        """See `PinPad.import_key_block`."""
        return self._call(
            self._device.import_key_block, name, key_block, kbpk=kbpk, timeout=timeout
        )

    def delete_key(self, name: str, *, timeout: float | None = None) -> None:
        """See `PinPad.delete_key`."""
        self._call(self._device.delete_key, name, timeout=timeout)

    def key_detail(self, name: str, *, timeout: float | None = None) -> KeyDetail:
        """See `PinPad.key_detail`."""
        return self._call(self._device.key_detail, name, timeout=timeout)

    def keys(self, *, timeout: float | None = None) -> tuple[KeyDetail, ...]:
        """See `PinPad.keys`."""
        return self._call(self._device.keys, timeout=timeout)

    def generate_kcv(
        self,
        name: str,
        *,
        method: KcvMethod = KcvMethod.LEGACY,
        timeout: float | None = None,
    ) -> bytes:
        """See `PinPad.generate_kcv`."""
        return self._call(self._device.generate_kcv, name, method=method, timeout=timeout)

    def initialize(self, *, timeout: float | None = None) -> None:
        """See `PinPad.initialize`."""
        self._call(self._device.initialize, timeout=timeout)

    def encrypt(
        self,
        key: str,
        data: bytes,
        *,
        mode: CipherMode = CipherMode.ECB,
        iv: bytes | None = None,
        timeout: float | None = None,
    ) -> bytes:
        """See `PinPad.encrypt`."""
        return self._call(self._device.encrypt, key, data, mode=mode, iv=iv, timeout=timeout)

    def decrypt(
        self,
        key: str,
        data: bytes,
        *,
        mode: CipherMode = CipherMode.ECB,
        iv: bytes | None = None,
        timeout: float | None = None,
    ) -> bytes:
        """See `PinPad.decrypt`."""
        return self._call(self._device.decrypt, key, data, mode=mode, iv=iv, timeout=timeout)

    def generate_mac(
        self,
        key: str,
        data: bytes,
        *,
        padding: int = 1,
        timeout: float | None = None,
    ) -> bytes:
        """See `PinPad.generate_mac`."""
        return self._call(self._device.generate_mac, key, data, padding=padding, timeout=timeout)

    def verify_mac(
        self,
        key: str,
        data: bytes,
        mac: bytes,
        *,
        padding: int = 1,
        timeout: float | None = None,
    ) -> bool:
        """See `PinPad.verify_mac`."""
        return self._call(self._device.verify_mac, key, data, mac, padding=padding, timeout=timeout)

    def generate_random(self, length: int = 8, *, timeout: float | None = None) -> bytes:
        """See `PinPad.generate_random`."""
        return self._call(self._device.generate_random, length, timeout=timeout)

    def reset(self, *, timeout: float | None = None) -> None:
        """See `PinPad.reset`."""
        self._call(self._device.reset, timeout=timeout)


#: The wrapper class of each public device interface.
WRAPPERS: Mapping[type[Any], type[SyncDevice[Any, Any]]] = {
    CardReader: SyncCardReader,
    PinPad: SyncPinPad,
}


@overload
def wrap(device: CardReader) -> SyncCardReader: ...
@overload
def wrap(device: PinPad) -> SyncPinPad: ...
@overload
def wrap(device: Device[StatusT, CapsT]) -> SyncDevice[StatusT, CapsT]: ...
def wrap(device: Device[Any, Any]) -> SyncDevice[Any, Any]:
    """The sync wrapper for an async device: the most specific one in `WRAPPERS`."""
    for cls in type(device).__mro__:
        if cls in WRAPPERS:
            return WRAPPERS[cls](device)
    return SyncDevice(device)


def open(address: str | DeviceAddress) -> SyncDevice[Any, Any]:
    """The device an address names, wrapped for threads, not yet opened.

    ``with hal.sync.open(...) as device:`` opens and closes it. A card reader comes as
    a `SyncCardReader`, a PIN pad as a `SyncPinPad`.

    Raises:
        ConfigurationError: as `hal.open`.
        DriverNotFound: as `hal.open`.
    """
    if not isinstance(address, DeviceAddress):
        address = DeviceAddress.parse(address)
    parsed = address

    async def build() -> Device[Any, Any]:
        return registry.open_device(parsed)

    return wrap(_loop().call(build))


class SyncKiosk(_OpenedByWith):
    """A `Kiosk` for threads: ``with`` opens every device and closes them.

    Args:
        kiosk: the async kiosk, built on the facade's loop (see `from_config`).
    """

    def __init__(self, kiosk: Kiosk) -> None:
        self._kiosk = kiosk
        self._runner = _loop()
        self._devices = {name: wrap(device) for name, device in kiosk.devices.items()}

    @classmethod
    def from_config(cls, path: str | os.PathLike[str]) -> SyncKiosk:
        """Build (without opening) the devices a kiosk file describes (see `Kiosk`)."""

        async def build() -> Kiosk:
            return Kiosk.from_config(path)

        return cls(_loop().call(build))

    @property
    def kiosk(self) -> Kiosk:
        """The async kiosk this wraps."""
        return self._kiosk

    @property
    def name(self) -> str:
        """The kiosk's name."""
        return self._kiosk.name

    @property
    def devices(self) -> Mapping[str, SyncDevice[Any, Any]]:
        """Every device, wrapped, by name."""
        return dict(self._devices)

    @property
    def card_reader(self) -> SyncCardReader:
        """The card reader (see `Kiosk.card_reader`)."""
        self._kiosk.card_reader  # noqa: B018 - raises the kiosk's error if there is none
        reader = self._devices["card_reader"]
        assert isinstance(reader, SyncCardReader)
        return reader

    def __getitem__(self, name: str) -> SyncDevice[Any, Any]:
        """The device called ``name``, wrapped (see `Kiosk.__getitem__`)."""
        self._kiosk[name]  # raises the kiosk's error if there is none
        return self._devices[name]

    def __contains__(self, name: object) -> bool:
        return name in self._devices

    def open(self) -> None:
        """Open every device, or none (see `Kiosk.open`)."""
        self._runner.open(self._kiosk)

    def close(self) -> None:
        """Close every device (see `Kiosk.close`)."""
        self._runner.close(self._kiosk)
