"""The fake Anthropic API itself: endpoints, error shape, fault scripting and rules, latency model,
control endpoints and the CLI command."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.request
from typing import Any

import anthropic
import pytest
from fake_api import DUMMY_KEY, PROBE_TASK, probe_example

from collection_tree.llm.fake_server import FakeAnthropicServer, LatencyModel, serve
from collection_tree.resources.factory import build_resources
from collection_tree.settings import current
from collection_tree.tasks import solve_offline


def sdk(server: FakeAnthropicServer, **kw: Any) -> anthropic.Anthropic:
    return anthropic.Anthropic(api_key=DUMMY_KEY, base_url=server.base_url, max_retries=kw.pop("max_retries", 0),
                               **kw)


def message_args(probe: Any, n: int = 6) -> dict[str, Any]:
    request = probe.request(probe_example(n))
    return {"model": "claude-haiku-5-5", "max_tokens": 512,
            "system": [{"type": "text", "text": request.system, "cache_control": {"type": "ephemeral"}}],
            "messages": [{"role": "user", "content": request.user_message()}],
            "output_config": {"format": {"type": "json_schema", "schema": request.schema}}}


def post(url: str, body: dict[str, Any]) -> dict[str, Any]:
    req = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                 headers={"content-type": "application/json"})
    with urllib.request.urlopen(req, timeout=5) as resp:
        return json.loads(resp.read())


def test_message_shape(fake_anthropic: FakeAnthropicServer, probe_task: Any) -> None:
    with sdk(fake_anthropic) as client:
        raw = client.messages.with_raw_response.create(**message_args(probe_task))
        message = raw.parse()
    assert raw.headers["request-id"].startswith("req_fake_") and message._request_id == raw.headers["request-id"]
    assert (message.type, message.role, message.model, message.stop_reason) == (
        "message", "assistant", "claude-haiku-5-5", "end_turn")
    assert json.loads(message.content[0].text) == probe_task.solve_offline(probe_example())
    assert message.usage.output_tokens == len(message.content[0].text) // 4
    assert message.usage.cache_creation_input_tokens == len(probe_task.system) // 4


def test_count_tokens(fake_anthropic: FakeAnthropicServer, probe_task: Any) -> None:
    args = message_args(probe_task)
    args.pop("max_tokens")
    args.pop("output_config")
    with sdk(fake_anthropic) as client:
        counted = client.messages.count_tokens(**args).input_tokens
    assert counted == len(probe_task.system) // 4 + len(args["messages"][0]["content"]) // 4


def test_errors_have_the_api_shape_and_retry_headers(fake_anthropic: FakeAnthropicServer, probe_task: Any) -> None:
    fake_anthropic.script(["529", "quota"])
    with sdk(fake_anthropic) as client:
        with pytest.raises(anthropic.OverloadedError) as overloaded:
            client.messages.create(**message_args(probe_task))
        with pytest.raises(anthropic.RateLimitError) as quota:
            client.messages.create(**message_args(probe_task))
        with pytest.raises(anthropic.BadRequestError, match="unknown task"):
            client.messages.create(**{**message_args(probe_task), "messages": [
                {"role": "user", "content": "<task>no_such_task</task>\n<input>\n{}\n</input>"}]})
    assert overloaded.value.body["type"] == "error" and overloaded.value.type == "overloaded_error"
    assert overloaded.value.response.headers["retry-after-ms"] == "10"
    assert quota.value.error_code == "enforced_spend_limit_reached"
    assert "retry-after" not in quota.value.response.headers
    with sdk(fake_anthropic) as client, pytest.raises(anthropic.NotFoundError):
        client.models.list()


def test_missing_key_is_401(fake_anthropic: FakeAnthropicServer) -> None:
    req = urllib.request.Request(f"{fake_anthropic.base_url}/v1/messages", data=b"{}", method="POST")
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(req, timeout=5)
    assert info.value.code == 401
    assert json.loads(info.value.read())["error"]["type"] == "authentication_error"


def test_rules_by_task_call_number_and_times(fake_anthropic: FakeAnthropicServer, probe_task: Any) -> None:
    fake_anthropic.add_rule("500", task=PROBE_TASK, calls=[2, 4])
    fake_anthropic.add_rule("529", task=None, times=1)
    outcomes = []
    with sdk(fake_anthropic) as client:
        for _ in range(5):
            try:
                client.messages.create(**message_args(probe_task))
                outcomes.append("ok")
            except anthropic.APIStatusError as exc:
                outcomes.append(str(exc.status_code))
    # call 1: the 529 rule (any task, once); 2 and 4: the task's 500 rule
    assert outcomes == ["529", "500", "ok", "500", "ok"]
    assert [r.fault for r in fake_anthropic.message_requests(PROBE_TASK)] == ["529", "500", "ok", "500", "ok"]
    with pytest.raises(ValueError, match="unknown fault"):
        fake_anthropic.script(["explode"])


def test_latency_model(fake_anthropic: FakeAnthropicServer, probe_task: Any) -> None:
    model = LatencyModel.parse("fixed=55,per_token=0.01,scale=0.001")
    assert model.delay(1000) == pytest.approx((55 + 10) * 0.001)
    with pytest.raises(ValueError):
        LatencyModel.parse("speed=3")
    fake_anthropic.latency = LatencyModel(fixed_s=0.05, per_output_token_s=0.001)
    with sdk(fake_anthropic) as client:
        client.messages.create(**message_args(probe_task))
    [logged] = fake_anthropic.message_requests()
    # the model's delay for this answer's output tokens is what the server applied
    assert logged.simulated_delay_s == pytest.approx(0.05 + 0.001 * logged.output_tokens)


def test_control_endpoints(fake_anthropic: FakeAnthropicServer, probe_task: Any) -> None:
    base = fake_anthropic.base_url
    assert post(f"{base}/_control/script", {"faults": ["500", "ok"]}) == {"ok": True}
    with sdk(fake_anthropic, max_retries=2) as client:
        client.messages.create(**message_args(probe_task))
    with urllib.request.urlopen(f"{base}/_control/log", timeout=5) as resp:
        log = json.loads(resp.read())
    assert [(r["fault"], r["status"], r["retry_count"]) for r in log["requests"]] == [("500", 500, 0),
                                                                                         ("ok", 200, 1)]
    assert log["max_in_flight"] == 1
    assert DUMMY_KEY not in json.dumps(log)
    post(f"{base}/_control/reset", {})
    assert fake_anthropic.requests == []


def test_cli_serves_until_interrupted(probe_task: Any) -> None:
    """Ctrl-C stops it even when started with SIGINT ignored, as a shell starts a background job."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "collection_tree.cli", "fake-anthropic", "--port", "0",
                             "--faults", "529", "--latency", "fixed=0.01"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    try:
        first = proc.stdout.readline()  # "fake Anthropic API on http://127.0.0.1:PORT ..."
        assert "fake Anthropic API on http://127.0.0.1:" in first, first + proc.stderr.read()
        base_url = first.split(" on ")[1].split()[0]
        with anthropic.Anthropic(api_key=DUMMY_KEY, base_url=base_url, max_retries=2) as client:
            # the built-in tasks exist in the server process; the probe does not, so ask a real one
            from collection_tree.tasks import TASKS

            _, spec = next((n, s) for n, s in sorted(TASKS.items()) if s.example and n != PROBE_TASK)
            request = spec.request(spec.example())
            message = client.messages.create(model="claude-haiku-5-5", max_tokens=spec.max_tokens,
                                             messages=[{"role": "user", "content": request.user_message()}])
        assert json.loads(message.content[0].text) == spec.solve_offline(spec.example())
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    assert "served 2 requests" in out  # the scripted 529, then the retried request


def test_stop_releases_hanging_requests(probe_task: Any) -> None:
    server = FakeAnthropicServer(solver=solve_offline, hang_s=3600).start()
    server.script(["hang"])
    with sdk(server, timeout=0.3) as client, pytest.raises(anthropic.APITimeoutError):
        client.messages.create(**message_args(probe_task))
    [hanging] = server.message_requests()
    assert (hanging.fault, hanging.status, server.in_flight) == ("hang", 0, 1)  # still held by the server
    server.stop()
    # stop() released the hour-long hang and waited for the handler to end (it would have waited 10 s
    # at most, and then in_flight would still be 1)
    assert server.in_flight == 0
    assert server.requests[0].latency_s > 0  # the handler ran to its end


def test_serve_yields_a_base_url() -> None:
    with serve(solver=solve_offline) as base_url, \
            anthropic.Anthropic(api_key=DUMMY_KEY, base_url=base_url, max_retries=0) as client:
        assert base_url.startswith("http://127.0.0.1:")
        with pytest.raises(anthropic.BadRequestError, match="expected <task>"):
            client.messages.create(model="claude-haiku-5-5", max_tokens=5, messages=[{"role": "user", "content": "hi"}])


def test_a_real_timeout_with_the_configured_hang_and_client_timeout(probe_task: Any, monkeypatch: Any) -> None:
    """The fake server's hang (``--hang``) and the client's timeout (``COLLECTION_TREE_LLM_TIMEOUT``) are both
    settings: a hang longer than the timeout is a real timeout, ended by the client while the server still
    holds the request."""
    from collection_tree.llm.interface import LLMError
    from collection_tree.tasks import TASKS

    proc = subprocess.Popen([sys.executable, "-m", "collection_tree.cli", "fake-anthropic", "--port", "0",
                             "--hang", "3600", "--faults", "hang"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        base_url = proc.stdout.readline().split(" on ")[1].split()[0]
        monkeypatch.setenv("ANTHROPIC_API_KEY", DUMMY_KEY)
        monkeypatch.setenv("COLLECTION_TREE_LLM_TIMEOUT", "0.5")
        monkeypatch.setenv("COLLECTION_TREE_LLM_MAX_RETRIES", "0")
        cfg = current().with_values(llm="anthropic", anthropic_base_url=base_url, llm_cache="off")
        client = build_resources(cfg)["llm"].make_client()  # the settings reach the SDK through the resource
        assert (client.provider.timeout_s, client.provider.max_retries) == (0.5, 0)
        _, spec = next((n, s) for n, s in sorted(TASKS.items()) if s.example and n != PROBE_TASK)
        try:
            with pytest.raises(LLMError) as info:
                client.for_phase("p").call(spec.request(spec.example()))
        finally:
            client.close()
        assert info.value.kind == "timeout" and "timed out" in info.value.reason
        with urllib.request.urlopen(f"{base_url}/_control/log", timeout=5) as resp:
            [logged] = json.loads(resp.read())["requests"]
        assert (logged["fault"], logged["status"], logged["latency_s"]) == ("hang", 0, 0.0)  # still held
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=30)
    assert proc.returncode == 0
