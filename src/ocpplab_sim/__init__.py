"""ocpplab-sim: end-to-end harness for EV-charging platforms (OCPP chargers, OCPI roaming)."""

from ocpplab_sim.errors import OcpplabError

__version__ = "0.1.0"

__all__ = ["OcpplabError", "__version__"]
