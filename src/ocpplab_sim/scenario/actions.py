"""Moved to :mod:`ocpplab_sim.scenario.language.actions`; this import path keeps working."""

import sys

from ocpplab_sim.scenario.language import actions as _moved

sys.modules[__name__] = _moved
