"""Moved to :mod:`ocpplab_sim.scenario.language.types`; this import path keeps working."""

import sys

from ocpplab_sim.scenario.language import types as _moved

sys.modules[__name__] = _moved
