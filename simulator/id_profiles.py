"""Synthetic identity documents for the simulated ID scanner (and its wire emulators).

Every person here is made up: invented names (the Chinese placeholder names 张三, 李四,
王五..., English ``TESTER``/``SAMPLE``/``EXAMPLE``), ID numbers on the region code 110105
built with a correct (or, for ``bad_check``, deliberately wrong) MOD 11-2 check
character, MRZ documents issued by ``UTO`` (Utopia, the state ICAO 9303 invents for its
specimens). No profile is a real person's data.

A `DocumentProfile` says three things:

- what a scanner should read (`DocumentProfile.expected`: an `IdentityDocument` with
  ``checks`` empty, as a backend returns it; the service adds the checks), with every
  item the document carries: the fingerprints (``fingerprints_present`` true or false)
  and the newest address appended on the chip. `DocumentProfile.read_as` gives the
  document a read that asked for less returns;
- whether every check the service runs should pass (`DocumentProfile.valid`);
- what a device delivers: the chip's photo (`DocumentProfile.photo`: a deterministic
  synthetic 1024-byte blob standing for the WLT wavelet image, which cannot be made
  without the licensed codec), the fingerprint templates (two 512-byte templates with
  the finger position code at byte 5, `DocumentProfile.fingerprint_block`), the MRZ
  lines; and how the document fails (`Failure`: unreadable, forged).

The MRZ lines are built by `protocols.mrz.build` and the MRZ documents read from them by
`hal.devices.id_mrz.document_from_mrz` (the conversion the MRZ drivers use); the tests
check every check digit with their own computation and with the ``mrz`` package. The
chip documents are the ones `hal.devices.id_documents.document_from_chip` reads back
from `hal.devices.id_documents.text_block_for` (a test checks the round trip), so the
SAM_V emulator serves exactly these.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from types import MappingProxyType

from hal.devices.id_mrz import document_from_mrz
from hal.devices.id_scanner_model import (
    DocumentKind,
    Fingerprint,
    IdentityDocument,
    ImageFormat,
    Photo,
    Sex,
)
from hal.errors import ConfigurationError
from protocols.mrz import MrzFormat, build, check_digit
from simulator.id_profile_types import (
    CHIP_KINDS,
    FINGERPRINT_SIZE,
    PHOTO_SIZE,
    DocumentProfile,
    Failure,
    Medium,
    synthetic_fingerprint,
    synthetic_photo,
)

__all__ = [
    "CHIP_KINDS",
    "DOCUMENT_PROFILES",
    "FINGERPRINT_SIZE",
    "PHOTO_SIZE",
    "DocumentProfile",
    "Failure",
    "Medium",
    "document_profile",
    "document_profile_names",
    "synthetic_fingerprint",
    "synthetic_photo",
]


def _photo(name: str) -> Photo:
    return Photo(synthetic_photo(name), ImageFormat.WLT)


def _fingerprints(name: str, positions: tuple[int, int]) -> tuple[Fingerprint, ...]:
    return tuple(
        Fingerprint(position, synthetic_fingerprint(f"{name}:{i}", position))
        for i, position in enumerate(positions)
    )


def _resident(
    name: str,
    *,
    holder: str,
    sex: Sex,
    birth: dt.date,
    number: str,
    valid_from: dt.date,
    valid_to: dt.date | None,
    fingerprints: tuple[Fingerprint, ...] = (),
    newest_address: str = "",
) -> IdentityDocument:
    return IdentityDocument(
        kind=DocumentKind.CN_RESIDENT_ID,
        name=holder,
        sex=sex,
        ethnicity="01",
        birth_date=birth,
        address="北京市朝阳区示例路1号院2号楼3单元401",
        newest_address=newest_address,
        document_number=number,
        issuer="北京市公安局朝阳分局",
        valid_from=valid_from,
        valid_to=valid_to,
        long_term=valid_to is None,
        photo=_photo(name),
        fingerprints=fingerprints,
        fingerprints_present=bool(fingerprints),
    )


def _wrong_number_digit(lines: tuple[str, ...]) -> tuple[str, ...]:
    """TD3 lines with the document number's check digit off by one, the composite digit
    recomputed over what is printed: exactly one check fails."""
    second = lines[1]
    wrong = str((int(second[9]) + 1) % 10)
    second = second[:9] + wrong + second[10:43]
    second += check_digit(second[0:10] + second[13:20] + second[21:43])
    return lines[0], second


def _profiles() -> dict[str, DocumentProfile]:
    chip, mrz = Medium.CHIP, Medium.MRZ
    resident_fp = _fingerprints("resident_fingerprints", (12, 17))
    profiles = [
        DocumentProfile(
            "resident",
            "a valid China resident ID card (张三, male, born 1990-03-07), no fingerprints",
            chip,
            _resident(
                "resident",
                holder="张三",
                sex=Sex.MALE,
                birth=dt.date(1990, 3, 7),
                number="110105199003071239",
                valid_from=dt.date(2020, 6, 1),
                valid_to=dt.date(2040, 6, 1),
            ),
        ),
        DocumentProfile(
            "resident_long_term",
            "a valid long-term (长期) resident ID card (王五, female, born 1963-08-15)",
            chip,
            _resident(
                "resident_long_term",
                holder="王五",
                sex=Sex.FEMALE,
                birth=dt.date(1963, 8, 15),
                number="110105196308152044",
                valid_from=dt.date(2015, 9, 1),
                valid_to=None,
            ),
        ),
        DocumentProfile(
            "resident_fingerprints",
            "a valid resident ID card with two fingerprint templates (right and left "
            "index) and a newest address on the chip (李四, female, born 1988-11-21)",
            chip,
            _resident(
                "resident_fingerprints",
                holder="李四",
                sex=Sex.FEMALE,
                birth=dt.date(1988, 11, 21),
                number="110105198811213448",
                valid_from=dt.date(2019, 1, 15),
                valid_to=dt.date(2039, 1, 15),
                fingerprints=resident_fp,
                newest_address="北京市朝阳区样例街88号",
            ),
            fingerprints=resident_fp,
        ),
        DocumentProfile(
            "bad_check",
            "a resident ID card whose number's check character is wrong (赵六)",
            chip,
            _resident(
                "bad_check",
                holder="赵六",
                sex=Sex.MALE,
                birth=dt.date(1988, 11, 21),
                number="110105198811213457",  # the check character is 6
                valid_from=dt.date(2019, 1, 15),
                valid_to=dt.date(2039, 1, 15),
            ),
            valid=False,
        ),
        DocumentProfile(
            "hmt",
            "a Hong Kong residence permit, type J (陈七, male, born 1985-06-12)",
            chip,
            IdentityDocument(
                kind=DocumentKind.CN_HMT_RESIDENCE_PERMIT,
                name="陈七",
                sex=Sex.MALE,
                birth_date=dt.date(1985, 6, 12),
                address="广东省深圳市福田区示例大道100号",
                document_number="810000198506120219",
                issuer="深圳市公安局",
                valid_from=dt.date(2024, 3, 1),
                valid_to=dt.date(2029, 3, 1),
                permit_number="H60000012",
                issue_count="01",
                photo=_photo("hmt"),
                fingerprints_present=False,
            ),
        ),
        DocumentProfile(
            "foreigner_2017",
            "a foreigner's permanent residence card, 2017 layout, type I (TESTER ANNA)",
            chip,
            IdentityDocument(
                kind=DocumentKind.CN_FOREIGNER_PERMANENT_2017,
                name="安娜",
                name_latin="TESTER ANNA MARIE",
                sex=Sex.FEMALE,
                nationality="CAN",
                birth_date=dt.date(1985, 7, 14),
                document_number="CAN110085071401",
                issuer="1100",
                valid_from=dt.date(2019, 5, 20),
                valid_to=dt.date(2029, 5, 20),
                card_version="20",
                photo=_photo("foreigner_2017"),
                fingerprints_present=False,
            ),
        ),
        DocumentProfile(
            "foreigner_2023",
            "a foreigner's permanent residence card, 2023 layout, type Y (TESTER MARTINE)",
            chip,
            IdentityDocument(
                kind=DocumentKind.CN_FOREIGNER_PERMANENT_2023,
                name="马丁",
                name_latin="TESTER MARTINE CLAIRE",
                sex=Sex.FEMALE,
                nationality="FRA",
                birth_date=dt.date(1988, 9, 15),
                document_number="911250198809150123",
                valid_from=dt.date(2024, 2, 1),
                valid_to=dt.date(2034, 2, 1),
                issue_count="00",
                photo=_photo("foreigner_2023"),
                fingerprints_present=False,
            ),
        ),
        DocumentProfile(
            "forged",
            "a resident ID card that fails authentication with the security module",
            chip,
            None,
            valid=False,
            failure=Failure.FORGED,
        ),
        DocumentProfile(
            "unreadable",
            "a document no reader can read (a damaged chip, a smudged MRZ)",
            chip,
            None,
            valid=False,
            failure=Failure.UNREADABLE,
        ),
        DocumentProfile(
            "passport",
            "a valid passport, TD3 MRZ (TESTER ALEX JORDAN, UTO)",
            mrz,
            document_from_mrz(
                build(
                    MrzFormat.TD3,
                    document_code="P",
                    issuer="UTO",
                    primary_identifier="TESTER",
                    secondary_identifier="ALEX JORDAN",
                    document_number="XA1234567",
                    nationality="UTO",
                    birth_date="840214",
                    sex="M",
                    expiry="350101",
                )
            ),
        ),
        DocumentProfile(
            "id_td1",
            "a valid ID card, TD1 MRZ 3x30 (SAMPLE MARIA ELENA, UTO)",
            mrz,
            document_from_mrz(
                build(
                    MrzFormat.TD1,
                    document_code="I",
                    issuer="UTO",
                    primary_identifier="SAMPLE",
                    secondary_identifier="MARIA ELENA",
                    document_number="ID7654321",
                    nationality="UTO",
                    birth_date="870530",
                    sex="F",
                    expiry="330530",
                )
            ),
        ),
        DocumentProfile(
            "visa_td2",
            "a valid visa in the TD2 size, 2x36 (MRV-B: no composite digit; EXAMPLE JONAS)",
            mrz,
            document_from_mrz(
                build(
                    MrzFormat.TD2,
                    document_code="V",
                    issuer="UTO",
                    primary_identifier="EXAMPLE",
                    secondary_identifier="JONAS",
                    document_number="VZ0042178",
                    nationality="UTO",
                    birth_date="910101",
                    sex="M",
                    expiry="280630",
                )
            ),
        ),
        DocumentProfile(
            "travel_permit",
            "a valid China exit-entry permit for Hong Kong and Macao, 3x30 MRZ (CHEN XIAOQI)",
            mrz,
            document_from_mrz(
                build(
                    MrzFormat.CN_PERMIT,
                    document_code="CS",
                    primary_identifier="CHEN",
                    secondary_identifier="XIAOQI",
                    document_number="C12345678",
                    birth_date="950420",
                    sex="F",
                    expiry="320419",
                )
            ),
        ),
        DocumentProfile(
            "bad_mrz",
            "a passport whose document-number check digit is wrong (PROBE KIM, UTO)",
            mrz,
            document_from_mrz(
                _wrong_number_digit(
                    build(
                        MrzFormat.TD3,
                        document_code="P",
                        issuer="UTO",
                        primary_identifier="PROBE",
                        secondary_identifier="KIM",
                        document_number="XB7654321",
                        nationality="UTO",
                        birth_date="790923",
                        sex="F",
                        expiry="340312",
                    )
                )
            ),
            valid=False,
        ),
    ]
    return {profile.name: profile for profile in profiles}


#: Every shipped document profile, by name.
DOCUMENT_PROFILES: Mapping[str, DocumentProfile] = MappingProxyType(_profiles())


def document_profile_names() -> list[str]:
    """The shipped document profiles' names, sorted."""
    return sorted(DOCUMENT_PROFILES)


def document_profile(name: str) -> DocumentProfile:
    """A shipped document profile by name.

    Raises:
        ConfigurationError: no such profile (the known ones are listed).
    """
    profile = DOCUMENT_PROFILES.get(name)
    if profile is None:
        raise ConfigurationError(
            f"no document profile named {name!r}; known: {', '.join(document_profile_names())}"
        )
    return profile
