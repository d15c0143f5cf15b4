"""tellerhal's simulator: device models, their control API, worlds and scenarios.

- `simulator.models`: state machines implementing the hal backend contracts
  (`simulator.models.card_reader.CardReaderModel`);
- `simulator.control`: what a customer, an operator or fate does to a model (it
  implements the `hal.stimulus` interfaces the conformance suite drives);
- `simulator.world`: a clock, a seed and the models of one simulated kiosk;
- `simulator.scenario`: versioned scenario files with a scripted customer;
- `simulator.registration`: the ``sim://`` driver;
- `simulator.broken`: deliberately broken models, to prove the conformance suite bites.

The simulator imports `hal` and `protocols`, never `drivers` nor `tellerhal`.
"""
