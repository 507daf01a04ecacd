"""Moved to :mod:`ocpplab_sim.scenario.execution.expectations`; this import path keeps working."""

import sys

from ocpplab_sim.scenario.execution import expectations as _moved

sys.modules[__name__] = _moved
