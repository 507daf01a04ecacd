"""Moved to :mod:`ocpplab_sim.scenario.language.base`; this import path keeps working."""

import sys

from ocpplab_sim.scenario.language import base as _moved

sys.modules[__name__] = _moved
