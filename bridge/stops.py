"""Stop sequences, matched by the bridge on the generated text.

The bridge does not pass stop sequences upstream: chat/completions never says
which one matched, and reasoning models refuse `stop`.  Matching here gives
Anthropic's exact semantics on every deployment: the text ends right before
the first sequence found, the response finishes with `stop_sequence` naming
it, and the upstream is closed at once.  While streaming, text that could be
the start of a sequence is held back until it is decided.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from bridge.model import Event, Finish, TextDelta


def _held_length(text: str, sequences: list[str]) -> int:
    """Length of the longest end of `text` that begins some sequence."""
    longest = 0
    for sequence in sequences:
        for size in range(min(len(sequence) - 1, len(text)), longest, -1):
            if text.endswith(sequence[:size]):
                longest = size
                break
    return longest


def _first_match(text: str, sequences: list[str]) -> tuple[int, str] | None:
    found: tuple[int, str] | None = None
    for sequence in sequences:
        at = text.find(sequence)
        if at >= 0 and (found is None or at < found[0]):
            found = (at, sequence)
    return found


async def apply_stop_sequences(events: AsyncIterator[Event], sequences: list[str]) -> AsyncIterator[Event]:
    held = ""
    try:
        async for event in events:
            if isinstance(event, TextDelta):
                text = held + event.text
                match = _first_match(text, sequences)
                if match is not None:
                    at, sequence = match
                    if at:
                        yield TextDelta(text[:at])
                    yield Finish("stop_sequence", sequence)
                    return
                keep = _held_length(text, sequences)
                held = text[len(text) - keep :] if keep else ""
                if len(text) > keep:
                    yield TextDelta(text[: len(text) - keep])
                continue
            if held:
                yield TextDelta(held)
                held = ""
            yield event
    finally:
        await events.aclose()  # type: ignore[attr-defined]
