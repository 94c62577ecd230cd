"""Chat values: a list of messages with roles, tool calls and shell commands."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from labelbook.errors import TaskError
from labelbook.task.checks import (
    check_type,
)

__all__ = ["ChatMessage", "ToolCall"]


@dataclass(frozen=True)
class ToolCall:
    """A call an assistant made to a tool (OpenAI's `tool_calls` shape, flat or nested)."""

    name: str
    """Tool name, e.g. "bash"."""
    arguments: Any = None
    """Arguments as given: a dict, or the raw JSON string some APIs log."""
    id: str = ""
    """Call id that a later `tool` message answers through its `tool_call_id`."""

    COMMAND_KEYS: ClassVar[tuple[str, ...]] = ("command", "cmd", "script", "code", "input")
    """The argument keys that hold a shell command, in the order they are looked at."""

    @property
    def command(self) -> str | None:
        """The shell command the call runs, when its arguments carry one (`{"command": "ls"}`,
        `{"cmd": "ls"}`, ..., or the same as a JSON string); None otherwise.

        The one reader of tool-call commands: the contractor guide and the Argilla records both
        show such a call as a shell step.
        """
        arguments = self.arguments
        if isinstance(arguments, str):
            try:
                arguments = json.loads(arguments)
            except ValueError:
                return None
        if isinstance(arguments, Mapping):
            for key in self.COMMAND_KEYS:
                if isinstance(arguments.get(key), str):
                    return str(arguments[key])
        return None


@dataclass(frozen=True)
class ChatMessage:
    """One message of a ChatField value.

    A value is a list of dicts; each has a `role` ("system", "user", "assistant", "tool", or any
    other name such as "shell") and may have:
    `content` (a string, or a list of `{"type": "text", "text": ...}` parts),
    `tool_calls` (a list of `{"name", "arguments", "id"}` or `{"id", "function": {"name", "arguments"}}`),
    `name` and `tool_call_id` (on a tool's reply), and for shell sessions
    `command`, `output` and `exit_code`. Other keys (timestamps, token counts) are allowed and ignored.
    """

    role: str
    """Who speaks: "user", "assistant", "system", "tool", "shell", ..."""
    content: str = ""
    """The text of the message (may be empty when the message is only a tool call or a command)."""
    tool_calls: tuple[ToolCall, ...] = ()
    """Tool calls made in this message."""
    command: str | None = None
    """A shell command that was run."""
    output: str | None = None
    """What the command (or tool) printed."""
    exit_code: int | None = None
    """The command's exit status, when known."""
    name: str = ""
    """The tool's name, on a tool's reply."""
    tool_call_id: str = ""
    """The id of the call this message answers."""

    @classmethod
    def from_value(cls, value: object, where: str = "message") -> ChatMessage:
        """Parse one message dict, raising TaskError that names the bad key."""
        if not isinstance(value, Mapping):
            raise TaskError(f"{where} must be a dict with a 'role', got {type(value).__name__} {value!r}.")
        role = value.get("role")
        if not isinstance(role, str) or not role.strip():
            raise TaskError(f"{where} needs a non-empty 'role' such as 'user', 'assistant' or 'tool'.")
        content = value.get("content")
        if content is None:
            content = ""
        elif isinstance(content, list):
            parts = []
            for i, part in enumerate(content):
                if isinstance(part, str):
                    parts.append(part)
                elif isinstance(part, Mapping) and isinstance(part.get("text"), str):
                    parts.append(part["text"])
                else:
                    raise TaskError(f"{where}.content[{i}] must be a string or a {{'text': ...}} part.")
            content = "\n".join(parts)
        check_type(content, str, f"{where}.content", "a string")
        calls = []
        raw_calls = value.get("tool_calls") or []
        check_type(raw_calls, list, f"{where}.tool_calls", "a list")
        for i, call in enumerate(raw_calls):
            at = f"{where}.tool_calls[{i}]"
            if not isinstance(call, Mapping):
                raise TaskError(f"{at} must be a dict with a 'name'.")
            function = call.get("function")
            inner: Mapping[str, Any] = function if isinstance(function, Mapping) else call
            name = inner.get("name")
            if not isinstance(name, str) or not name:
                raise TaskError(f"{at} needs a non-empty 'name' (the tool that was called).")
            call_id = call.get("id") or ""
            check_type(call_id, str, f"{at}.id", "a string")
            calls.append(ToolCall(name=name, arguments=inner.get("arguments"), id=call_id))
        command, output, exit_code = value.get("command"), value.get("output"), value.get("exit_code")
        if command is not None:
            check_type(command, str, f"{where}.command", "a string")
        if output is not None:
            check_type(output, str, f"{where}.output", "a string")
        if exit_code is not None:
            check_type(exit_code, int, f"{where}.exit_code", "an integer")
        name = value.get("name") or ""
        tool_call_id = value.get("tool_call_id") or ""
        check_type(name, str, f"{where}.name", "a string")
        check_type(tool_call_id, str, f"{where}.tool_call_id", "a string")
        return cls(role, content, tuple(calls), command, output, exit_code, name, tool_call_id)
