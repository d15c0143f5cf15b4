"""A dip reader's slot on the real PC/SC stack: the customer's card in a vpcd reader.

A PC/SC dip reader has no motor and no gate: the customer pushes the card into the slot
whenever they like and pulls it out again; the host only watches. `PcscSlot` is that
slot with its ground truth (where the card is: ``none`` before any card, ``inside``,
``customer`` once pulled out), its card a `simulator.wire.vpcd.VirtualCard` connected
to one of vpcd's two readers in the machine's pcscd. `PcscSlotControl` is the slot's
`hal.stimulus.CardReaderStimulus`, the customer the conformance suite drives:

- ``insert_card(profile)`` pushes a card of that profile in (the vcard connects); it
  returns once pcscd has powered the card and read its ATR (pcscd polls vpcd about
  every 0.4 s), so the reader's status already shows the card;
- ``take_card()`` pulls it out (the vcard disconnects); with no card inside it waits
  up to ``timeout`` for one;
- ``jam()``/``clear_jam()`` raise `UnsupportedOperation`: a slot without a motor
  cannot jam a card;
- ``card_position()`` is the ground truth; ``retained_count()`` is 0 (no retain bin).

If pcscd goes away while a card is inside (restarted, say), vpcd's connection drops but
the card is still physically in the slot: the slot keeps trying to connect again
(every 50 ms, backing off to 0.5 s) until pcscd is back, so the reader sees the card
again, as a real reader would after a service restart.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from hal.errors import HalTimeout, Occupied, SequenceError, UnsupportedOperation
from hal.stimulus import CardReaderStimulus, CardSample
from simulator.profiles import CardProfile, load_card_profile
from simulator.wire.vpcd import VPCD_HOST, VPCD_PORTS, VirtualCard

__all__ = ["CUSTOMER", "INSIDE", "NONE", "POSITIONS", "PcscSlot", "PcscSlotControl"]

log = logging.getLogger(__name__)

NONE, INSIDE, CUSTOMER = "none", "inside", "customer"
#: The places a card can be, as `PcscSlot.position` names them.
POSITIONS = (NONE, INSIDE, CUSTOMER)

_RETRY_FIRST, _RETRY_MOST = 0.05, 0.5
_SEEN_WITHIN, _SEEN_MARGIN = 2.0, 0.01


class PcscSlot:
    """One vpcd reader slot and the card the customer puts in it.

    Args:
        port: the vpcd reader's TCP port (`VPCD_PORTS`: 35963 is ``Virtual PCD 00 00``).
        host: where vpcd listens.
        quickack: the card re-arms ``TCP_QUICKACK`` (see `simulator.wire.vpcd`).
        protocols: the protocols the reader offers (the card's ATR follows them).
    """

    def __init__(
        self,
        port: int = VPCD_PORTS[0],
        *,
        host: str = VPCD_HOST,
        quickack: bool = True,
        protocols: frozenset[str] = frozenset({"T0", "T1"}),
    ) -> None:
        self.port = port
        self.host = host
        self.quickack = quickack
        self.protocols = protocols
        self.position = NONE
        self.card: VirtualCard | None = None
        self._keeper: asyncio.Task[None] | None = None
        self._changed = asyncio.Event()

    @property
    def profile(self) -> CardProfile | None:
        """The profile of the card inside (or last inside)."""
        return self.card.profile if self.card is not None else None

    async def insert(self, profile: CardProfile | str) -> CardSample:
        """The customer pushes a card in; returns once the reader's link has it.

        Raises:
            Occupied: a card is already in the slot.
            OSError: vpcd does not listen (pcscd is not running).
        """
        if self.position == INSIDE:
            raise Occupied(f"vpcd slot {self.port}: a card is already in the slot")
        if isinstance(profile, str):
            profile = load_card_profile(profile)
        card = VirtualCard(
            profile,
            port=self.port,
            host=self.host,
            quickack=self.quickack,
            protocols=self.protocols,
        )
        await card.insert()
        self.card, self.position = card, INSIDE
        # The card is in the slot; the reader shows it once pcscd powered it (<= 0.4 s).
        if await card.wait_seen(_SEEN_WITHIN):
            await asyncio.sleep(_SEEN_MARGIN)  # pcscd updates the reader's state just after
        else:
            log.warning(
                "vpcd slot %d: pcscd did not power the card within %s s", self.port, _SEEN_WITHIN
            )
        self._keeper = asyncio.get_running_loop().create_task(
            self._keep(card), name=f"vpcd slot {self.port} card"
        )
        self._signal()
        return profile.sample()

    async def pull(self) -> None:
        """The customer pulls the card out (nothing if none is inside)."""
        if self.position != INSIDE:
            return
        self.position = CUSTOMER
        await self._stop()
        self._signal()

    async def close(self) -> None:
        """Take any card out and stop (for the end of a test); idempotent."""
        if self.position == INSIDE:
            self.position = CUSTOMER
        await self._stop()

    async def wait_inside(self, timeout: float) -> None:
        """Wait until a card is in the slot.

        Raises:
            HalTimeout: none came within ``timeout`` seconds.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self.position != INSIDE:
            self._changed.clear()
            left = deadline - loop.time()
            if left <= 0:
                raise HalTimeout(f"vpcd slot {self.port}: no card in the slot within {timeout} s")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), left)

    def _signal(self) -> None:
        self._changed.set()

    async def _stop(self) -> None:
        keeper, self._keeper = self._keeper, None
        if keeper is not None:
            keeper.cancel()
            await asyncio.gather(keeper, return_exceptions=True)
        if self.card is not None:
            await self.card.remove()

    async def _keep(self, card: VirtualCard) -> None:
        """While the card is inside, connect it again whenever its link drops."""
        while True:
            await card.wait_closed()
            pause = _RETRY_FIRST
            log.info("vpcd slot %d: link lost with the card inside; reconnecting", self.port)
            while not card.inserted:
                await asyncio.sleep(pause)
                try:
                    await card.insert()
                except OSError:
                    pause = min(pause * 2, _RETRY_MOST)

    async def __aenter__(self) -> PcscSlot:
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()


class PcscSlotControl(CardReaderStimulus):
    """The customer at a PC/SC dip reader's slot (see the module header).

    Args:
        slot: the slot the customer uses.
    """

    def __init__(self, slot: PcscSlot) -> None:
        self.slot = slot

    async def insert_card(self, profile: str = "visa") -> CardSample:
        """Push a card of ``profile`` into the slot (it is in when this returns)."""
        return await self.slot.insert(profile)

    async def take_card(self, timeout: float = 10.0) -> None:
        """Pull the card out of the slot (waiting up to ``timeout`` for one).

        Raises:
            HalTimeout: no card came into the slot in time.
            SequenceError: the card's profile is ``never_taken``: its customer walked
                away and leaves it in the slot.
        """
        await self.slot.wait_inside(timeout)
        profile = self.slot.profile
        if profile is not None and profile.never_taken:
            raise SequenceError(
                f"the {profile.name} card's customer never takes it; it stays in the slot"
            )
        await self.slot.pull()

    async def jam(self) -> None:
        """A dip slot has no motor: nothing can jam."""
        raise UnsupportedOperation("a PC/SC dip slot has no motor; a card cannot jam in it")

    async def clear_jam(self) -> None:
        """A dip slot has no motor: there is never a jam to clear."""
        raise UnsupportedOperation("a PC/SC dip slot has no motor; there is no jam to clear")

    async def card_position(self) -> str:
        """``none``, ``inside`` or ``customer``: where the card really is."""
        return self.slot.position

    async def retained_count(self) -> int:
        """A dip reader has no retain bin: 0."""
        return 0
