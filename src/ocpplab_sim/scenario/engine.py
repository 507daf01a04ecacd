"""Moved to :mod:`ocpplab_sim.scenario.execution.engine`; this import path keeps working."""

import sys

from ocpplab_sim.scenario.execution import engine as _moved

sys.modules[__name__] = _moved
