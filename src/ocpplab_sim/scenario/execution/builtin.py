"""Moved to :mod:`ocpplab_sim.scenario.language.steps` (each built-in step's handler now sits
next to its model, by family); this import path keeps working."""

import sys

from ocpplab_sim.scenario.language import steps as _moved

sys.modules[__name__] = _moved
