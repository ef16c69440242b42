"""The internal request and stream model that every front and every upstream meet in.

A front (the Anthropic Messages API, the OpenAI chat format) translates its
request into a `Request` and renders a stream of `Event`s back; an upstream
(Azure chat/completions, the Responses API) translates a `Request` into its
body and its stream into `Event`s.  No front knows any upstream.

Request side::

    Request ── messages: [Message(role, parts)]   system prompt = leading "system" messages
             ├─ tools: [Tool]   tool_choice: ToolChoice | None
             └─ sampling and limits (max_tokens, temperature, top_p, stop, user)

    parts:  TextPart | ImagePart | FilePart | ToolCallPart (assistant) | ToolResultPart (user)
            | ReasoningPart (assistant thinking carried between turns)
    a tool result holds TextPart | ImagePart | FilePart | ToolReference (tool search found a tool)
    a Tool may be `deferred`: offered to the model only once a ToolReference names it

Stream side (what an upstream yields, in order)::

    TextDelta* / ReasoningDelta* ReasoningSignature? / ToolCallStart, ToolCallDelta*
    / WebSearchCall, WebSearchResults / Citation     (interleaved as generated)
    Usage?            (any time; the last one wins)
    Finish            (exactly once, last)

`ToolCallStart.slot` is the upstream's own index of a call, so parallel calls
stay apart; fronts assign their own block or choice indexes.

Where a request goes, and the words every layer shares::

    Target(deployment, setting, api)   the deployment, the setting that named it (or PASS_THROUGH), the tier's Api
    Api          "chat" | "responses"  the upstream API a deployment is called through
    ClientAuth   "token" | "entra"     how clients sign in (CLIENT_AUTH)
    Body         a JSON object as an upstream API takes or gives it
    bounded()    an identifier that fits MAX_IDENTIFIER_LENGTH (else its SHA-256)
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any, Literal

Role = Literal["system", "user", "assistant"]
FinishReason = Literal["end_turn", "max_tokens", "tool_use", "stop_sequence", "refusal"]
ToolChoiceMode = Literal["auto", "required", "none", "tool"]
ReasoningEffort = Literal["none", "minimal", "low", "medium", "high", "xhigh"]
Api = Literal["chat", "responses"]
"""The upstream API a deployment is called through: chat/completions or Responses."""
ClientAuth = Literal["token", "entra"]
"""How clients sign in (CLIENT_AUTH): the shared token, or Entra ID and personal keys."""


@dataclass(slots=True)
class TextPart:
    text: str
    citations: list[Citation] = field(default_factory=list)
    """Web sources this text cites (set only in a gathered `Completion`)."""


@dataclass(slots=True)
class ImagePart:
    """An image as a URL: `https://...` or `data:<media type>;base64,<data>`."""

    url: str


@dataclass(slots=True)
class FilePart:
    """A document (a PDF) as a URL: `data:application/pdf;base64,<data>` or `https://...`."""

    url: str
    filename: str = "document.pdf"


@dataclass(slots=True)
class ToolCallPart:
    id: str
    name: str
    arguments: str


@dataclass(slots=True)
class ToolReference:
    """A tool result's pointer to a tool that tool search found (it becomes callable from then on)."""

    name: str


@dataclass(slots=True)
class ToolResultPart:
    call_id: str
    content: list[ResultContent]
    is_error: bool = False


@dataclass(slots=True)
class ReasoningPart:
    """Reasoning carried between turns; `signature` is opaque (the upstream's encrypted reasoning)."""

    text: str
    signature: str | None = None


Part = TextPart | ImagePart | FilePart | ToolCallPart | ToolResultPart | ReasoningPart
Media = TextPart | ImagePart | FilePart
"""What a user message can hold."""
ResultContent = TextPart | ImagePart | FilePart | ToolReference
"""What a tool result can hold."""


@dataclass(slots=True)
class Message:
    role: Role
    parts: list[Part]


@dataclass(slots=True)
class Tool:
    name: str
    description: str
    parameters: dict[str, object]
    deferred: bool = False
    """Loaded only through tool search (Anthropic's `defer_loading`): callable once a ToolReference names it."""


@dataclass(slots=True)
class ToolChoice:
    mode: ToolChoiceMode
    name: str | None = None


@dataclass(slots=True)
class WebSearch:
    """The client allows the model to search the web (a server-side tool)."""

    max_uses: int | None = None
    allowed_domains: list[str] = field(default_factory=list)
    blocked_domains: list[str] = field(default_factory=list)
    user_location: dict[str, object] | None = None


@dataclass(slots=True)
class ResponseFormat:
    """Structured output: the answer's text must be JSON matching `schema`."""

    schema: dict[str, object]
    name: str = "response"
    strict: bool = True


@dataclass(slots=True)
class Request:
    model: str
    messages: list[Message]
    max_tokens: int | None = None
    stream: bool = False
    tools: list[Tool] = field(default_factory=list)
    tool_choice: ToolChoice | None = None
    parallel_tool_calls: bool | None = None
    temperature: float | None = None
    top_p: float | None = None
    stop: list[str] = field(default_factory=list)
    user: str | None = None
    reasoning_effort: ReasoningEffort | None = None
    """None: the deployment's default effort."""
    reasoning_summary: bool = True
    """Whether the client wants to see reasoning text (else only the opaque signature travels)."""
    response_format: ResponseFormat | None = None
    web_search: WebSearch | None = None
    cache_key: str | None = None
    """A stable key (the client's session) so the upstream's prompt cache hits across turns."""


PASS_THROUGH = "model"


@dataclass(frozen=True, slots=True)
class Target:
    """The deployment a request goes to, the setting that named it, and the tier's API (None: automatic)."""

    deployment: str
    setting: str
    """The setting to change to pick another deployment (`PASS_THROUGH` for the request's own model name)."""
    api: Api | None = None

    @property
    def source(self) -> str:
        return "the request's model name" if self.setting == PASS_THROUGH else self.setting


@dataclass(slots=True)
class TextDelta:
    text: str


@dataclass(slots=True)
class ReasoningDelta:
    text: str


@dataclass(slots=True)
class ReasoningSignature:
    """The opaque signature of the reasoning block being streamed, which ends it ("" for one with none)."""

    signature: str


@dataclass(slots=True)
class WebSearchCall:
    id: str
    query: str


@dataclass(slots=True)
class WebSource:
    url: str
    title: str


@dataclass(slots=True)
class WebSearchResults:
    call_id: str
    sources: list[WebSource]


@dataclass(slots=True)
class Citation:
    """Cites a web source for the text streamed so far in the current text block."""

    url: str
    title: str
    cited_text: str = ""


@dataclass(slots=True)
class ToolCallStart:
    slot: int
    id: str
    name: str


@dataclass(slots=True)
class ToolCallDelta:
    slot: int
    arguments: str


@dataclass(slots=True)
class Usage:
    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0
    reasoning_tokens: int = 0
    web_search_requests: int = 0


@dataclass(slots=True)
class Finish:
    reason: FinishReason
    stop_sequence: str | None = None


Event = (
    TextDelta
    | ReasoningDelta
    | ReasoningSignature
    | ToolCallStart
    | ToolCallDelta
    | WebSearchCall
    | WebSearchResults
    | Citation
    | Usage
    | Finish
)


@dataclass(slots=True)
class ToolCall:
    id: str
    name: str
    arguments: str


@dataclass(slots=True)
class Completion:
    """A whole response, gathered from a stream by `bridge.serving.collect`."""

    content: list[TextPart | ReasoningPart | ToolCall | WebSearchCall | WebSearchResults]
    finish: Finish
    usage: Usage


MAX_IDENTIFIER_LENGTH = 64
MAX_MODEL_NAME_LENGTH = 256


def bounded(value: str) -> str:
    """`value` itself when it fits, else its SHA-256 (64 hex characters): stable, and no raw id leaks."""
    return value if len(value) <= MAX_IDENTIFIER_LENGTH else hashlib.sha256(value.encode()).hexdigest()


Body = dict[str, Any]
"""A JSON object as an upstream API takes or gives it (a request body, an item, a tool)."""
