"""Moved to :mod:`ocpplab_sim.scenario.language.steps`; this import path keeps working."""

import sys

from ocpplab_sim.scenario.language import steps as _moved

sys.modules[__name__] = _moved
