"""Chip blocks to an IdentityDocument and back (hal.devices.id_documents): each card kind,
dates that are not dates (None, text kept in raw), long-term validity, the photo passed
through, fingerprints split with their positions, the newest address, malformed blocks,
round trips and random bytes (only ProtocolError may come out).

Synthetic people only.
"""

from __future__ import annotations

import contextlib
import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hal.devices.id_documents import (
    document_from_chip,
    fingerprint_block,
    newest_address_block,
    text_block_for,
)
from hal.devices.id_scanner_model import (
    DocumentKind,
    Fingerprint,
    IdentityDocument,
    ImageFormat,
    Photo,
    Sex,
)
from protocols.errors import ProtocolError
from protocols.samv_text import (
    Foreigner2017Text,
    Foreigner2023Text,
    HmtPermitText,
    ResidentText,
    build_text_block,
)

PHOTO = bytes(range(256)) * 4  # a stand-in WLT blob: passed through untouched


def prints(first: int = 11, second: int = 16) -> bytes:
    one = bytes([0x41, 0x01, 0, 0, 0, first]) + bytes(506)
    two = bytes([0x41, 0x01, 0, 0, 0, second]) + bytes(range(250)) + bytes(256)
    return one + two


RESIDENT = ResidentText(
    name="张三",
    sex="1",
    ethnicity="01",
    birth_date="19900307",
    address="北京市西城区某某路1号",
    number="11010519900307001X",
    issuer="北京市公安局西城分局",
    valid_from="20200101",
    valid_to="20400101",
)


def test_resident_card() -> None:
    doc = document_from_chip(build_text_block(RESIDENT), PHOTO, None, None)
    assert doc == IdentityDocument(
        kind=DocumentKind.CN_RESIDENT_ID,
        name="张三",
        sex=Sex.MALE,
        ethnicity="01",
        birth_date=dt.date(1990, 3, 7),
        address="北京市西城区某某路1号",
        document_number="11010519900307001X",
        issuer="北京市公安局西城分局",
        valid_from=dt.date(2020, 1, 1),
        valid_to=dt.date(2040, 1, 1),
        photo=Photo(PHOTO, ImageFormat.WLT),
        fingerprints_present=None,
    )
    assert doc.checks == ()
    assert doc.raw == {}
    assert doc.photo is not None
    assert doc.photo.data == PHOTO


def test_long_term_and_bad_dates_keep_the_text() -> None:
    text = ResidentText(
        name="王五", sex="2", birth_date="19491331", valid_from="2O200101", valid_to="长期"
    )
    doc = document_from_chip(build_text_block(text), b"", b"", b"")
    assert doc.long_term
    assert doc.valid_to is None
    assert doc.birth_date is None
    assert doc.valid_from is None
    assert doc.raw == {"birth_date": "19491331", "valid_from": "2O200101"}
    assert doc.photo is None
    assert doc.sex is Sex.FEMALE
    assert doc.fingerprints == ()
    assert doc.fingerprints_present is False
    assert doc.newest_address == ""
    # And back: the raw text goes back where it came from.
    assert text_block_for(doc) == build_text_block(text)


def test_sex_outside_the_table_is_unknown_with_its_code_in_raw() -> None:
    doc = document_from_chip(build_text_block(ResidentText(sex="5")), b"")
    assert doc.sex is Sex.UNKNOWN
    assert doc.raw == {"sex": "5"}
    assert text_block_for(doc) == build_text_block(ResidentText(sex="5"))
    assert document_from_chip(build_text_block(ResidentText(sex="9")), b"").sex is Sex.UNSPECIFIED


def test_fingerprints_split_with_their_positions() -> None:
    block = prints(11, 16)
    doc = document_from_chip(build_text_block(RESIDENT), PHOTO, block)
    assert doc.fingerprints_present is True
    assert [f.position for f in doc.fingerprints] == [11, 16]
    assert [len(f.template) for f in doc.fingerprints] == [512, 512]
    assert doc.fingerprints[0].template + doc.fingerprints[1].template == block
    assert fingerprint_block(doc.fingerprints) == block
    assert fingerprint_block(()) == b""
    with pytest.raises(ValueError, match="2 templates"):
        fingerprint_block((Fingerprint(11, bytes(512)),))


@pytest.mark.parametrize("size", [1, 512, 1023, 1025, 2048])
def test_fingerprint_block_of_another_size(size: int) -> None:
    with pytest.raises(ProtocolError, match=f"1024 bytes \\(or 0\\), got {size}"):
        document_from_chip(build_text_block(RESIDENT), PHOTO, bytes(size))


def test_newest_address() -> None:
    block = newest_address_block("北京市东城区某某街2号")
    assert len(block) == 70
    doc = document_from_chip(build_text_block(RESIDENT), PHOTO, None, block)
    assert doc.newest_address == "北京市东城区某某街2号"
    with pytest.raises(ProtocolError, match="newest address"):
        document_from_chip(build_text_block(RESIDENT), PHOTO, None, b"\x00\xdc" + bytes(68))
    with pytest.raises(ValueError, match="36 characters"):
        newest_address_block("地" * 36)


def test_hmt_permit() -> None:
    text = HmtPermitText(
        name="陈大文",
        sex="1",
        birth_date="19800101",
        address="香港某街",
        number="810000198001010015",
        issuer="某公安局",
        valid_from="20190101",
        valid_to="20240101",
        permit_number="H01234567",
        issue_count="02",
    )
    doc = document_from_chip(build_text_block(text), PHOTO)
    assert doc.kind is DocumentKind.CN_HMT_RESIDENCE_PERMIT
    assert (doc.permit_number, doc.issue_count, doc.ethnicity) == ("H01234567", "02", "")
    assert doc.valid_to == dt.date(2024, 1, 1)
    assert text_block_for(doc) == build_text_block(text)


def test_foreigner_cards() -> None:
    old = Foreigner2017Text(
        name_latin="SMITH JOHN",
        sex="1",
        number="USA110075061501",
        nationality="USA",
        name="史密斯",
        valid_from="20170101",
        valid_to="20270101",
        birth_date="19750615",
        card_version="01",
        authority="1100",
    )
    doc = document_from_chip(build_text_block(old), PHOTO)
    assert doc.kind is DocumentKind.CN_FOREIGNER_PERMANENT_2017
    assert (doc.name, doc.name_latin, doc.nationality) == ("史密斯", "SMITH JOHN", "USA")
    assert (doc.issuer, doc.card_version, doc.birth_date) == ("1100", "01", dt.date(1975, 6, 15))
    assert text_block_for(doc) == build_text_block(old)
    new = Foreigner2023Text(
        name="沃尔夫",
        sex="2",
        renewal_count="01",
        birth_date="19850615",
        name_latin="WOLFESCHLEGELSTEINHAUSEN BARTHOLOMEW ALEXANDER",
        number="931156198506150023",
        valid_from="20230101",
        valid_to="20330101",
        nationality="DEU",
        old_number_link="1",
    )
    doc = document_from_chip(build_text_block(new), PHOTO)
    assert doc.kind is DocumentKind.CN_FOREIGNER_PERMANENT_2023
    assert doc.name_latin == new.name_latin
    assert (doc.issue_count, doc.permit_number, doc.sex) == ("01", "1", Sex.FEMALE)
    assert text_block_for(doc) == build_text_block(new)


def test_mrz_documents_have_no_text_block() -> None:
    with pytest.raises(ValueError, match="passport document has no chip text block"):
        text_block_for(IdentityDocument(kind=DocumentKind.PASSPORT))


def test_errors_and_reprs_hold_no_personal_data() -> None:
    raw = bytearray(build_text_block(RESIDENT))
    raw[122:124] = b"\x00\xd8"
    with pytest.raises(ProtocolError) as caught:
        document_from_chip(bytes(raw), PHOTO)
    assert "110105" not in str(caught.value)
    doc = document_from_chip(build_text_block(RESIDENT), PHOTO, prints())
    shown = repr(doc)
    assert "张三" not in shown
    assert "11010519900307001X" not in shown
    assert "1990" not in shown


# --- properties ----------------------------------------------------------------------

_text = st.text(
    st.characters(min_codepoint=0x21, max_codepoint=0x9FFF, blacklist_categories=("Cs",)),
    max_size=15,
)
_dates = st.dates(dt.date(1900, 1, 1), dt.date(2099, 12, 31))


@st.composite
def documents(draw: st.DrawFn) -> IdentityDocument:
    kind = draw(
        st.sampled_from(
            [
                DocumentKind.CN_RESIDENT_ID,
                DocumentKind.CN_HMT_RESIDENCE_PERMIT,
                DocumentKind.CN_FOREIGNER_PERMANENT_2017,
                DocumentKind.CN_FOREIGNER_PERMANENT_2023,
            ]
        )
    )
    long_term = draw(st.booleans())
    fingerprint = draw(st.sampled_from([None, b"", prints(11, 97)]))
    fields: dict[str, object] = {
        "name": draw(_text),
        "sex": draw(st.sampled_from(list(Sex))),
        "birth_date": draw(st.none() | _dates),
        "document_number": draw(st.text("0123456789X", max_size=15)),
        "valid_from": draw(st.none() | _dates),
        "valid_to": None if long_term else draw(st.none() | _dates),
        "long_term": long_term,
        "photo": Photo(draw(st.binary(min_size=1, max_size=64)), ImageFormat.WLT),
        "newest_address": draw(_text),
    }
    if kind is DocumentKind.CN_RESIDENT_ID:
        fields |= {"ethnicity": draw(st.sampled_from(["01", "11", "97"])), "address": "某路"}
        fields["issuer"] = draw(_text)
    if kind is DocumentKind.CN_HMT_RESIDENCE_PERMIT:
        fields |= {"permit_number": "H01234567", "issue_count": "03", "issuer": draw(_text)}
    if kind is DocumentKind.CN_FOREIGNER_PERMANENT_2017:
        fields |= {"name_latin": "DOE JANE", "nationality": "CAN", "card_version": "01"}
        fields["issuer"] = "1100"
    if kind is DocumentKind.CN_FOREIGNER_PERMANENT_2023:
        fields |= {"name_latin": draw(st.text("ABCXYZ ", max_size=40).map(str.strip))}
        fields |= {"nationality": "FRA", "issue_count": "00", "permit_number": "7"}
    if fingerprint is not None:
        fields["fingerprints"] = document_from_chip(
            build_text_block(RESIDENT), b"", fingerprint
        ).fingerprints
    fields["fingerprints_present"] = None if fingerprint is None else bool(fingerprint)
    return IdentityDocument(kind=kind, **fields)  # type: ignore[arg-type]


@given(documents())
def test_document_round_trip(doc: IdentityDocument) -> None:
    assert doc.photo is not None
    block = None if doc.fingerprints_present is None else fingerprint_block(doc.fingerprints)
    address = newest_address_block(doc.newest_address) if doc.newest_address else None
    assert document_from_chip(text_block_for(doc), doc.photo.data, block, address) == doc


_flags = st.sampled_from([b" \x00", b"\x00\x00", b"J\x00", b"I\x00", b"Y\x00"])
_texts = st.builds(
    lambda head, flag, tail: head + flag + tail,
    st.binary(min_size=248, max_size=248),
    _flags,
    st.binary(min_size=6, max_size=6),
)


@given(
    _texts | st.binary(min_size=256, max_size=256) | st.binary(max_size=300),
    st.binary(max_size=8),
    st.none() | st.binary(max_size=1100),
    st.none() | st.binary(max_size=80),
)
def test_random_bytes_give_a_document_or_protocol_error(
    text: bytes, photo: bytes, fingerprint: bytes | None, address: bytes | None
) -> None:
    with contextlib.suppress(ProtocolError):
        assert isinstance(document_from_chip(text, photo, fingerprint, address), IdentityDocument)
