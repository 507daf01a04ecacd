"""Moved to :mod:`ocpplab_sim.scenario.execution.observe`; this import path keeps working."""

import sys

from ocpplab_sim.scenario.execution import observe as _moved

sys.modules[__name__] = _moved
