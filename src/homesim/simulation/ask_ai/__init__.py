"""AskAI: natural-language automation requests, their parsing, and a simulated approval — one record a turn.

Three jobs, one module each, and the words they share (`vocabulary`). `requests.RequestGenerator` writes
realistic requests from a home's ground truth and devices in seven intent families (`INTENT_FAMILIES`) and
three template styles (imperative, question, casual), with device synonyms, area aliases and typos, plus
ambiguous requests (must be clarified) and impossible ones (unknown device, a service the device lacks:
must be refused); each carries the automation it intends. A share of requests (`PARAPHRASE_SHARE`, drawn
from a stream of its own so the other requests keep their text) is reworded in a fourth style,
`paraphrase`: everyday wording the keyword rules do not know ("once it gets dark", "as soon as I'm home",
"at lights-out"), reordered clauses and, now and then, a device named by an everyday noun ("the hall
bulb"). `parser.RequestParser` turns text into an `AutomationSpec` with rules (typo-tolerant vocabulary,
area and device resolution against the home; `spelling` snaps typos as difflib would, through an index);
a deployed `soft_prompt` model, when present, picks the intent family instead of the keyword rules, and a
model that is a `RequestReader` also supplies the trigger event, darkness, device resolution by embedding
similarity and a confident clarify/refuse where the rules find nothing. `stage.ask_ai_stage` builds the
parsed automation and approves it when it is valid for the home and behaves like the intended one when both
are replayed.
"""

from homesim.simulation.ask_ai.parser import (
    EVENTS,
    OUTCOMES,
    Event,
    ParseResult,
    Reading,
    RequestParser,
    RequestReader,
    normalize,
)
from homesim.simulation.ask_ai.requests import Request, RequestGenerator
from homesim.simulation.ask_ai.stage import AskAI, ask_ai_stage
from homesim.simulation.ask_ai.vocabulary import ALL_STYLES, INTENT_FAMILIES, STYLES, Family, HomeIndex, Style

__all__ = [
    "ALL_STYLES",
    "EVENTS",
    "INTENT_FAMILIES",
    "OUTCOMES",
    "STYLES",
    "AskAI",
    "Event",
    "Family",
    "HomeIndex",
    "ParseResult",
    "Reading",
    "Request",
    "RequestGenerator",
    "RequestParser",
    "RequestReader",
    "Style",
    "ask_ai_stage",
    "normalize",
]
