"""Moved to :mod:`ocpplab_sim.scenario.language.loader`; this import path keeps working."""

import sys

from ocpplab_sim.scenario.language import loader as _moved

sys.modules[__name__] = _moved
