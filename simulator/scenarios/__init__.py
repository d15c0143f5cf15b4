"""Scenario files shipped with the simulator (read with `simulator.scenario.load_scenario`)."""
