"""Simulated workers answering through the API with their own keys (as the web UI would)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx


def keys(url: str, owner_key: str) -> dict[str, str]:
    """username → API key (read by the owner)."""
    reply = httpx.get(f"{url}/api/v1/users", headers={"X-Argilla-Api-Key": owner_key}, timeout=30)
    reply.raise_for_status()
    return {u["username"]: u["api_key"] for u in reply.json()["items"]}


def answer(url: str, key: str, dataset_id: str, values: Callable[[dict[str, Any]], dict[str, Any]]) -> int:
    """Answer every record of the dataset this worker has not answered; answers given."""
    with httpx.Client(base_url=url, headers={"X-Argilla-Api-Key": key}, timeout=60) as client:
        found = client.post(
            f"/api/v1/me/datasets/{dataset_id}/records/search",
            params={"include": "responses", "limit": 1000},
            json={},
        )
        found.raise_for_status()
        items = []
        for hit in found.json()["items"]:
            record = hit["record"]
            if record.get("responses"):
                continue
            given = values(record)
            items.append(
                {
                    "record_id": record["id"],
                    "status": "submitted",
                    "values": {q: {"value": v} for q, v in given.items()},
                }
            )
        if items:
            reply = client.post("/api/v1/me/responses/bulk", json={"items": items})
            reply.raise_for_status()
            errors = [i["error"] for i in reply.json()["items"] if i.get("error")]
            assert not errors, errors
        return len(items)


def watch_webhooks(url: str, key: str, pipeline: str) -> list[dict[str, Any]]:
    """The webhooks the watches of `pipeline` subscribed (as the owner lists them)."""
    reply = httpx.get(f"{url}/api/v1/webhooks", headers={"X-Argilla-Api-Key": key}, trust_env=False)
    reply.raise_for_status()
    return [w for w in reply.json()["items"] if f"labelbook watch: {pipeline} " in (w["description"] or "")]
