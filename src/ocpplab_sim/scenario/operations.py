"""Moved to :mod:`ocpplab_sim.scenario.execution.operations`; this import path keeps working."""

import sys

from ocpplab_sim.scenario.execution import operations as _moved

sys.modules[__name__] = _moved
