"""Moved to :mod:`ocpplab_sim.scenario.execution.builtin`; this import path keeps working."""

import sys

from ocpplab_sim.scenario.execution import builtin as _moved

sys.modules[__name__] = _moved
