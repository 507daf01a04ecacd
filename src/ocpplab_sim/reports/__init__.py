"""Report writers. Each consumes the engine's events (the trace writer: the OCPP frames); none
runs anything."""

from ocpplab_sim.reports.collector import RunRecord
from ocpplab_sim.reports.console import ConsoleReporter
from ocpplab_sim.reports.html import to_html
from ocpplab_sim.reports.json_report import JSON_REPORT_VERSION, report_schema, to_json
from ocpplab_sim.reports.junit import to_junit_xml
from ocpplab_sim.reports.trace import TraceWriter

__all__ = [
    "JSON_REPORT_VERSION",
    "ConsoleReporter",
    "RunRecord",
    "TraceWriter",
    "report_schema",
    "to_html",
    "to_json",
    "to_junit_xml",
]
