"""The ID scanner's document completion as a codec: any document round-trips through
JSON and blob frames unchanged, and the JSON's only strings are the kind, the checks
and the photo's format (every personal field is a blob)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator

from hypothesis import given, settings
from hypothesis import strategies as st

from hal.devices.id_scanner import (
    Check,
    CheckName,
    DocumentKind,
    Fingerprint,
    IdentityDocument,
    ImageFormat,
    Photo,
    Sex,
)
from hal.remote.codec import codec_for
from hal.remote.interfaces_id_scanner import DocumentCompletion

TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=12)
DATES = st.none() | st.dates(min_value=dt.date(1, 1, 1), max_value=dt.date(9999, 12, 31))

documents = st.builds(
    IdentityDocument,
    kind=st.sampled_from(DocumentKind),
    name=TEXT,
    name_latin=TEXT,
    sex=st.sampled_from(Sex),
    ethnicity=TEXT,
    nationality=TEXT,
    birth_date=DATES,
    address=TEXT,
    newest_address=TEXT,
    document_number=TEXT,
    issuer=TEXT,
    valid_from=DATES,
    valid_to=DATES,
    long_term=st.booleans(),
    permit_number=TEXT,
    issue_count=TEXT,
    card_version=TEXT,
    mrz=st.lists(TEXT, max_size=3).map(tuple),
    photo=st.none() | st.builds(Photo, st.binary(max_size=64), st.sampled_from(ImageFormat)),
    fingerprints=st.lists(
        st.builds(Fingerprint, st.integers(0, 99), st.binary(max_size=32)), max_size=2
    ).map(tuple),
    fingerprints_present=st.none() | st.booleans(),
    checks=st.lists(
        st.builds(Check, st.sampled_from(CheckName), st.booleans(), st.just("why")), max_size=3
    ).map(tuple),
    raw=st.dictionaries(TEXT, TEXT, max_size=3),
)

CODEC = codec_for(DocumentCompletion)


@settings(max_examples=150, deadline=None)
@given(documents)
def test_any_document_round_trips_and_its_texts_stay_out_of_the_json(
    document: IdentityDocument,
) -> None:
    blobs: list[bytes] = []
    wire = json.dumps(CODEC.encode(DocumentCompletion.of(document), blobs))
    back = CODEC.decode(json.loads(wire), blobs, "").to_document()
    assert back == document
    # The only strings in the JSON are the kind, the checks and the photo's format:
    # every personal field is a blob reference.
    allowed = {document.kind.value}
    allowed |= {c.name.value for c in document.checks} | {c.detail for c in document.checks}
    if document.photo is not None:
        allowed.add(document.photo.format.value)
    assert set(strings(json.loads(wire))) <= allowed


def strings(value: object) -> Iterator[str]:
    """Every string value in a JSON value (keys are the field names, not data)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings(item)
