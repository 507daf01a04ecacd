"""Folded into :mod:`ocpplab_sim.scenario.language.base` (the step registry lives with the
:class:`~ocpplab_sim.scenario.language.base.Action` base); this import path keeps working."""

import sys

from ocpplab_sim.scenario.language import base as _moved

sys.modules[__name__] = _moved
