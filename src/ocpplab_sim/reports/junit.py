"""JUnit XML: one testcase per check, plus one per phase or step that could not be carried out.

A failed check's text is its message followed by the explanation (what was seen, when, and the
OCPP messages that led there).

The layout is the common denominator CI systems read (Jenkins, GitLab, GitHub reporters): one
``<testsuite>`` named after the scenario inside ``<testsuites>``.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from ocpplab_sim.reports.collector import RunRecord
from ocpplab_sim.scenario.execution.events import Outcome

__all__ = ["to_junit_xml"]


def to_junit_xml(record: RunRecord) -> str:
    """The report as a JUnit XML document (text, UTF-8 declaration included)."""
    name = record.started.scenario if record.started else "ocpplab-sim"
    suite = ET.Element("testsuite", name=name)
    cases: list[tuple[str, str, float, Outcome, str, str]] = []
    for phase in record.phases:
        if phase.outcome is not Outcome.PASSED and phase.kind == "run":
            cases.append(("phase", phase.phase, phase.duration_s, phase.outcome, phase.message, ""))
    checked_steps = {check.step_index for check in record.checks}
    for check in record.checks:
        text = check.message + (f"\n\n{check.explanation}" if check.explanation else "")
        cases.append(("check", check.name, check.duration_s, check.outcome, check.message, text))
    for step in record.steps:
        if step.index in checked_steps or step.outcome is Outcome.PASSED or step.block:
            continue
        label = f"step {step.index + 1}: {step.label}"
        cases.append(("step", label, step.duration_s, step.outcome, step.message, ""))
    counts = dict.fromkeys(Outcome, 0)
    for kind, label, duration, outcome, message, text in cases:
        counts[outcome] += 1
        case = ET.SubElement(
            suite, "testcase", classname=f"{name}.{kind}", name=label, time=f"{duration:.3f}"
        )
        if outcome is Outcome.FAILED:
            failure = ET.SubElement(case, "failure", message=message, type="ExpectationFailed")
            failure.text = text or message
        elif outcome is Outcome.ERROR:
            ET.SubElement(case, "error", message=message, type="Error").text = text or message
        elif outcome is Outcome.SKIPPED:
            ET.SubElement(case, "skipped", message=message or "skipped")
    total_time = record.finished.duration_s if record.finished else 0.0
    suite.set("tests", str(len(cases)))
    suite.set("failures", str(counts[Outcome.FAILED]))
    suite.set("errors", str(counts[Outcome.ERROR]))
    suite.set("skipped", str(counts[Outcome.SKIPPED]))
    suite.set("time", f"{total_time:.3f}")
    root = ET.Element("testsuites", name="ocpplab-sim")
    for key in ("tests", "failures", "errors", "skipped", "time"):
        root.set(key, suite.get(key, "0"))
    root.append(suite)
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"
