"""Realistic, seeded traffic for every input stream, with scenarios to inject."""

from ingestion.simulator.scenarios import SCENARIOS
from ingestion.simulator.traffic import Simulator
from ingestion.simulator.units import check_run_id, new_run_id
from ingestion.simulator.world import JOHN

__all__ = ["JOHN", "SCENARIOS", "Simulator", "check_run_id", "new_run_id"]
