"""The AskAI stage: generated requests run through the parser, the parsed automation built and approved
when it is valid for the home and behaves like the intended one when both are replayed; one record a turn."""

from __future__ import annotations

import zlib

import polars as pl

from homesim.ha.automation import Automation, AutomationError, render_yaml
from homesim.ha.automation_validation import validate_against_home
from homesim.schema.home import Home
from homesim.schema.records import (
    BASELINE_VERSION,
    AnyRecord,
    AskAIInputs,
    AskAILabel,
    AskAIOutputs,
    AskAIRecord,
    make_record_id,
)
from homesim.simulation.ask_ai.parser import ParseResult, RequestParser, normalize
from homesim.simulation.ask_ai.requests import Request, RequestGenerator
from homesim.simulation.ask_ai.vocabulary import EQUIVALENCE, EQUIVALENCE_TOLERANCE_S
from homesim.simulation.automation_builder import AutomationSpec, build_automation, signature
from homesim.simulation.home_view import HomeView
from homesim.simulation.model_provider import Model, ModelProvider
from homesim.simulation.replay import agreement
from homesim.splits import is_validation_home


def _automation(spec: AutomationSpec, home: Home, automation_id: str) -> tuple[Automation | None, str | None]:
    try:
        return build_automation(spec, home, automation_id), None
    except (AutomationError, ValueError) as error:
        return None, str(error)


class AskAI:
    """Runs generated requests through the parser, builds automations and simulates the user's verdict."""

    def __init__(self, view: HomeView, model: Model | None) -> None:
        self.view = view
        self.parser = RequestParser(view.home, model)
        self.replayer = view.replayer

    def verdict(self, request: Request, parsed: ParseResult) -> tuple[bool, str | None, Automation | None]:
        """Approved, the rejection reason, and the parsed automation."""
        if request.expected != "create":
            if parsed.outcome == request.expected:
                return True, None, None
            return False, f"expected {request.expected}, got {parsed.outcome}", None
        if parsed.spec is None or request.intended is None:
            return False, f"not understood ({parsed.outcome}: {parsed.response})", None
        automation, error = _automation(parsed.spec, self.view.home, "ask_ai")
        intended, _ = _automation(request.intended, self.view.home, "ask_ai")
        if automation is None or intended is None:
            return False, f"could not build: {error}", automation
        issues = validate_against_home(automation, self.view.home)
        if issues:
            return False, f"invalid: {issues[0].path}: {issues[0].message}", automation
        if signature(automation)["calls"] != signature(intended)["calls"]:
            return False, "acts on the wrong devices or states", automation
        score = agreement(self.replayer.run(automation), self.replayer.run(intended), EQUIVALENCE_TOLERANCE_S)
        if score < EQUIVALENCE:
            return False, f"behaves differently (replay agreement {score:.2f})", automation
        return True, None, automation

    def record(self, request: Request, cycle: int, number: int, model_version: str) -> AskAIRecord:
        parsed = self.parser.parse(request.text)
        approved, reason, automation = self.verdict(request, parsed)
        return AskAIRecord(
            record_id=make_record_id("ask_ai", self.view.key, cycle, number, request.text),
            cycle=cycle,
            home_key=self.view.key,
            inputs=AskAIInputs(
                request=request.text,
                intent_family=request.family,
                phrasing_style=request.style,
                perturbations=request.perturbations,
            ),
            outputs=AskAIOutputs(
                outcome=parsed.outcome,
                response=parsed.response,
                parsed=parsed.spec.model_dump(mode="json") if parsed.spec else {"family": parsed.family},
                automation_yaml=render_yaml([automation]) if automation is not None else None,
            ),
            label=AskAILabel(
                expected_outcome=request.expected,
                intended_automation=request.intended.model_dump(mode="json") if request.intended else None,
                pattern_id=request.pattern_id,
                approved=approved,
                rejection_reason=reason,
            ),
            scores={
                "approved": float(approved),
                "outcome_correct": float(parsed.outcome == request.expected),
            },
            model_version=model_version,
        )


def ask_ai_stage(view: HomeView, models: ModelProvider, cycle: int) -> list[AnyRecord]:
    """The cycle's Ask-AI stage: generated requests for the home, parsed and judged, one record each."""
    model = models.get("soft_prompt")
    ask = AskAI(view, model)
    requests = RequestGenerator(
        view.home,
        zlib.crc32(f"ask_ai:{view.key}:{cycle}".encode()),
        held_out=is_validation_home(view.key),  # held-out homes: wording no training home uses
    ).generate(view.truth.patterns if view.truth is not None else ())
    if ask.parser.reader is not None:  # one batched pass; the reader answers the parser's calls from it
        vocabulary = ask.parser.index.vocabulary
        ask.parser.reader.predict(
            pl.DataFrame({"request": [normalize(r.text, vocabulary) for r in requests]})
        )
    version = model.version if model is not None else BASELINE_VERSION
    return [ask.record(request, cycle, number, version) for number, request in enumerate(requests)]
