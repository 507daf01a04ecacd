"""Drive live simulated chargers from outside: an HTTP control API (compatible with OCPPLab's
simulator control API), a live frame stream and a web console, served while a fleet runs
(``chargers --control-port``, ``run --control-port``)."""

from ocpplab_sim.control.app import control_app
from ocpplab_sim.control.hub import ChargerRegistry
from ocpplab_sim.control.server import ControlServer

__all__ = ["ChargerRegistry", "ControlServer", "control_app"]
