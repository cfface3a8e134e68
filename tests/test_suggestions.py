"""SuggestionGenerator: templated wording, specs, the optional LLM rewrite (against a loopback fake)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from homesim.generation.config import GenerationConfig
from homesim.generation.home import generate_home
from homesim.schema.records import SuggestionRecord
from homesim.simulation.automation_builder import AutomationSpec
from homesim.simulation.home_view import HomeView
from homesim.simulation.model_provider import NoModels
from homesim.simulation.pattern_detection import pattern_stage
from homesim.simulation.suggestions import (
    LLM_URL_ENV,
    LlmRewriter,
    SuggestionGenerator,
    from_ground_truth,
    suggestion_stage,
)


@pytest.fixture(scope="module")
def view() -> HomeView:
    return HomeView.from_generated(generate_home(GenerationConfig(days=14, seed=5), 1))


class _FakeLlm(BaseHTTPRequestHandler):
    """Answers chat/completions like an OpenAI-compatible server; the path picks a failure mode."""

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        prompt = body["messages"][0]["content"]
        if self.path.startswith("/broken"):
            self.send_response(500)
            self.end_headers()
            return
        content = (
            "not json"
            if self.path.startswith("/garbled")
            else json.dumps(
                {
                    "title": "Rewritten: " + prompt.split("Title: ")[1].split("\n")[0],
                    "description": "Friendlier.",
                }
            )
        )
        payload = json.dumps({"choices": [{"message": {"role": "assistant", "content": content}}]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: object) -> None:  # keep pytest output clean
        return


@pytest.fixture(scope="module")
def llm_url() -> Iterator[str]:
    server = HTTPServer(("127.0.0.1", 0), _FakeLlm)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _records(view: HomeView, seed: int, rewriter: LlmRewriter | None = None) -> list[SuggestionRecord]:
    generator = SuggestionGenerator(view.home, seed, rewriter)
    return [generator.record(from_ground_truth(p), view.key, 0) for p in view.truth.patterns]


def test_wording_varies_across_templates_and_is_deterministic(view: HomeView) -> None:
    first, again = _records(view, 1), _records(view, 1)
    assert [r.outputs for r in first] == [r.outputs for r in again]
    assert len({r.outputs.template_id.split(".")[1] for r in first}) == 3
    assert len({r.outputs.title for r in first}) > len(first) // 2
    assert [r.outputs.title for r in _records(view, 2)] != [r.outputs.title for r in first]
    assert all(r.outputs.rationale and r.outputs.expected_benefit and not r.outputs.rewritten for r in first)


def test_specs_parse_and_name_the_pattern_action(view: HomeView) -> None:
    for record, pattern in zip(_records(view, 1), view.truth.patterns, strict=True):
        spec = AutomationSpec.model_validate(record.outputs.automation_spec)
        assert spec.actions[0].entity_id == pattern.actions[0].entity_id
        assert record.label.pattern_id == pattern.id and record.label.approved


def test_llm_rewrites_text_through_the_chat_endpoint(view: HomeView, llm_url: str) -> None:
    records = _records(view, 1, LlmRewriter(llm_url))
    plain = _records(view, 1)
    assert all(r.outputs.rewritten and r.outputs.template_id == "llm" for r in records)
    assert records[0].outputs.title == "Rewritten: " + plain[0].outputs.title
    assert records[0].outputs.automation_spec == plain[0].outputs.automation_spec


@pytest.mark.parametrize("path", ["/broken", "/garbled"])
def test_llm_failures_fall_back_to_the_template(view: HomeView, llm_url: str, path: str) -> None:
    records = _records(view, 1, LlmRewriter(llm_url + path))
    assert [r.outputs for r in records] == [r.outputs for r in _records(view, 1)]


def test_unreachable_llm_falls_back_quickly() -> None:
    assert LlmRewriter("http://127.0.0.1:9", timeout_s=0.5).rewrite("t", "d") is None


def test_stage_words_the_detected_patterns(view: HomeView, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(LLM_URL_ENV, raising=False)
    staged = HomeView(
        home=view.home,
        events=view.events,
        environment=view.environment,
        truth=view.truth,
        upstream={"pattern": list(pattern_stage(view, NoModels(), 0))},
    )
    records = suggestion_stage(staged, NoModels(), 0)
    assert records and all(isinstance(r, SuggestionRecord) for r in records)
    assert all(
        isinstance(r, SuggestionRecord) and r.derived_from == (r.inputs.source_record_id,) for r in records
    )
    valid = [r for r in records if isinstance(r, SuggestionRecord) and r.label.is_valid]
    assert valid, "the baseline detector's top patterns include real ones"
