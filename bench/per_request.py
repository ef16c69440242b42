"""CPU per request of the proxy process, in four cases, for the bridge and (optionally) a peer proxy.

    case           request (client → proxy)                           upstream answer
    -------------  -------------------------------------------------  ---------------------------------------
    tiny           ~200 B, stream false                                200 words (~200 tokens): 200 text chunks
    claude_code    hello-02 (76 KB, Claude Code 2.1.197), stream false   the same 200-word answer
    long_session   `long_session` (~600 KB tool loop), stream false    the same 200-word answer
    stream         the tiny request, stream true                       2,000 chunks (chat: text + 4 tool calls
                                                                        in the recorded shapes; Responses: text)

A non-streaming upstream request gets the answer as one `chat.completion` /
Responses object, a streaming one as SSE chunks, so the figures hold whichever
the proxy asks for.

Proxies: the bridge on chat/completions tiers (the main figure, the one the
target applies to), the bridge on Responses tiers, and the peer started by
`--peer-command` (`bench.peer`; chat only).  All tiers, and the peer's models,
map to one deployment (`DEPLOYMENT`).  Every proxy process (with its threads and
children) is pinned to one core, the fake upstream and the bench client to the
other(s).  The proxies of one upstream API take turns in blocks of requests
(order reversed block by block); CPU per request is the proxy's on-CPU time
(`common.cpu_ns`, nanoseconds) over a block divided by its requests, and the
figure is the median over blocks.  The mean over the whole run, and the same
from utime + stime ticks, are in the JSON as a cross-check.  Every answer is
checked against what the upstream sent (text, tool names and arguments).

A proxy that refuses a recorded request (4xx) which carries Claude Code's
mid-conversation `role: "system"` messages is measured on the same request with
those messages moved to the end of the top-level `system` (`fold_system_messages`);
the report says so.
"""

from __future__ import annotations

import json
import os
import statistics
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx

from bench.azure_stream import WORDS, build_stream
from bench.common import (
    bridge_process,
    client_headers,
    cpu_ns,
    cpu_seconds,
    encode,
    percentiles,
    pin,
    process_tree,
    running_upstream,
    traffic_body,
)
from bench.long_session import long_session_body
from bench.peer import running_peer
from bench.upstream import LONG_WINDOW_DEPLOYMENT

DEPLOYMENT = LONG_WINDOW_DEPLOYMENT
"""A non-reasoning model (the peer cannot call a reasoning one) whose window holds the long session."""
TIERS = {"BIG_MODEL": DEPLOYMENT, "MIDDLE_MODEL": DEPLOYMENT, "SMALL_MODEL": DEPLOYMENT}
RESPONSES_TIERS = {**TIERS, "BIG_MODEL_API": "responses", "MIDDLE_MODEL_API": "responses", "SMALL_MODEL_API": "responses"}
ANSWER_WORDS = 200
STREAM_CHUNKS = 2_000
TINY_REQUEST: dict[str, Any] = {
    "model": "claude-opus-4-8",
    "max_tokens": 1024,
    "system": "You are a concise assistant for a software team.",
    "messages": [{"role": "user", "content": "Explain in about two hundred words what our build report says."}],
}
Answer = tuple[str, tuple[tuple[str, Any], ...]]
"""What a reply carries: its text, and its tool calls as (name, arguments)."""


@dataclass(frozen=True)
class Case:
    key: str
    label: str
    target_ms: float
    block: int
    body: dict[str, Any]

    @property
    def streams(self) -> bool:
        return bool(self.body.get("stream"))


@dataclass(frozen=True)
class Proxy:
    key: str
    name: str
    url: str
    pids: list[int]
    strict: bool
    """A wrong answer stops the bench (the bridge); for a peer it is counted and reported."""


class Refused(Exception):
    def __init__(self, status: int, text: str) -> None:
        super().__init__(f"HTTP {status}: {text}")
        self.status = status
        self.text = text


def answer_text(words: int) -> str:
    """`words` words of `azure_stream.WORDS` (unicode, quotes and backslashes included)."""
    return " ".join(WORDS[n % len(WORDS)] for n in range(words))


def cases() -> list[Case]:
    return [
        Case("tiny", "a. tiny, non-stream", 2.0, 20, {**TINY_REQUEST, "stream": False}),
        Case("claude_code", "b. Claude Code, non-stream", 3.0, 20, traffic_body()),
        Case("long_session", "c. long session, non-stream", 7.0, 10, long_session_body()),
        Case("stream", "d. stream of 2,000 chunks", 20.0, 3, {**TINY_REQUEST, "stream": True}),
    ]


def upstream_reply(case: Case, api: str) -> dict[str, Any]:
    """What the fake answers in `case` on `api` (a `bench.upstream.reply_from` spec)."""
    if not case.streams:
        return {"text": answer_text(ANSWER_WORDS), "pieces": ANSWER_WORDS}
    if api == "chat":
        return {"stream_chunks": STREAM_CHUNKS}
    return {"text": answer_text(STREAM_CHUNKS), "pieces": STREAM_CHUNKS}


def expected_answer(spec: dict[str, Any]) -> Answer:
    """The text and tool calls a client must get for the upstream reply `spec`."""
    if "text" in spec:
        return str(spec["text"]), ()
    text: list[str] = []
    calls: dict[int, list[str]] = {}
    for event in build_stream(int(spec["stream_chunks"])).body.split(b"\n\n"):
        if not event.startswith(b"data: {"):
            continue
        for choice in json.loads(event[6:])["choices"]:
            delta = choice["delta"]
            text.append(delta.get("content") or "")
            for call in delta.get("tool_calls") or ():
                entry = calls.setdefault(call["index"], ["", ""])
                entry[0] += call["function"].get("name") or ""
                entry[1] += call["function"].get("arguments") or ""
    return "".join(text), tuple((name, json.loads(arguments)) for name, arguments in calls.values())


def read_message(body: Any) -> Answer:
    """Text and tool calls of an Anthropic message."""
    text = "".join(block["text"] for block in body["content"] if block["type"] == "text")
    calls = tuple((block["name"], block["input"]) for block in body["content"] if block["type"] == "tool_use")
    return text, calls


def read_stream(raw: bytes) -> Answer:
    """Text and tool calls of an Anthropic SSE stream; it must end with `message_stop`."""
    text: list[str] = []
    blocks: dict[int, list[str]] = {}
    last = ""
    for frame in raw.split(b"\n\n"):
        for line in frame.split(b"\n"):
            if not line.startswith(b"data:"):
                continue
            event = json.loads(line[5:])
            last = event["type"]
            if last == "content_block_start" and event["content_block"]["type"] == "tool_use":
                blocks[event["index"]] = [event["content_block"]["name"], ""]
            elif last == "content_block_delta":
                delta = event["delta"]
                if delta["type"] == "text_delta":
                    text.append(delta["text"])
                elif delta["type"] == "input_json_delta":
                    blocks[event["index"]][1] += delta["partial_json"]
    if last != "message_stop":
        raise Refused(200, f"the stream ended with {last or 'nothing'}, not message_stop: {raw[-300:]!r}")
    return "".join(text), tuple((name, json.loads(arguments or "{}")) for name, arguments in blocks.values())


def fold_system_messages(body: dict[str, Any]) -> dict[str, Any]:
    """`body` with its `role: "system"` messages moved, as text blocks, to the end of the top-level `system`."""
    extra: list[dict[str, Any]] = []
    for message in body["messages"]:
        if message["role"] == "system":
            content = message["content"]
            extra.extend([{"type": "text", "text": content}] if isinstance(content, str) else content)
    if not extra:
        return body
    system = body.get("system") or []
    blocks = [{"type": "text", "text": system}] if isinstance(system, str) else list(system)
    messages = [message for message in body["messages"] if message["role"] != "system"]
    return {**body, "system": blocks + extra, "messages": messages}


@dataclass
class _Tally:
    """One proxy's readings in one case."""

    content: bytes
    adapted: str | None = None
    block_cpu_ms: list[float] = field(default_factory=list)
    wall_ms: list[float] = field(default_factory=list)
    cpu_ns: int = 0
    ticks_s: float = 0.0
    wrong_answers: int = 0

    def report(self) -> dict[str, Any]:
        requests = len(self.wall_ms)
        return {
            "cpu_ms": statistics.median(self.block_cpu_ms),
            "cpu_ms_mean": self.cpu_ns / requests / 1e6,
            "cpu_ms_ticks": self.ticks_s * 1000 / requests,
            "cpu_ms_blocks": {"min": min(self.block_cpu_ms), "max": max(self.block_cpu_ms), "n": len(self.block_cpu_ms)},
            "wall_ms": percentiles(self.wall_ms),
            "requests": requests,
            "request_bytes": len(self.content),
            "adapted": self.adapted,
            "wrong_answers": self.wrong_answers,
        }


def call(client: httpx.Client, proxy: Proxy, content: bytes, streams: bool, expected: Answer) -> tuple[float, bool]:
    """One request; returns (wall ms, whether the answer is the upstream's).  A non-200 answer raises `Refused`."""
    headers = {**client_headers(), "Content-Type": "application/json"}
    start = time.perf_counter_ns()
    if streams:
        with client.stream("POST", proxy.url + "/v1/messages", content=content, headers=headers) as response:
            raw = response.read()
        wall = (time.perf_counter_ns() - start) / 1e6
        if response.status_code != 200:
            raise Refused(response.status_code, raw[:300].decode(errors="replace"))
        answer = read_stream(raw)
    else:
        response = client.post(proxy.url + "/v1/messages", content=content, headers=headers)
        wall = (time.perf_counter_ns() - start) / 1e6
        if response.status_code != 200:
            raise Refused(response.status_code, response.text[:300])
        answer = read_message(response.json())
    right = answer == expected
    if not right and proxy.strict:
        raise RuntimeError(f"{proxy.name} answered {answer[0][:200]!r} {answer[1][:1]!r}, expected {expected[0][:200]!r}")
    return wall, right


def _prepare(client: httpx.Client, proxy: Proxy, case: Case, expected: Answer, warmup: int) -> _Tally | dict[str, Any]:
    """Warm `proxy` up on `case`; the tally to fill, or why it cannot be measured."""
    tally = _Tally(encode(case.body))
    try:
        call(client, proxy, tally.content, case.streams, expected)
    except Refused as refusal:
        folded = fold_system_messages(case.body)
        if proxy.strict or folded is case.body or not 400 <= refusal.status < 500:
            if proxy.strict:
                raise RuntimeError(f"{proxy.name} refused the {case.key} request: {refusal}") from None
            return {"refused": {"status": refusal.status, "body": refusal.text}}
        tally = _Tally(encode(folded), f"role:system messages folded into system (the recorded request got {refusal})")
        try:
            call(client, proxy, tally.content, case.streams, expected)
        except Refused as again:
            return {"refused": {"status": again.status, "body": again.text}, "first_refusal": str(refusal)}
    for _ in range(warmup):
        call(client, proxy, tally.content, case.streams, expected)
    return tally


def _tree_ticks(pids: Sequence[int]) -> float:
    return sum(cpu_seconds(pid) for pid in pids)


def measure(client: httpx.Client, proxies: Sequence[Proxy], case: Case, rounds: int, expected: Answer) -> dict[str, Any]:
    """Interleaved blocks of `case` requests to `proxies`; each proxy's report (or its refusal)."""
    block = max(1, min(case.block, rounds))
    results: dict[str, Any] = {}
    tallies: dict[str, _Tally] = {}
    for proxy in proxies:
        prepared = _prepare(client, proxy, case, expected, warmup=block)
        if isinstance(prepared, _Tally):
            tallies[proxy.key] = prepared
        else:
            results[proxy.key] = prepared
    active = [proxy for proxy in proxies if proxy.key in tallies]
    for number in range(max(1, rounds // block)):
        for proxy in active if number % 2 == 0 else active[::-1]:
            tally = tallies[proxy.key]
            ticks, ns = _tree_ticks(proxy.pids), cpu_ns(proxy.pids)
            for _ in range(block):
                wall, right = call(client, proxy, tally.content, case.streams, expected)
                tally.wall_ms.append(wall)
                tally.wrong_answers += not right
            spent = cpu_ns(proxy.pids) - ns
            tally.ticks_s += _tree_ticks(proxy.pids) - ticks
            tally.cpu_ns += spent
            tally.block_cpu_ms.append(spent / block / 1e6)
    results.update({key: tally.report() for key, tally in tallies.items()})
    return results


@contextmanager
def pinned_self(cores: set[int]) -> Iterator[None]:
    """Run the bench client (this thread) on `cores`; the processes started meanwhile inherit it."""
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, cores)
    try:
        yield
    finally:
        os.sched_setaffinity(0, before)


def cores() -> tuple[set[int], set[int]]:
    """(cores for the proxies, cores for the fake upstream and the client): the last core, and the others."""
    cores = sorted(os.sched_getaffinity(0))
    if len(cores) < 2:
        return set(cores), set(cores)
    return {cores[-1]}, set(cores[:-1])


def run(rounds: Sequence[int], peer_command: str | None = None, peer_name: str = "peer") -> dict[str, Any]:
    """The section: `rounds` requests per proxy for each of `cases()`, in order."""
    proxy_cores, other_cores = cores()
    load_before = os.getloadavg()
    started = time.perf_counter()
    chosen = cases()
    report: dict[str, Any] = {
        "deployment": DEPLOYMENT,
        "cores": {"proxies": sorted(proxy_cores), "upstream_and_client": sorted(other_cores)},
        "proxies": {
            "bridge_chat": {"name": "bridge", "api": "chat"},
            "bridge_responses": {"name": "bridge", "api": "responses"},
            "peer": {"name": peer_name, "api": "chat", "command": peer_command, "run": peer_command is not None},
        },
        "answer_words": ANSWER_WORDS,
        "stream_chunks": STREAM_CHUNKS,
        "cases": {},
    }
    with pinned_self(other_cores), ExitStack() as stack:
        upstream = stack.enter_context(running_upstream("--text", "warming up"))
        chat = stack.enter_context(bridge_process(upstream, **TIERS))
        responses = stack.enter_context(bridge_process(upstream, **RESPONSES_TIERS))
        by_api: dict[str, list[Proxy]] = {
            "chat": [Proxy("bridge_chat", "bridge (chat)", chat.url, [chat.pid], strict=True)],
            "responses": [Proxy("bridge_responses", "bridge (responses)", responses.url, [responses.pid], strict=True)],
        }
        if peer_command is not None:
            peer = stack.enter_context(running_peer(peer_command, upstream, DEPLOYMENT))
            by_api["chat"].append(Proxy("peer", peer_name, peer.url, process_tree(peer.process.pid), strict=False))
        for proxy in (proxy for group in by_api.values() for proxy in group):
            pin(proxy.pids, proxy_cores)
        client = stack.enter_context(httpx.Client(timeout=300))
        for case, count in zip(chosen, rounds, strict=True):
            results: dict[str, Any] = {}
            for api, group in by_api.items():
                spec = upstream_reply(case, api)
                upstream.answer_with(**spec)
                results.update(measure(client, group, case, count, expected_answer(spec)))
            bridge = results["bridge_chat"]["cpu_ms"]
            report["cases"][case.key] = {
                "label": case.label,
                "request_bytes": len(encode(case.body)),
                "streams": case.streams,
                "target_cpu_ms": case.target_ms,
                "results": results,
                "pass": bridge <= case.target_ms,
            }
    report["loadavg_1m"] = {"before": round(load_before[0], 2), "after": round(os.getloadavg()[0], 2)}
    report["elapsed_s"] = time.perf_counter() - started
    report["pass"] = all(case["pass"] for case in report["cases"].values())
    return report


def render(section: dict[str, Any], number: int) -> list[str]:
    """The printed table."""
    proxies = section["proxies"]
    peer = proxies["peer"]
    columns: list[tuple[str, str]] = [
        ("bridge_chat", "bridge chat"),
        ("bridge_responses", "bridge responses"),
        ("peer", peer["name"]),
    ]
    lines = [
        f"{number}. CPU per request of the proxy process, ms: median over blocks (wall p50 in brackets); "
        f"proxies on cpu {','.join(map(str, section['cores']['proxies']))}, fake upstream and client on cpu "
        f"{','.join(map(str, section['cores']['upstream_and_client']))}; deployment {section['deployment']}; "
        f"load {section['loadavg_1m']['before']} → {section['loadavg_1m']['after']}",
        f"   {'case':<40}" + "".join(f"{title:>22}" for _, title in columns) + f"{'target':>10}",
    ]
    notes: list[str] = []
    for case in section["cases"].values():
        name = f"{case['label']} ({_size(case['request_bytes'])})"
        cells = [
            _cell(case["results"].get(column), column == "peer" and not peer["run"], notes, title) for column, title in columns
        ]
        verdict = "PASS" if case["pass"] else "MISS"
        lines.append(
            f"   {name:<40}" + "".join(f"{cell:>22}" for cell in cells) + f"{'≤ ' + str(case['target_cpu_ms']):>10}  {verdict}"
        )
    lines += [f"   {note}" for note in notes]
    return lines


def _size(size: int) -> str:
    return f"{size} B" if size < 10_000 else f"{size / 1000:.0f} KB"


def _cell(result: dict[str, Any] | None, not_run: bool, notes: list[str], title: str) -> str:
    if not_run or result is None:
        return "not run"
    if "refused" in result:
        notes.append(f"{title}: refused: HTTP {result['refused']['status']} {result['refused']['body'][:160]}")
        return f"refused ({result['refused']['status']})"
    flags = ""
    if result["adapted"]:
        flags += "*"
        if not any(note.startswith(f"* {title}:") for note in notes):
            notes.append(f"* {title}: {result['adapted'][:220]}")
    if result["wrong_answers"]:
        flags += "!"
        notes.append(f"! {title}: {result['wrong_answers']} of {result['requests']} answers differ from the upstream's")
    return f"{result['cpu_ms']:.2f} ({result['wall_ms']['p50']:.1f}){flags}"
