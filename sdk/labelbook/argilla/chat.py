"""Chat fields as Argilla shows them: labelbook's messages (tool calls, shell commands, their output
and exit codes) written into Argilla's plain {role, content} messages as markdown, within the sizes
argilla-server takes."""

from __future__ import annotations

import contextlib
import json
from typing import Any

from labelbook.errors import TaskError
from labelbook.markup import fence
from labelbook.task import ChatField

_CHAT_LIMIT = 20000  # argilla-server's longest message (longer ones are cut, and say so)
CHAT_MAX_MESSAGES = 500  # argilla-server's most messages in one chat field (CHAT_FIELDS_MAX_MESSAGES)


def argilla_chat(task_field: ChatField, value: Any) -> list[dict[str, str]]:
    """A labelbook chat value as Argilla's messages: each {role, content}, with tool calls, shell
    commands, their output and exit codes written into the content as markdown."""
    messages = []
    for message in task_field.messages(value):
        parts = [message.content] if message.content.strip() else []
        for call in message.tool_calls:
            arguments = call.arguments
            command = call.command
            if command is not None:
                parts.append(f"`{call.name}`:\n" + fence(f"$ {command}", "bash"))
            else:
                shown = arguments if isinstance(arguments, str) else json.dumps(arguments, ensure_ascii=False)
                parts.append(f"`{call.name}` " + fence(shown or "", "json"))
        if message.command is not None:
            shell = f"$ {message.command}" + (f"\n{message.output}" if message.output else "")
            parts.append(fence(shell, "bash"))
        elif message.output:
            parts.append(fence(message.output))
        if message.exit_code not in (None, 0):
            parts.append(f"exit code {message.exit_code}")
        content = "\n\n".join(parts) or "(no text)"
        if len(content) > _CHAT_LIMIT:
            content = content[: _CHAT_LIMIT - 40] + "\n\n… (cut: too long for Argilla)"
        role = message.role if message.role in ("user", "assistant", "system") else message.role[:20]
        messages.append({"role": role, "content": content})
    return messages


def check_chats(
    chat_fields: list[ChatField], record_fields: dict[str, Any], where: str, problems: list[str]
) -> None:
    """Chat fields in the server's message form (in place), and not longer than it takes."""
    for chat in chat_fields:
        if isinstance(record_fields.get(chat.name), list):
            with contextlib.suppress(TaskError):  # already reported by validate_record
                record_fields[chat.name] = argilla_chat(chat, record_fields[chat.name])
            if len(record_fields[chat.name]) > CHAT_MAX_MESSAGES:
                problems.append(
                    f"{where}: field {chat.name!r} has {len(record_fields[chat.name])} messages; "
                    f"argilla-server takes at most {CHAT_MAX_MESSAGES} per chat: split the conversation "
                    "over several records, or merge consecutive tool steps into one message"
                )
