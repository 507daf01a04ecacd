"""The harness-side OCPI eMSP: a small receiver the CPO under test pushes Location updates to."""

from ocpplab_sim.emsp.receiver import EmspReceiver, PushRecord

__all__ = ["EmspReceiver", "PushRecord"]
