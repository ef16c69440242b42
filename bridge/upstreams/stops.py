"""Stop sequences, matched by the bridge on the generated text.

The bridge does not pass stop sequences upstream: chat/completions never says
which one matched, and reasoning models refuse `stop`.  Matching here gives
Anthropic's exact semantics on every deployment: the text ends right before
the first sequence found, the response finishes with `stop_sequence` naming
it, and the upstream is closed at once.  Text that could be the start of a
sequence is held back until it is decided.

Each delta costs one search per sequence (C string search) and, for the
held-back end, at most one set lookup per character of the longest sequence;
`check_stop_sequences` caps both (`MAX_SEQUENCES` sequences of at most `MAX_SEQUENCE_CHARS`
characters), so no request can make that work large.
"""

from __future__ import annotations

from bridge.errors import invalid_request
from bridge.model import Event, Finish, TextDelta

MAX_SEQUENCES = 16
MAX_SEQUENCE_CHARS = 256


def check_stop_sequences(sequences: list[str]) -> None:
    """Raise a 400 that gives the bridge's limits when `sequences` pass them (before any upstream call)."""
    if len(sequences) > MAX_SEQUENCES or any(len(sequence) > MAX_SEQUENCE_CHARS for sequence in sequences):
        raise invalid_request(
            f"stop sequences: the bridge takes at most {MAX_SEQUENCES}, of at most {MAX_SEQUENCE_CHARS} characters "
            f"each (this request has {len(sequences)}, the longest {max(len(sequence) for sequence in sequences)})"
        )


class StopSequences:
    """Feed event batches in order; `finished` turns true when a sequence matched (nothing follows)."""

    __slots__ = ("_held", "_longest", "_prefixes", "finished", "sequences")

    def __init__(self, sequences: list[str]) -> None:
        self.sequences = sequences
        self._longest = max(len(sequence) for sequence in sequences)
        self._prefixes = frozenset(sequence[:size] for sequence in sequences for size in range(1, len(sequence)))
        self._held = ""
        self.finished = False

    def _held_length(self, text: str) -> int:
        """Length of the longest end of `text` that begins some sequence."""
        for size in range(min(self._longest - 1, len(text)), 0, -1):
            if text[-size:] in self._prefixes:
                return size
        return 0

    def _first_match(self, text: str) -> tuple[int, str] | None:
        found: tuple[int, str] | None = None
        for sequence in self.sequences:
            at = text.find(sequence)
            if at >= 0 and (found is None or at < found[0]):
                found = (at, sequence)
        return found

    def feed(self, events: list[Event]) -> list[Event]:
        out: list[Event] = []
        for event in events:
            if not isinstance(event, TextDelta):
                if self._held:
                    out.append(TextDelta(self._held))
                    self._held = ""
                out.append(event)
                continue
            text = self._held + event.text
            match = self._first_match(text)
            if match is not None:
                at, sequence = match
                if at:
                    out.append(TextDelta(text[:at]))
                out.append(Finish("stop_sequence", sequence))
                self.finished = True
                return out
            keep = self._held_length(text)
            self._held = text[len(text) - keep :] if keep else ""
            if len(text) > keep:
                out.append(TextDelta(text[: len(text) - keep]))
        return out
