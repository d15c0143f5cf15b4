"""The sync facade: signatures match the ABCs, calls forward, the loop thread stops."""

from __future__ import annotations

import asyncio
import importlib
import inspect
import pkgutil
import signal
import threading
from abc import abstractmethod
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import hal
import hal.devices
import hal.sync
from hal import registry
from hal.config import Kiosk
from hal.device import Device
from hal.events import Subscription
from hal.sync import SyncCardReader, SyncDevice, SyncKiosk, SyncPinPad, SyncSubscription


@pytest.fixture(autouse=True)
def _stop_the_loop_thread() -> Iterator[None]:
    yield
    hal.sync.shutdown()
    assert not [t for t in threading.enumerate() if t.name == "hal.sync"]


# --- signatures ---------------------------------------------------------------------------


def _differences(interface: type, wrapper: type, sync_methods: tuple[str, ...] = ()) -> list[str]:
    """Every public async method of ``interface`` (and each of ``sync_methods``) whose
    twin on ``wrapper`` is missing, async, or has other parameters or return type."""
    problems = []
    for name, member in inspect.getmembers(interface):
        if name.startswith("_"):
            continue
        is_async = inspect.iscoroutinefunction(member)
        if not is_async and name not in sync_methods:
            continue
        twin = getattr(wrapper, name, None)
        if twin is None:
            problems.append(f"{wrapper.__name__} lacks {name}()")
            continue
        if inspect.iscoroutinefunction(twin):
            problems.append(f"{wrapper.__name__}.{name} is async")
        want = inspect.signature(member, eval_str=True)
        got = inspect.signature(twin, eval_str=True)
        if list(want.parameters.values()) != list(got.parameters.values()):
            problems.append(f"{wrapper.__name__}.{name}{got} differs from {name}{want}")
        if is_async and want.return_annotation != got.return_annotation:
            problems.append(f"{wrapper.__name__}.{name} returns {got.return_annotation}")
    return problems


PAIRS = [
    (Device, SyncDevice, ("events",)),
    *((interface, wrapper, ("events",)) for interface, wrapper in hal.sync.WRAPPERS.items()),
    (Subscription, SyncSubscription, ("get_nowait", "drain", "close")),
    (Kiosk, SyncKiosk, ()),
]


@pytest.mark.parametrize(("interface", "wrapper", "sync_methods"), PAIRS)
def test_every_async_method_has_a_sync_twin_with_the_same_signature(
    interface: type, wrapper: type, sync_methods: tuple[str, ...]
) -> None:
    assert _differences(interface, wrapper, sync_methods) == []


def _async_differences(interface: type, implementation: type) -> list[str]:
    """Every public async method of ``interface`` whose twin on ``implementation`` is
    missing, not async, or has other parameters or return type."""
    problems = []
    for name, member in inspect.getmembers(interface):
        if name.startswith("_") or not inspect.iscoroutinefunction(member):
            continue
        if hasattr(Device, name):
            continue  # status() and capabilities() return the type parameters
        twin = getattr(implementation, name, None)
        if twin is None or not inspect.iscoroutinefunction(twin):
            problems.append(f"{implementation.__name__}.{name} is missing or not async")
            continue
        want = inspect.signature(member, eval_str=True)
        got = inspect.signature(twin, eval_str=True)
        if list(want.parameters.values()) != list(got.parameters.values()):
            problems.append(f"{implementation.__name__}.{name}{got} differs from {name}{want}")
        if want.return_annotation != got.return_annotation:
            problems.append(f"{implementation.__name__}.{name} returns {got.return_annotation}")
    return problems


def _implementations() -> list[tuple[type, type]]:
    from hal.devices.cash_acceptor import CashAcceptor
    from hal.devices.cash_acceptor_service import CashAcceptorService
    from hal.devices.cash_dispenser import CashDispenser
    from hal.devices.cash_dispenser_service import CashDispenserService
    from hal.remote import RemoteCashAcceptor, RemoteCashDispenser

    return [
        (CashAcceptor, CashAcceptorService),
        (CashAcceptor, RemoteCashAcceptor),
        (CashDispenser, CashDispenserService),
        (CashDispenser, RemoteCashDispenser),
    ]


@pytest.mark.parametrize(("interface", "implementation"), _implementations())
def test_the_service_and_the_remote_client_keep_the_interface_signatures(
    interface: type, implementation: type
) -> None:
    assert _async_differences(interface, implementation) == []


def test_the_cash_acceptor_has_its_sync_wrapper() -> None:
    from hal.devices.cash_acceptor import CashAcceptor

    assert hal.sync.WRAPPERS[CashAcceptor] is hal.sync.SyncCashAcceptor
    assert _differences(CashAcceptor, hal.sync.SyncCashAcceptor, ("events",)) == []

    class Drifted(hal.sync.SyncCashAcceptor):
        def cash_in(self, *, timeout: float | None = 30.0) -> Any:  # type: ignore[override]
            pass

    problems = _differences(CashAcceptor, Drifted)
    assert problems
    assert all(problem.startswith("Drifted.cash_in") for problem in problems), problems


def test_every_public_device_interface_has_a_wrapper() -> None:
    interfaces = set()
    for info in pkgutil.iter_modules(hal.devices.__path__):
        if info.name.endswith("_service"):
            continue  # implementations, not interfaces
        module = importlib.import_module(f"hal.devices.{info.name}")
        for _, cls in inspect.getmembers(module, inspect.isclass):
            # An interface names itself; an abstract base of services inherits the name.
            own = vars(cls).get("interface")
            if issubclass(cls, Device) and inspect.isabstract(cls) and own:
                interfaces.add(cls)
    assert hal.CardReader in interfaces
    assert interfaces <= set(hal.sync.WRAPPERS), interfaces - set(hal.sync.WRAPPERS)
    assert all(issubclass(wrapper, SyncDevice) for wrapper in hal.sync.WRAPPERS.values())


def test_the_check_catches_a_method_without_a_twin() -> None:
    class Grown(hal.CardReader):
        @abstractmethod
        async def eject_all(self, *, timeout: float | None = None) -> None:
            """A new command nobody wrapped."""

    class Drifted(SyncCardReader):
        def move(self, to: Any, *, timeout: float = 1.0) -> None:  # type: ignore[override]
            pass

    assert _differences(Grown, SyncCardReader) == ["SyncCardReader lacks eject_all()"]
    (problem,) = _differences(hal.CardReader, Drifted)
    assert problem.startswith("Drifted.move(")


# --- forwarding, against the fake driver --------------------------------------------------


def test_open_forwards_every_call(fake_driver: registry.DriverSpec) -> None:
    reader = hal.sync.open("fake://card_reader?retain_capacity=5")
    assert isinstance(reader, SyncCardReader)
    assert reader.name == "card_reader"
    with reader as opened:
        assert opened is reader
        with reader.events(kinds=[hal.InsertCard, hal.MediaInserted]) as events:
            result = reader.read_raw_data([hal.Track.TRACK1, hal.Track.TRACK2], timeout=5)
            assert result[hal.Track.TRACK2] == hal.CardData(hal.DataStatus.OK, b"visa")
            assert isinstance(events.get(timeout=1), hal.InsertCard)
            assert isinstance(events.wait_for(hal.MediaInserted, timeout=1), hal.MediaInserted)
            assert events.get_nowait() is None
            assert events.drain() == []
        assert events.closed
        assert reader.status() == hal.CardReaderStatus()
        assert reader.capabilities().retain_capacity == 5
        assert reader.chip_power(hal.ChipPowerAction.COLD) == b"\x3b\x02\x14\x50"
        assert reader.chip_io(b"\x00\xa4\x04\x00", timeout=1) == b"\x90\x00"
        reader.write_raw_data({hal.Track.TRACK2: b"123"})
        reader.move(hal.MoveTarget.EXIT)
        reader.reset()
        assert reader.retain_bin().capacity == 5
        reader.empty_retain_bin(reason="test")
    device: Any = reader.device
    assert device.calls == [
        "open",
        "read_raw_data",
        "chip_power cold",
        "chip_io",
        "write_raw_data",
        "move exit",
        "reset auto",
        "empty_retain_bin",
        "close",
    ]


def test_errors_come_back_unchanged(fake_driver: registry.DriverSpec) -> None:
    with pytest.raises(hal.DriverNotFound):
        hal.sync.open("nope://x")
    reader = hal.sync.open("fake://card_reader?fail_open=true")
    with pytest.raises(hal.HardwareError, match="the fake was told to fail"):
        reader.open()


def test_iterating_events_ends_when_the_subscription_closes(
    fake_driver: registry.DriverSpec,
) -> None:
    with hal.sync.open("fake://card_reader") as reader:
        events = reader.events()
        reader.read_raw_data([hal.Track.TRACK2])
        events.close()
        assert [type(e) for e in events] == [hal.InsertCard, hal.MediaInserted]


def test_calling_from_the_loop_thread_is_refused(fake_driver: registry.DriverSpec) -> None:
    reader = hal.sync.open("fake://card_reader")

    async def on_the_loop() -> None:
        reader.capabilities()

    with pytest.raises(RuntimeError, match=r"^hal\.sync called from the event loop thread; await"):
        hal.sync.run(on_the_loop)


def test_an_interrupt_cancels_the_command_and_waits_for_it_to_settle(
    fake_driver: registry.DriverSpec, monkeypatch: pytest.MonkeyPatch
) -> None:
    reader = hal.sync.open("fake://card_reader")
    device: Any = reader.device
    settled = []

    async def slow_read(tracks: Any, *, timeout: float | None = None) -> Any:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            await asyncio.sleep(0.05)  # the reader takes a moment to give the card back
            settled.append("card returned")
            raise

    monkeypatch.setattr(device, "read_raw_data", slow_read)
    main = threading.main_thread().ident
    assert main == threading.get_ident()
    assert main is not None
    timer = threading.Timer(0.2, signal.pthread_kill, (main, signal.SIGINT))
    timer.start()
    with pytest.raises(KeyboardInterrupt):
        reader.read_raw_data([hal.Track.TRACK2])
    timer.join()
    assert settled == ["card returned"]


def test_shutdown_closes_open_devices_and_old_wrappers_refuse(
    fake_driver: registry.DriverSpec,
) -> None:
    reader = hal.sync.open("fake://card_reader")
    reader.open()
    device: Any = reader.device
    hal.sync.shutdown()
    assert device.calls == ["open", "close"]
    assert not [t for t in threading.enumerate() if t.name == "hal.sync"]
    with pytest.raises(RuntimeError, match=r"hal\.sync was shut down; open the device again"):
        reader.status()
    hal.sync.shutdown()  # nothing running: harmless
    with hal.sync.open("fake://card_reader") as again:  # a new loop starts
        assert again.status() == hal.CardReaderStatus()


def test_sync_kiosk(fake_driver: registry.DriverSpec, tmp_path: Path) -> None:
    path = tmp_path / "kiosk.toml"
    path.write_text('[card_reader]\ndriver = "fake"\n[card_reader.options]\nprofile = "x"\n')
    kiosk = SyncKiosk.from_config(path)
    assert kiosk.name == "kiosk"
    assert isinstance(kiosk.kiosk, Kiosk)
    assert list(kiosk.devices) == ["card_reader"]
    assert "card_reader" in kiosk
    with kiosk:
        assert kiosk.card_reader.read_raw_data([hal.Track.TRACK3])[hal.Track.TRACK3].data == b"x"
        assert kiosk["card_reader"] is kiosk.card_reader
    with pytest.raises(hal.ConfigurationError, match="has no pin_pad"):
        kiosk["pin_pad"]


# --- end to end, against the simulator -------------------------------------------------------


def test_end_to_end_with_the_simulator() -> None:
    from simulator.world import get_world, reset_worlds

    try:
        address = "sim://card_reader?world=sync_e2e&clock_scale=0.001"
        with hal.sync.open(address) as reader:
            assert isinstance(reader, SyncCardReader)
            control = get_world("sync_e2e").card_reader_control()
            with reader.events() as events:
                sample = hal.sync.run(control.insert_card, "visa")
                result = reader.read_raw_data([hal.Track.TRACK2], timeout=10)
                assert result[hal.Track.TRACK2].data == sample.track2
                events.wait_for(hal.MediaInserted, timeout=5)
                reader.move(hal.MoveTarget.EXIT, timeout=10)
                hal.sync.run(control.take_card)
                events.wait_for(hal.MediaRemoved, timeout=5)
            assert reader.status().media == hal.MediaStatus.NOT_PRESENT
    finally:
        reset_worlds()


def test_a_cash_in_through_the_facade() -> None:
    from hal.devices.cash_acceptor import CashInState, InsertItems, NoteLevel, SubCashIn
    from hal.stimulus import NoteSample
    from simulator.world import get_world, reset_worlds

    try:
        address = "sim://cash_acceptor?world=sync_cash_in&clock_scale=0.001"
        with hal.sync.open(address) as acceptor:
            assert isinstance(acceptor, hal.sync.SyncCashAcceptor)
            control = get_world("sync_cash_in").cash_acceptor_control()
            assert {t.item for t in acceptor.note_types()} >= {"CNY:10000", "CNY:5000"}
            with acceptor.events(kinds=[InsertItems, SubCashIn]) as events:
                assert acceptor.cash_in_start(max_items=10).status is CashInState.ACTIVE
                notes = ["CNY:10000", "CNY:10000", NoteSample("CNY:5000", NoteLevel.UNFIT)]
                hal.sync.run(control.insert_notes, notes)
                result = acceptor.cash_in(timeout=10)
                assert dict(result.accepted) == {"CNY:10000": 2, "CNY:5000": 1}
                assert isinstance(events.get(timeout=1), InsertItems)
                assert events.wait_for(SubCashIn, timeout=1).accepted == result.accepted
            with pytest.raises(hal.CashInActive):
                acceptor.cash_in_start()
            ended = acceptor.cash_in_end(timeout=10)
            assert ended.notes() == 3
            assert acceptor.get_cash_in_status().status is CashInState.OK
            counts = {u.info.id: u.count for u in acceptor.cash_units()}
            truth = hal.sync.run(control.ground_truth)
            assert counts == {unit: truth[unit] for unit in counts}
            assert sum(counts.values()) == 3
    finally:
        reset_worlds()


def test_a_pin_pad_through_the_facade() -> None:
    from concurrent.futures import ThreadPoolExecutor

    from hal.devices.pin_pad_service import PinPadService
    from protocols import pinblock, tr31
    from protocols.crypto_primitives import Algorithm, encrypt_ecb
    from protocols.kcv import kcv_legacy
    from protocols.tr31_header import Header, Version
    from simulator.models.pin_pad import PinPadModel
    from simulator.pin_pad_control import PinPadControl

    pin, pan = "739182", "4761739001010010"
    parts = (bytes.fromhex("0123456789ABCDEFFEDCBA9876543210"), bytes(range(16)))
    kek = bytes(a ^ b for a, b in zip(*parts, strict=True))
    pin_key, data_key = bytes(range(16, 32)), bytes(range(32, 48))
    tdes = Algorithm.TDES

    model = PinPadModel()
    control = PinPadControl(model)
    pad = hal.sync.wrap(PinPadService(model))
    assert isinstance(pad, SyncPinPad)
    with pad, ThreadPoolExecutor(1) as customer:
        assert pad.capabilities().pin_max == 12
        for part in parts:
            pad.import_key_component("kek", part, algorithm=tdes, kcv=kcv_legacy(tdes, part))
        assert pad.activate_key("kek", kcv=kcv_legacy(tdes, kek)).state is hal.KeyState.LOADED
        for name, key, usage, mode in [
            ("pin", pin_key, hal.KeyUsage.PIN, hal.ModeOfUse.ENCRYPT),
            ("data", data_key, hal.KeyUsage.DATA, hal.ModeOfUse.BOTH),
        ]:
            pad.import_key(
                name,
                encrypt_ecb(tdes, kek, key),
                kek="kek",
                usage=usage,
                algorithm=tdes,
                mode_of_use=mode,
                kcv=kcv_legacy(tdes, key),
                timeout=5,
            )
        block = tr31.wrap(
            kek, Header(version=Version.B, key_usage="M3", algorithm="T", mode_of_use="C"), kek
        )
        with pytest.raises(hal.UseViolation):  # a K0 key is no KBPK
            pad.import_key_block("mac", block, kbpk="kek")
        details = pad.keys()
        assert [k.name for k in details] == ["data", "kek", "pin"]
        assert pad.key_detail("pin").kcv == kcv_legacy(tdes, pin_key)
        assert pad.generate_kcv("data") == kcv_legacy(tdes, data_key)

        with pad.events(kinds=[hal.KeyEvent]) as events:
            pad.set_pin_block_data("pin", format=hal.PinFormat.ISO0, customer_data=pan)
            typing = customer.submit(hal.sync.run, control.type_pin, pin)
            result = pad.pin_entry(min_len=4, max_len=8, timeout=5)
            typing.result(timeout=5)
            assert result == hal.PinEntryResult(6, hal.EntryCompletion.ENTER, "enter")
            assert events.wait_for(hal.KeyEvent, timeout=1).digit is None
        made = pad.get_pin_block("pin", format=hal.PinFormat.ISO0, customer_data=pan, timeout=5)
        assert pinblock.decipher_pin_block(0, pin_key, made.block, pan) == pin

        keys = ["four", "two", "enter"]
        typing = customer.submit(hal.sync.run, control.press_keys, keys)
        assert pad.data_entry(max_len=4, timeout=5).data == "42"
        typing.result(timeout=5)

        data = bytes(range(8))
        sealed = pad.encrypt("data", data, mode=hal.CipherMode.CBC, iv=bytes(8))
        assert sealed == encrypt_ecb(tdes, data_key, data)  # one block, zero IV
        assert pad.decrypt("data", sealed) == data
        with pytest.raises(hal.UseViolation):
            pad.generate_mac("data", data, padding=2)
        with pytest.raises(hal.UseViolation):
            pad.verify_mac("pin", data, bytes(4), padding=1)
        assert len(pad.generate_random(16, timeout=5)) == 16
        pad.delete_key("data")
        pad.reset()
        pad.initialize()
        assert pad.status() == hal.PinPadStatus(keys=0)
