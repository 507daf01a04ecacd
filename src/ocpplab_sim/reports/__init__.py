"""Report writers. Each consumes the engine's events; none runs anything."""

from ocpplab_sim.reports.collector import RunRecord
from ocpplab_sim.reports.console import ConsoleReporter
from ocpplab_sim.reports.json_report import JSON_REPORT_VERSION, to_json
from ocpplab_sim.reports.junit import to_junit_xml

__all__ = ["JSON_REPORT_VERSION", "ConsoleReporter", "RunRecord", "to_json", "to_junit_xml"]
