"""A fake Azure OpenAI resource for the bridge's tests.

`FakeAzure` (the app, its request log and reply script), the `Deployment`
profile (`like(model)` for a known model), the reply types (chat/completions
and Responses, faults included; serve it with `tests.support.serving.running`),
`ScriptedModel` (answers from what a request holds, for clients whose
request order is not fixed) and `catalog.ROWS`, the index of the real
behaviours it reproduces.
"""

from .deployment import Deployment, like
from .encrypted import Vault, issue_encrypted, verify_encrypted
from .replay import MISSING_REASON, load_transcript, recorded_dir, recorded_reply, require_recorded_dir
from .responses_streams import ResponsesFailure, ResponsesReply, ResponsesText, ResponsesToolCalls, Search
from .scripted_model import Agent, Conversation, ScriptedModel, Served, Step
from .server import DEFAULT_API_KEY, DEFAULT_DEPLOYMENTS, FakeAzure, RecordedRequest, Responder
from .streams import Error, Faults, RawSSE, Reply, Text, ToolCalls, sse_data

__all__ = [
    "DEFAULT_API_KEY",
    "DEFAULT_DEPLOYMENTS",
    "MISSING_REASON",
    "Agent",
    "Conversation",
    "Deployment",
    "Error",
    "FakeAzure",
    "Faults",
    "RawSSE",
    "RecordedRequest",
    "Reply",
    "Responder",
    "ResponsesFailure",
    "ResponsesReply",
    "ResponsesText",
    "ResponsesToolCalls",
    "ScriptedModel",
    "Search",
    "Served",
    "Step",
    "Text",
    "ToolCalls",
    "Vault",
    "issue_encrypted",
    "like",
    "load_transcript",
    "recorded_dir",
    "recorded_reply",
    "require_recorded_dir",
    "sse_data",
    "verify_encrypted",
]
