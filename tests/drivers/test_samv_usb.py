"""The real ``samv`` driver over USB: the SAM_V emulator on a simulated USB device with the
module's four bulk pipes (OUT 0x02 / 0x06, IN 0x81 / 0x85) on the simulator's pyusb
backend, reached through ``hal.open("samv+usb://...")``: the real pyusb stack, the real
usb transport with its named pipes, the driver's pipe joiner, and the service.
"""

from __future__ import annotations

import asyncio
import logging

import pytest

import hal
from drivers.id_scanner.samv_usb import SamvUsbPipes
from hal.devices.id_scanner import DocumentKind, IdScanner
from hal.errors import HalTimeout, InvalidMedia, SecurityFail
from hal.transports.usb import UsbOptions, UsbTransport
from protocols.samv import Command, SamvDecoder, build_reply
from simulator.id_profiles import document_profile
from simulator.wire.samv_usb import SAMV_PRODUCT_ID, SamvUsbLink, split_frames
from simulator.wire.usb import SIM_VENDOR_ID
from tests.samv_rig import SamvUsbRig, samv_registered


async def test_documents_read_over_the_four_pipes() -> None:
    rig = SamvUsbRig()
    rig.place("resident_fingerprints")
    with samv_registered():
        async with rig.wire():
            device = hal.open(rig.address())
            assert isinstance(device, IdScanner)
            async with device:
                assert (await device.capabilities()).security_module_id.startswith("05.01-")
                document = await device.read_document(
                    fingerprints=True, newest_address=True, timeout=5
                )
                assert document.valid
                expected = document_profile("resident_fingerprints").expected
                assert expected is not None
                assert document.fingerprints == expected.fingerprints
                assert document.newest_address == expected.newest_address
                rig.place("foreigner_2017")
                other = await device.read_document(timeout=5)
                assert other.kind is DocumentKind.CN_FOREIGNER_PERMANENT_2017
    link = rig.device.firmware
    assert isinstance(link, SamvUsbLink)
    assert link.received_on[0x02] > 0
    assert link.received_on[0x06] > 0
    assert link.received_on[0x02] % 7 == 0  # only headers on the header pipe


async def test_errors_and_a_dirty_pipe_over_usb() -> None:
    rig = SamvUsbRig()
    with samv_registered():
        async with rig.wire() as emulator:
            device = hal.open(rig.address())
            assert isinstance(device, IdScanner)
            async with device:
                rig.place("unreadable")
                with pytest.raises(InvalidMedia):
                    await device.read_document(timeout=5)
                rig.place("forged")
                with pytest.raises(SecurityFail):
                    await device.read_document(timeout=5)
                rig.place("hmt")
                emulator.inject_garbage(b"\x13\x37garbage")
                emulator.corrupt_next_replies(1)
                document = await device.read_document(timeout=5)
                assert document.kind is DocumentKind.CN_HMT_RESIDENCE_PERMIT
                # No card: the search goes on until the service's timeout.
                rig.table.take()
                with pytest.raises(HalTimeout):
                    await device.read_document(timeout=0.7)
                rig.place("resident")
                assert (await device.read_document(timeout=5)).kind is DocumentKind.CN_RESIDENT_ID


async def test_the_spy_shows_the_joined_stream_masked(caplog: pytest.LogCaptureFixture) -> None:
    rig = SamvUsbRig()
    rig.place("resident")
    expected = document_profile("resident").expected
    assert expected is not None
    with samv_registered(), caplog.at_level(logging.INFO, logger="hal.transports.spy"):
        async with rig.wire():
            device = hal.open(rig.address(spy=True))
            assert isinstance(device, IdScanner)
            async with device:
                await device.read_document(timeout=5)
    assert "<text 256 bytes> <photo 1024 bytes> **" in caplog.text
    assert expected.document_number not in caplog.text


def test_frames_are_cut_after_len_and_noise_goes_to_the_header_pipe() -> None:
    frame = build_reply(0x90, bytes(range(100)))
    pieces = split_frames(b"\xaa\x00" + frame + frame)
    assert pieces[0] == (0x81, b"\xaa\x00")
    assert pieces[1] == (0x81, frame[:7])
    assert pieces[2] == (0x85, frame[7:])
    assert pieces[3:] == [(0x81, frame[:7]), (0x85, frame[7:])]


async def test_the_joiner_keeps_the_stream_however_the_pipes_deliver() -> None:
    rig = SamvUsbRig()
    with samv_registered():
        async with rig.wire():
            usb = UsbTransport(
                SIM_VENDOR_ID, SAMV_PRODUCT_ID, UsbOptions(backend="sim", serial=rig.serial)
            )
            pipes = SamvUsbPipes(usb)
            await pipes.open()
            try:
                decoder = SamvDecoder("reply")
                for command in (Command.SAM_STATUS, Command.READ_SAM_ID, Command.FIND_CARD):
                    await pipes.write(command.frame())
                    frames: list[object] = []
                    while not frames:
                        frames = list(decoder.feed(await pipes.read(3, timeout=2)))
                    assert len(frames) == 1
                assert decoder.skipped == 0
                with pytest.raises(HalTimeout):
                    await pipes.read_exactly(1, timeout=0.05)
                with pytest.raises(ValueError, match="whole frames"):
                    await pipes.write(b"\x01\x02")
            finally:
                await pipes.close()
            await asyncio.sleep(0)
