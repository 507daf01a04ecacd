"""The scenario language: the step registry, the models, the loader, the JSON Schema, selectors
and variables. It does not import :mod:`ocpplab_sim.scenario.execution` (the registry loads the
built-in steps' handlers from there on first use)."""
