"""Moved to :mod:`ocpplab_sim.scenario.language.model`; this import path keeps working."""

import sys

from ocpplab_sim.scenario.language import model as _moved

sys.modules[__name__] = _moved
