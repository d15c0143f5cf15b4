"""The shared keyboard rules (`EntryTracker`): lengths, editing keys, terminate keys,
and no digit in a PIN entry's events."""

from __future__ import annotations

from collections.abc import Iterable

from hypothesis import given, settings
from hypothesis import strategies as st

from hal.devices.pin_entry import EntryAction, EntryTracker, Step
from hal.devices.pin_pad_model import (
    DIGIT_KEYS,
    FUNCTION_KEYS,
    KEY_CHARACTERS,
    EntryCompletion,
    EntrySpec,
)

KEYBOARD = frozenset({*DIGIT_KEYS, *FUNCTION_KEYS})
C = EntryCompletion


def spec(
    *,
    min_len: int = 4,
    max_len: int = 6,
    auto_end: bool = False,
    active: Iterable[str] = KEYBOARD,
    terminate: Iterable[str] = ("enter", "cancel"),
) -> EntrySpec:
    return EntrySpec(
        min_len=min_len,
        max_len=max_len,
        auto_end=auto_end,
        active_keys=frozenset(active),
        terminate_keys=frozenset(terminate),
    )


def press_all(tracker: EntryTracker, keys: Iterable[str]) -> list[Step]:
    return [tracker.press(key) for key in keys]


def digits(text: str) -> list[str]:
    return [DIGIT_KEYS[int(ch)] for ch in text]


# --- PIN entry --------------------------------------------------------------------------


def test_a_pin_entry_counts_digits_and_its_events_carry_none() -> None:
    tracker = EntryTracker(spec(), secure=True)
    steps = press_all(tracker, digits("4711"))
    assert [s.action for s in steps] == [EntryAction.ADD] * 4
    assert [s.event for s in steps] == [(C.CONTINUE, None)] * 4
    assert tracker.length == 4
    assert tracker.done is None
    end = tracker.press("enter")
    assert end == Step(EntryAction.NONE, (C.ENTER, "enter"), C.ENTER)
    assert (tracker.done, tracker.key, tracker.length) == (C.ENTER, "enter", 4)


def test_enter_below_min_len_is_ignored_and_the_entry_goes_on() -> None:
    tracker = EntryTracker(spec(min_len=4), secure=True)
    press_all(tracker, digits("123"))
    assert tracker.press("enter") == Step(EntryAction.NONE, None)
    assert tracker.done is None
    tracker.press("four")
    assert tracker.press("enter").done is C.ENTER


def test_an_fdk_terminate_key_ends_with_fdk_once_min_len_is_in() -> None:
    tracker = EntryTracker(spec(min_len=1, terminate=("fdk03", "cancel")), secure=True)
    assert tracker.press("fdk03").event is None
    tracker.press("nine")
    assert tracker.press("fdk03") == Step(EntryAction.NONE, (C.FDK, "fdk03"), C.FDK)
    assert tracker.key == "fdk03"


def test_digits_past_max_len_are_ignored_without_an_event() -> None:
    tracker = EntryTracker(spec(max_len=4), secure=True)
    press_all(tracker, digits("1234"))
    assert tracker.press("five") == Step(EntryAction.NONE, None)
    assert tracker.length == 4


def test_auto_end_ends_the_entry_at_max_len() -> None:
    tracker = EntryTracker(spec(min_len=4, max_len=4, auto_end=True), secure=True)
    steps = press_all(tracker, digits("2580"))
    assert steps[-1] == Step(EntryAction.ADD, (C.AUTO, None), C.AUTO)
    assert (tracker.done, tracker.key) == (C.AUTO, "")
    # Once ended, nothing counts.
    assert tracker.press("one") == Step(EntryAction.NONE, None)
    assert tracker.press("enter") == Step(EntryAction.NONE, None)
    assert tracker.length == 4


def test_backspace_removes_the_last_digit_and_is_harmless_on_empty() -> None:
    tracker = EntryTracker(spec(), secure=True)
    assert tracker.press("backspace") == Step(EntryAction.NONE, (C.BACKSPACE, "backspace"))
    press_all(tracker, digits("123"))
    assert tracker.press("backspace") == Step(EntryAction.REMOVE, (C.BACKSPACE, "backspace"))
    assert tracker.length == 2
    press_all(tracker, digits("99"))
    assert tracker.press("enter").done is C.ENTER
    assert tracker.length == 4


def test_clear_empties_the_entry() -> None:
    tracker = EntryTracker(spec(), secure=True)
    press_all(tracker, digits("12345"))
    assert tracker.press("clear") == Step(EntryAction.CLEAR, (C.CLEAR, "clear"))
    assert tracker.length == 0
    assert tracker.press("enter").event is None  # below min_len again
    press_all(tracker, digits("6789"))
    assert tracker.press("enter").done is C.ENTER


def test_cancel_discards_the_entry_even_below_min_len() -> None:
    tracker = EntryTracker(spec(min_len=4), secure=True)
    press_all(tracker, digits("12"))
    assert tracker.press("cancel") == Step(EntryAction.DISCARD, (C.CANCEL, "cancel"), C.CANCEL)
    assert (tracker.done, tracker.key, tracker.length) == (C.CANCEL, "cancel", 0)
    assert tracker.press("three") == Step(EntryAction.NONE, None)
    assert tracker.length == 0


def test_inactive_keys_are_ignored() -> None:
    active = {*DIGIT_KEYS[:5], "enter", "cancel"}
    tracker = EntryTracker(spec(min_len=1, active=active), secure=True)
    assert tracker.press("seven") == Step(EntryAction.NONE, None)
    assert tracker.press("clear") == Step(EntryAction.NONE, None)
    assert tracker.press("fdk01") == Step(EntryAction.NONE, None)
    assert tracker.length == 0
    tracker.press("three")
    assert tracker.press("backspace") == Step(EntryAction.NONE, None)
    assert tracker.length == 1


def test_a_pin_entry_does_not_add_decpoint_or_doublezero() -> None:
    tracker = EntryTracker(spec(), secure=True)
    for key in ("decPoint", "doubleZero"):
        step = tracker.press(key)
        assert step.action is EntryAction.NONE
        assert step.event is not None
        assert step.event[1] not in DIGIT_KEYS
    assert tracker.length == 0


def test_a_non_terminating_function_key_reports_itself() -> None:
    tracker = EntryTracker(spec(), secure=True)
    assert tracker.press("help") == Step(EntryAction.NONE, (C.HELP, "help"))
    assert tracker.press("fdk02") == Step(EntryAction.NONE, (C.FDK, "fdk02"))
    assert tracker.done is None


def test_repr_shows_no_digit() -> None:
    tracker = EntryTracker(spec(), secure=True)
    press_all(tracker, digits("4711"))
    assert repr(tracker) == "EntryTracker(secure=True, length=4, done=None)"


# --- data entry -------------------------------------------------------------------------


def test_a_data_entry_events_carry_the_key_name() -> None:
    tracker = EntryTracker(spec(min_len=0, max_len=8), secure=False)
    steps = press_all(tracker, ["one", "two", "decPoint", "five"])
    assert [s.event for s in steps] == [
        (C.CONTINUE, "one"),
        (C.CONTINUE, "two"),
        (C.CONTINUE, "decPoint"),
        (C.CONTINUE, "five"),
    ]
    assert tracker.length == 4


def test_double_zero_adds_two_characters_and_backspace_removes_both() -> None:
    tracker = EntryTracker(spec(min_len=0, max_len=4), secure=False)
    press_all(tracker, ["five", "doubleZero"])
    assert tracker.length == 3
    # One place left: a double zero does not fit and is ignored.
    assert tracker.press("doubleZero") == Step(EntryAction.NONE, None)
    assert tracker.press("backspace").action is EntryAction.REMOVE
    assert tracker.length == 1
    assert tracker.press("doubleZero").action is EntryAction.ADD
    assert tracker.length == 3


def test_a_data_entry_auto_ends_with_the_last_key_named() -> None:
    tracker = EntryTracker(spec(min_len=0, max_len=3, auto_end=True), secure=False)
    press_all(tracker, ["one"])
    step = tracker.press("doubleZero")
    assert step == Step(EntryAction.ADD, (C.AUTO, "doubleZero"), C.AUTO)


# --- properties ---------------------------------------------------------------------------

KEYS = sorted(KEYBOARD)


@st.composite
def entries(draw: st.DrawFn) -> tuple[EntrySpec, list[str]]:
    max_len = draw(st.integers(1, 12))
    min_len = draw(st.integers(0, max_len))
    active = frozenset(draw(st.sets(st.sampled_from(KEYS))))
    function_keys = sorted(active - KEY_CHARACTERS.keys())
    terminate = (
        frozenset(draw(st.sets(st.sampled_from(function_keys)))) if function_keys else frozenset()
    )
    auto_end = draw(st.booleans()) or not terminate
    presses = draw(st.lists(st.sampled_from(KEYS), max_size=40))
    return (
        EntrySpec(
            min_len=min_len,
            max_len=max_len,
            auto_end=auto_end,
            active_keys=active,
            terminate_keys=terminate,
        ),
        presses,
    )


def _replay(tracker: EntryTracker, presses: list[str]) -> list[tuple[str, Step]]:
    """Press every key, keeping an independent model of the buffer from the actions."""
    buffer: list[str] = []
    steps = []
    for key in presses:
        before = tracker.done
        step = tracker.press(key)
        steps.append((key, step))
        if before is not None:
            assert step == Step(EntryAction.NONE, None), "a key counted after the end"
        if step.action is EntryAction.ADD:
            buffer.append("9" if tracker.secure else KEY_CHARACTERS[key])
        elif step.action is EntryAction.REMOVE:
            buffer.pop()
        elif step.action in (EntryAction.CLEAR, EntryAction.DISCARD):
            buffer.clear()
        assert tracker.length == len("".join(buffer)) <= tracker.spec.max_len
        if step.done is not None and step.done is not EntryCompletion.CANCEL:
            assert tracker.length >= tracker.spec.min_len
    return steps


@settings(max_examples=300, deadline=None)
@given(entries())
def test_a_pin_entry_never_exceeds_max_len_nor_shows_a_digit(
    case: tuple[EntrySpec, list[str]],
) -> None:
    entry, presses = case
    tracker = EntryTracker(entry, secure=True)
    for key, step in _replay(tracker, presses):
        if step.event is not None:
            assert step.event[1] not in DIGIT_KEYS
            assert key in entry.active_keys
        if step.done is not None:
            assert key in entry.terminate_keys or step.done is EntryCompletion.AUTO
            assert tracker.key == ("" if step.done is EntryCompletion.AUTO else key)


@settings(max_examples=300, deadline=None)
@given(entries())
def test_a_data_entry_never_exceeds_max_len_and_names_each_key(
    case: tuple[EntrySpec, list[str]],
) -> None:
    entry, presses = case
    tracker = EntryTracker(entry, secure=False)
    for key, step in _replay(tracker, presses):
        if step.event is not None:
            assert step.event[1] == key
