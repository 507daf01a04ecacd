"""Moved to :mod:`ocpplab_sim.scenario.execution.events`; this import path keeps working."""

import sys

from ocpplab_sim.scenario.execution import events as _moved

sys.modules[__name__] = _moved
