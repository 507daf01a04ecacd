"""Moved to :mod:`ocpplab_sim.scenario.execution.ports`; this import path keeps working."""

import sys

from ocpplab_sim.scenario.execution import ports as _moved

sys.modules[__name__] = _moved
