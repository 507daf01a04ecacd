"""The scenario's execution: the engine, the built-in steps' handlers, the expectations, the
central-system operations, the frame observer, the engine's ports and its events."""
