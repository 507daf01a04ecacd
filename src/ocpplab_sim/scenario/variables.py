"""Moved to :mod:`ocpplab_sim.scenario.language.variables`; this import path keeps working."""

import sys

from ocpplab_sim.scenario.language import variables as _moved

sys.modules[__name__] = _moved
