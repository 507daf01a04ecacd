"""Load testing: shapes over time, deterministic shards, mergeable latency histograms."""

from ocpplab_sim.load.metrics import LatencyHistogram, LoadMetrics, merge_reports
from ocpplab_sim.load.shapes import LoadShape, Target, parse_shape
from ocpplab_sim.load.shard import Shard, shard_from_env, synthetic_identity

__all__ = [
    "LatencyHistogram",
    "LoadMetrics",
    "LoadShape",
    "Shard",
    "Target",
    "merge_reports",
    "parse_shape",
    "shard_from_env",
    "synthetic_identity",
]
