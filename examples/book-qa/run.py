"""The book-qa pipeline end to end on the local server, with SIMULATED workers (accounts `sim-bq-…`
answering through the API with their own keys). `make book-qa` runs it.

    python examples/book-qa/run.py [--data-dir DIR]

The project lives in a copy inside the server's data dir, so the repository stays untouched.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path
from typing import Any

import httpx

import labelbook as lb
from labelbook import server
from labelbook.pipelines import Bonus

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from pipeline import build  # noqa: E402


def simulate(url: str, key: str, dataset_id: str, answer: Any) -> int:
    """One simulated worker answers every record it has not answered; answers given."""
    with httpx.Client(base_url=url, headers={"X-Argilla-Api-Key": key}, timeout=60) as client:
        found = client.post(
            f"/api/v1/me/datasets/{dataset_id}/records/search",
            params={"include": "responses", "limit": 1000},
            json={},
        )
        found.raise_for_status()
        items = [
            {
                "record_id": hit["record"]["id"],
                "status": "submitted",
                "values": {q: {"value": v} for q, v in answer(hit["record"]).items()},
            }
            for hit in found.json()["items"]
            if not hit["record"].get("responses")
        ]
        if items:
            client.post("/api/v1/me/responses/bulk", json={"items": items}).raise_for_status()
        return len(items)


def writer(number: int) -> Any:
    def answer(record: dict[str, Any]) -> dict[str, Any]:
        if record["external_id"] == "tale-1":  # the passage names no city
            return {"answerable": "no", "answer": ""}
        words = record["fields"]["passage"].split()
        return {"answerable": "yes", "answer": " ".join(words[: 8 + (number == 3)])}

    return answer


def run(folder: Path, url: str, api_key: str) -> dict[str, Any]:
    """Release the guides, run the pipeline with the simulated workers; what happened."""
    for name in ("answer", "review", "qualify", "passages.jsonl", "roster.csv", "gold.jsonl", "pipeline"):
        for source in HERE.glob(f"{name}*"):
            if source.is_file() and not (folder / source.name).exists():
                shutil.copy(source, folder / source.name)
    for guide in ("answer.py", "review.py"):
        lb.release(folder / guide, "book-qa example")
    pipe = build(folder, api_url=url, api_key=api_key)
    try:
        pipe.run()
        owner = {"X-Argilla-Api-Key": api_key}
        keys = {
            u["username"]: u["api_key"]
            for u in httpx.get(f"{url}/api/v1/users", headers=owner).json()["items"]
        }
        for n in (1, 2, 3):
            simulate(url, keys[f"sim-bq-writer-{n}"], pipe.project("answer").state.dataset_id, writer(n))
        pipe.run()
        simulate(
            url,
            keys["sim-bq-reviewer-1"],
            pipe.project("review").state.dataset_id,
            lambda r: {"verdict": "bad" if "does not say" in r["fields"]["draft"] else "good"},
        )
        pipe.run()
        status = pipe.status()
        reviews = pipe.annotations("review")
        ledger = pipe.ledger(
            period="D",
            basis="hour",
            bonuses=[Bonus(0.9, 10, min_gold=2)],
            csv=folder / "pay.csv",
        )
        return {"pipe": pipe, "status": status, "reviews": reviews, "ledger": ledger}
    finally:
        pipe.close()


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--data-dir", type=Path, default=None, help="the server's data dir (default: per-user)"
    )
    args = parser.parse_args()
    info = server.status(args.data_dir)
    if info.state != "running" or info.credentials is None or info.url is None:
        print("The local server is not running: start it with `labelbook server start`.", file=sys.stderr)
        return 1
    folder = info.data_dir / "book-qa"
    folder.mkdir(exist_ok=True)
    done = run(folder, info.url, info.credentials.api_key)
    print("Stages:\n" + done["status"].drop(columns=["quality_at"]).to_string(index=False, na_rep="-"))
    first = done["reviews"].iloc[0]
    print(f"\nReview of {first['record_id']}: {first['value']}; made from:")
    print(json.dumps(json.loads(first["lineage"])["made_from"], indent=1)[:1200])
    print("\nPay (per day, hourly rates from the roster, +10% at gold accuracy >= 90%):")
    print(done["ledger"].to_string(index=False))
    print(f"\nThe log: {done['pipe'].log.path}; the ledger: {folder / 'pay.csv'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
