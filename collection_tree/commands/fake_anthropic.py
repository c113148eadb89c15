"""``collection-tree fake-anthropic``: run the loopback fake Anthropic Messages API until Ctrl-C.

Point a build or a benchmark at it with ``ANTHROPIC_BASE_URL=http://127.0.0.1:PORT`` and any
``ANTHROPIC_API_KEY``; faults and latency can be changed while it runs over ``/_control/*``."""

from __future__ import annotations

import argparse
import signal
import sys


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("fake-anthropic", help="serve a fake Anthropic Messages API on 127.0.0.1 (tests, "
                                                   "benchmarks; answers come from the offline solvers)")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8765, help="port (0: any free port; default 8765)")
    parser.add_argument("--latency", default="", metavar="SPEC",
                        help="latency model, e.g. 'fixed=2,per_token=0.03,scale=0.001' (seconds; scale multiplies)")
    parser.add_argument("--faults", default="", metavar="LIST",
                        help="comma-separated faults for the next requests, in order, e.g. '429,529,ok'")
    parser.add_argument("--fail-task", action="append", default=[], metavar="TASK:FAULT",
                        help="inject FAULT into every request of TASK (repeatable)")
    parser.add_argument("--retry-after", type=float, default=0.01, metavar="S",
                        help="retry-after sent with 429/5xx/529 answers (seconds; default 0.01)")
    parser.add_argument("--hang", type=float, default=30.0, metavar="S",
                        help="how long a 'hang' fault holds a request before closing it (seconds; default 30). "
                             "Longer than the client's timeout (COLLECTION_TREE_LLM_TIMEOUT) makes a real timeout")
    parser.add_argument("--cache-min-tokens", type=int, default=None,
                        help="shortest prefix the simulated prompt cache stores, for every model (default: each "
                             "model's documented minimum, collection_tree/llm/models.py)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from collection_tree.llm.fake_server import FakeAnthropicServer, LatencyModel
    from collection_tree.tasks import solve_offline

    try:
        latency = LatencyModel.parse(args.latency) if args.latency else LatencyModel()
        server = FakeAnthropicServer(args.host, args.port, solver=solve_offline, latency=latency,
                                     retry_after_s=args.retry_after, cache_min_tokens=args.cache_min_tokens,
                                     hang_s=args.hang)
        server.script([f.strip() for f in args.faults.split(",") if f.strip()])
        for rule in args.fail_task:
            task, sep, fault = rule.partition(":")
            if not sep or not task or not fault:
                raise ValueError(f"--fail-task: expected TASK:FAULT, got {rule!r}")
            server.add_rule(fault, task=task)
        server.start()
    except (ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    # "Ctrl-C stops it", however it was started: a shell starts a background job with SIGINT ignored,
    # and Python then leaves it ignored (the CI's and the benchmarks' servers are stopped with SIGINT).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    print(f"fake Anthropic API on {server.base_url} (Ctrl-C stops it)", flush=True)
    print(f"  ANTHROPIC_BASE_URL={server.base_url} ANTHROPIC_API_KEY=any-dummy-key", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
        log = server.requests
        print(f"served {len(log)} requests; most in flight at once: {server.max_in_flight}", flush=True)
    return 0
