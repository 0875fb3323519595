"""A Fleet-API-compatible simulated energy site for the demo, tests and benchmarks.

``SimServer(SimConfig(...))`` serves one or more simulated sites over HTTP in-process or from
``tesla-energy simulate``. ``model`` holds the physics (no HTTP), ``payloads`` the JSON shapes,
``faults`` the fault injection and request log, ``server`` the HTTP layer.
"""

from collector.sim.clock import SimClock
from collector.sim.faults import FaultConfig, FaultRule, RequestLog, parse_fault_spec
from collector.sim.model import DayResult, LiveSample, SiteModel
from collector.sim.payloads import ENERGY_FIELDS
from collector.sim.server import SimServer
from collector.sim.spec import SimConfig, SiteSettings, SiteSpec

__all__ = [
    "ENERGY_FIELDS",
    "DayResult",
    "FaultConfig",
    "FaultRule",
    "LiveSample",
    "RequestLog",
    "SimClock",
    "SimConfig",
    "SimServer",
    "SiteModel",
    "SiteSettings",
    "SiteSpec",
    "parse_fault_spec",
]
