"""Moved to :mod:`ocpplab_sim.scenario.execution.csms`; this import path keeps working."""

import sys

from ocpplab_sim.scenario.execution import csms as _moved

sys.modules[__name__] = _moved
