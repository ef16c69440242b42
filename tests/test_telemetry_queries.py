"""Every field the workbook's, the alerts' and docs/admin.md's KQL reads is one the bridge's telemetry writes.

The queries (infra/workbook.bicep, infra/alerts.bicep) read the bridge's events from `AppEvents`, the
fields in `Properties` (`p.<field>` in the workbook's base query, `Properties.<field>` elsewhere).  What
the telemetry writes is taken from what it exports: records with every optional field set go through the
real exporter into the OpenTelemetry SDK's in-memory exporter, and the exported events' attributes are the
fields a query may name.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date

from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor

from bridge.gateway.auth.caller import Caller
from bridge.model import Usage
from bridge.reconcile.comparison import Charged, compare
from bridge.reconcile.job import EVENT_NAME, tell
from bridge.telemetry import conventions, setup
from bridge.telemetry.pipeline import assemble
from bridge.telemetry.request_log import RequestLog
from tests.support.bicep import bicep
from tests.support.paths import ROOT

QUERY_FILES = ("workbook.bicep", "alerts.bicep")
KUSTO_BLOCK = re.compile(r"^```kusto\n(.*?)^```", re.MULTILINE | re.DOTALL)
EVENT = re.compile(r'Name == "(bridge\.\w+)"')
FIELD = re.compile(r"\b(?:p|Properties)\.(\w+)")


def queries() -> Iterator[tuple[str, str, str]]:
    """(file, variable, KQL) for each string variable of the query files that reads a table, and each Kusto
    block of docs/admin.md (by its number)."""
    for name in QUERY_FILES:
        for variable, declared in (bicep(name).get("variables") or {}).items():
            value = declared["value"]
            if isinstance(value, str) and "\n" in value and "|" in value:
                yield f"infra/{name}", variable, value
    for number, block in enumerate(KUSTO_BLOCK.findall((ROOT / "docs" / "admin.md").read_text()), 1):
        yield "docs/admin.md", f"query {number}", block


def exported_events(*records: RequestLog) -> dict[str, set[str]]:
    """Event name -> the attribute names of the events these records, and a day's reconciliation, export."""
    logs = InMemoryLogRecordExporter()
    telemetry = assemble([], [], [SimpleLogRecordProcessor(logs)])
    setup.use(telemetry)
    try:
        for record in records:
            record.emit(200 if record.refused is None else 429)
        tell(compare(date(2026, 12, 4), Charged(9.0, 30, 1), 10.0, 1, 5.0))
    finally:
        setup.use(None)
        telemetry.shutdown()
    fields: dict[str, set[str]] = {}
    for exported in logs.get_finished_logs():
        attributes = dict(exported.log_record.attributes or {})
        fields.setdefault(str(exported.log_record.event_name), set()).update(attributes)
    return fields


def full_request() -> RequestLog:
    """A record with every optional field set: routed, streamed, answered with usage and a cost, by a person
    with a personal key, app roles and groups."""
    record = RequestLog("req_1", "messages", model="claude-opus-4-8", stream=True)
    record.tier, record.deployment, record.api, record.agent = "BIG_MODEL", "gpt-5", "responses", "subagent"
    record.first_events, record.finish_reason, record.error_type = record.started + 0.2, "end_turn", "api_error"
    record.usage = Usage(input_tokens=10, output_tokens=5, cached_tokens=90, reasoning_tokens=2)
    record.cost_usd, record.usage_estimated = 0.0012, True
    record.policy_tier, record.managed_settings = "MIDDLE_MODEL", "other"
    person = Caller("oid-1", "ada@contoso.com", "key", roles=frozenset({"Bridge.User"}), groups=frozenset({"g-1"}), key_id="k1")
    record.caller = person.log_fields()
    return record


def refused_request() -> RequestLog:
    record = RequestLog("req_2", "messages")
    record.refused = "budget"
    return record


def test_each_query_reads_one_event_and_only_its_fields() -> None:
    written = exported_events(full_request(), refused_request())
    assert set(written) == {conventions.EVENT_NAME, EVENT_NAME}
    checked = 0
    for file, variable, kql in queries():
        events = set(EVENT.findall(kql))
        fields = set(FIELD.findall(kql))
        if not fields:
            continue
        assert len(events) == 1, f"{file}: {variable} reads fields of {sorted(events) or 'no event'}: say which one"
        (event,) = events
        missing = fields - written[event]
        assert not missing, f"{file}: {variable} reads {sorted(missing)}, which no {event} event carries"
        checked += 1
    assert checked >= 9, "the workbook's base queries, the alerts' and the admin page's are found"
