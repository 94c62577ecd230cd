"""Pipeline speed, as same-run ratios on a scratch embedded server.

1. Moving N finished items through a step into the next stage (`pipe.run()`: pull the finished
   items, call the step, log, publish) against publishing the same N records directly
   (`labelbook.publish` into a fresh dataset with the same settings). Target: >= 0.9x its throughput.
2. `pipe.status()` on S stages x M items. Target: <= 2 s.

    python benchmarks/pipeline_speed.py                              # 10,000 moved; 5 x 20,000
    python benchmarks/pipeline_speed.py --move 2000 --stages 5 --items 2000   # a quick run
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

os.environ.setdefault("HF_HUB_OFFLINE", "1")
EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "book-qa"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def passages(n: int, prefix: str) -> list[dict[str, Any]]:
    return [
        {
            "id": f"{prefix}{i:06d}",
            "passage": f"Passage {i}: the lighthouse keeper rowed out at dawn and came back at dusk.",
            "question": "When did he row out?",
        }
        for i in range(n)
    ]


def draft(item: Any) -> dict[str, Any]:
    """A stand-in model step: copies the passage and the question, drafts from the answers."""
    return {
        "passage": item.fields["passage"],
        "question": item.fields["question"],
        "answers": "yes",
        "draft": "at dawn",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--move", type=int, default=10_000, help="finished items moved through the step")
    parser.add_argument("--stages", type=int, default=5)
    parser.add_argument("--items", type=int, default=20_000, help="items per stage for status()")
    args = parser.parse_args()

    import labelbook as lb
    from labelbook import server
    from labelbook.argilla import connect

    scratch = Path(tempfile.mkdtemp(prefix="lb-bench-pipeline-"))
    info = server.start(scratch / "server", port=free_port())
    assert info.url and info.credentials
    url, key = info.url, info.credentials.api_key
    try:
        for name in ("qualify", "review"):
            shutil.copy(EXAMPLE / f"{name}.py", scratch / f"{name}.py")
            lb.release(scratch / f"{name}.py", "bench")
        roster = [{"username": "bench-worker", "vendor": "acme", "teams": "all"}]
        pipe = lb.Pipeline(
            "bench", roster=roster, folder=scratch / "bench.pipeline", api_url=url, api_key=key
        )
        first = pipe.stage(
            "first", guide=scratch / "qualify.py", source=passages(args.move, "m"), team="all", overlap=1
        )
        step = pipe.step("draft", after=first, run=draft, version="bench")
        pipe.stage("next", guide=scratch / "review.py", source=step, team="all", overlap=1)
        pipe.run(snapshot=False)
        with connect(url, key) as conn:
            worker_key = next(
                u["api_key"]
                for u in conn.request("GET", "/api/v1/users")["items"]
                if u["username"] == "bench-worker"
            )
        # The worker is an annotator: list with the owner's key, answer with the worker's.
        with connect(url, key) as conn:
            dataset = pipe.project("first").state.dataset_id
            ids = []
            offset = 0
            while True:
                items = conn.request(
                    "GET", f"/api/v1/datasets/{dataset}/records", params={"offset": offset, "limit": 1000}
                )["items"]
                ids += [r["id"] for r in items]
                if len(items) < 1000:
                    break
                offset += 1000
        with httpx.Client(base_url=url, headers={"X-Argilla-Api-Key": worker_key}, timeout=120) as client:
            for start in range(0, len(ids), 100):
                batch = [
                    {"record_id": rid, "status": "submitted", "values": {"answerable": {"value": "yes"}}}
                    for rid in ids[start : start + 100]
                ]
                client.post("/api/v1/me/responses/bulk", json={"items": batch}).raise_for_status()

        start = time.perf_counter()
        if os.environ.get("BENCH_PROFILE"):
            import cProfile
            import pstats

            with cProfile.Profile() as profile:
                moved = pipe.run(snapshot=False)
            pstats.Stats(profile).sort_stats("cumulative").print_stats(30)
        else:
            moved = pipe.run(snapshot=False)
        move_s = time.perf_counter() - start
        assert moved.published["next"] == args.move, moved

        # Anchor: the same records (the step's output) published directly into a fresh dataset.
        same = [
            {"id": f"{p['id']}~draft", **draft(type("I", (), {"fields": p})())}
            for p in passages(args.move, "m")
        ]
        direct = scratch / "direct"
        direct.mkdir()
        shutil.copy(EXAMPLE / "review.py", direct / "review.py")
        lb.release(direct / "review.py", "bench")
        start = time.perf_counter()
        published = lb.publish(
            direct / "review.py",
            records=same,
            workspace="bench-direct",
            api_url=url,
            api_key=key,
            progress=False,
        )
        direct_s = time.perf_counter() - start
        assert published.last_publish is not None and published.last_publish.records_added == args.move
        print(f"moved through a step:    {args.move} items in {move_s:6.2f} s  {args.move / move_s:7.0f}/s")
        print(
            f"published directly:      {args.move} records in {direct_s:6.2f} s  "
            f"{args.move / direct_s:7.0f}/s  (anchor)"
        )
        print(f"throughput ratio:        {direct_s / move_s:.2f}x direct publish (target >= 0.9)")

        # status() on S stages x M items.
        wide = lb.Pipeline("wide", roster=roster, folder=scratch / "wide.pipeline", api_url=url, api_key=key)
        for n in range(args.stages):
            guide = scratch / f"stage{n}.py"
            shutil.copy(EXAMPLE / "qualify.py", guide)
            lb.release(guide, "bench")
            wide.stage(f"s{n}", guide=guide, source=passages(args.items, f"s{n}-"), team="all", overlap=1)
        start = time.perf_counter()
        wide.run()
        run_s = time.perf_counter() - start
        timings = []
        for _ in range(3):
            start = time.perf_counter()
            table = wide.status()
            timings.append(time.perf_counter() - start)
        assert table["records"].tolist() == [args.items] * args.stages
        print(
            f"status() on {args.stages} stages x {args.items} items: best {min(timings):.3f} s, "
            f"worst {max(timings):.3f} s (target <= 2 s)"
        )
        print(f"  (the first run that published them and wrote the quality snapshot: {run_s:.1f} s)")
        pipe.close()
        wide.close()
    finally:
        server.stop(scratch / "server")
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
