"""How reasoning summaries reach an OpenAI-format client: a collapsed "Thinking" section of the content.

Cursor, the client this front end serves, shows nothing of a `reasoning_content`
field from a custom OpenAI endpoint, and shows `<think>` tags as plain text;
the Markdown it renders does turn an HTML `<details>` element into a collapsed
section.  So reasoning travels as content, before the text it led to::

    <details>
    <summary>Thinking</summary>

    ...the reasoning summary...

    </details>

    ...the answer...

Clients send the conversation back with these sections inside the assistant's
content; `strip_thinking` removes them, so the model never takes its earlier
summaries for part of its answers.
"""

from __future__ import annotations

import re

OPEN = "<details>\n<summary>Thinking</summary>\n\n"
CLOSE = "\n\n</details>\n\n"
_SECTION = re.compile(r"<details>\s*<summary>Thinking</summary>.*?</details>\s*", re.DOTALL)


def thinking_section(text: str) -> str:
    return OPEN + text + CLOSE


def strip_thinking(content: str) -> str:
    return _SECTION.sub("", content)
