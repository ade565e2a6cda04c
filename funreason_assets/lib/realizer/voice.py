"""A persona's voice: how one user of one dialogue opens, asks, refers back and signs off.

A dialogue's voice is drawn once from its persona (or its plan when the plan carries none),
so every turn of the dialogue sounds like the same person: formal users greet and thank,
casual ones say "hey" and "cheers", terse ones state the request and stop. Context clauses
come from the persona's world (their project, team, trips, colleagues) and the request's
family (files, trading, travel...), so users explain why they ask the way BFCL's users do.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

VOICES = ("formal", "casual", "terse", "chatty", "polite", "direct")


@dataclass(frozen=True)
class Voice:
    """How one user writes.

    Attributes:
        name: One of `VOICES`.
        persona: The persona's fields (may be empty).
        quote: How the user quotes file names ("'" or "").
    """

    name: str
    persona: Mapping[str, Any]
    quote: str = "'"

    def friend(self, rng: random.Random) -> str:
        """A friend or colleague's first name (or a generic one)."""
        friends = [f.get("first_name", "") for f in self.persona.get("friends", []) or []]
        friends = [name for name in friends if name]
        return rng.choice(friends) if friends else rng.choice(("a colleague", "my manager"))


def voice_for(persona: Mapping[str, Any], fallback: Any) -> Voice:
    """The dialogue's voice, seeded from its persona (or from `fallback` without one)."""
    seed = json.dumps(
        [persona.get("first_name"), persona.get("last_name"), persona.get("handle")]
        if persona else ["plan", fallback],
        default=str,
    )
    rng = random.Random(int.from_bytes(hashlib.sha256(seed.encode()).digest()[:8], "big"))
    return Voice(rng.choice(VOICES), dict(persona or {}), rng.choice(("'", "'", "")))


# Sentences that set the scene before a request, per voice ({...} from the persona).
_GREETINGS = {
    "formal": ("Good morning.", "Hello.", "Good afternoon.", "Greetings.", "Dear assistant,",
               "", "", ""),
    "casual": ("Hey!", "Hi there!", "Yo,", "Okay so", "Alright,", "Heya.", "Sup.", "Hiya!",
               "", ""),
    "terse": ("", "", "", "", "Hi."),
    "chatty": ("Hi!", "Hey, hope you're well!", "Morning!", "Oh, hi.", "Hello hello!",
               "Hey you!", "Hi, quick favor.", ""),
    "polite": ("Hello,", "Hi, sorry to bother you.", "Hi,", "Good day.", "Hello there.",
               "Excuse me,", ""),
    "direct": ("", "Right.", "Okay.", "", "Listen,"),
}
_CONTEXTS = {
    "files": ("I'm tidying up my workspace", "I'm reorganizing the {project} files",
              "I'm getting the {project} folder in shape", "I'm cleaning up before a demo",
              "{friend} needs some files from me", "My disk is a mess",
              "I'm prepping the {project} handoff", "{friend} asked me to send over some notes",
              "I'm archiving last quarter's work", "The {team} review is tomorrow"),
    "math": ("I'm double-checking some numbers", "I'm doing a quick calculation for {team}",
             "I'm sanity-checking a report", "I'm working through some figures",
             "{friend} sent me some numbers to verify", "I'm building a budget sheet",
             "My spreadsheet is acting up"),
    "messaging": ("I need to reach {friend}", "I'm catching up on my messages",
                  "{friend} has been waiting on me", "I'm coordinating with {team}",
                  "I promised {friend} an update", "My inbox is out of control",
                  "There's news to pass on to {friend}"),
    "social": ("I want to get something out on Twitter", "I'm catching up on my feed",
               "I'm sharing an update about {topic}", "I'm managing my Twitter account",
               "People keep asking me about {topic}", "{friend} tagged me in something",
               "I'm building a following around {topic}"),
    "tickets": ("Something's broken on my end", "I'm following up on a support issue",
                "IT asked me to keep my tickets current", "I'm sorting out a support request",
                "The {project} rollout hit a snag", "{friend} reported a problem to me",
                "I'm cleaning up my support queue"),
    "trading": ("The market's moving today", "I'm rebalancing my portfolio",
                "I'm looking at a few {sector} names", "I'm reviewing my investments",
                "Earnings season is here", "{friend} gave me a stock tip",
                "I want to put some cash to work"),
    "travel": ("I'm planning a trip to {city}", "My trip to {city} is coming up",
               "I'm sorting out my travel plans", "I have to fly soon",
               "{friend} and I are meeting in {city}", "There's a conference in {city}",
               "I'm organizing the {team} offsite"),
    "vehicle": ("I'm about to head out in the car", "I'm getting the car ready for a drive",
                "I'm on the road to {city}", "I'm sitting in the car",
                "I'm picking {friend} up later", "It's a long drive today",
                "The car's been acting odd"),
    "general": ("I have something to take care of", "I need a hand with something"),
}
_FRAMES = {
    # {ask} is a verb phrase; a template ending in "?" is used as a question instead.
    "formal": ("Could you please {ask}?", "I would like you to {ask}.", "Kindly {ask}.",
               "Would you {ask}?", "Please {ask}.", "I'd appreciate it if you could {ask}.",
               "May I ask you to {ask}?", "I require you to {ask}.", "{Ask}, if you would.",
               "Please proceed to {ask}."),
    "casual": ("Can you {ask}?", "{Ask} for me?", "Could you maybe {ask}?", "{Ask}, would ya?",
               "Could you {ask}?", "{Ask} real quick.", "Wanna {ask}?", "{Ask}, yeah?",
               "Let's {ask}.", "Gonna need you to {ask}.", "{Ask}."),
    "terse": ("{Ask}.", "{Ask}.", "{Ask}, please.", "{Ask} now.", "I need you to {ask}.",
              "{Ask}. Quickly.", "Please {ask}."),
    "chatty": ("Would you be able to {ask}?", "Could you {ask} for me?",
               "It'd be great if you could {ask}.", "Can you {ask}? That would help a lot.",
               "I was hoping you could {ask}.", "Any chance you could {ask}?",
               "I'd love it if you could {ask}.", "So, could you {ask}?",
               "{Ask}, if that's okay!"),
    "polite": ("Could you {ask}, please?", "Would you mind helping me {ask}?",
               "Please {ask}.", "If possible, {ask}.", "Can you please {ask}?",
               "When you get a chance, {ask}.", "Would it be possible to {ask}?",
               "Could I ask you to {ask}?"),
    "direct": ("{Ask}.", "I need you to {ask}.", "Go ahead and {ask}.", "{Ask}, please.",
               "Let's {ask}.", "{Ask}. Thanks.", "Time to {ask}.", "You can {ask} now."),
}
_CLOSERS = {
    "formal": ("Thank you.", "Many thanks.", "Thank you in advance.", "Regards.", "", "", "",
               "", "", ""),
    "casual": ("Thanks!", "Cheers.", "Ta.", "Thx.", "You rock.", "", "", "", "", ""),
    "terse": ("", "", "", "", "", "Thanks."),
    "chatty": ("Thanks so much!", "You're a lifesaver.", "Appreciate it!", "You're the best!",
               "Thanks a bunch!", "", "", "", ""),
    "polite": ("Thank you!", "Thanks a lot.", "Much appreciated.", "Thank you kindly.", "", "",
               "", ""),
    "direct": ("", "", "", "", "Thanks."),
}
# How a later turn ties back to the dialogue so far.
_CONTINUATIONS = {
    "formal": ("Next, ", "Additionally, ", "Following that, ", "One more matter: ",
               "Furthermore, ", "In addition, ", "Moving on, ", "A separate request: ",
               "I would also like this handled: ", "There is one further item. ",
               "While I have you, ", "Another task for today: "),
    "casual": ("Okay, now ", "Cool. Next up: ", "Nice. Now ", "Oh, and ", "Also, ",
               "Sweet. ", "Alright, ", "Awesome. ", "Different thing: ", "Quick one: ",
               "Oh hey, while you're at it, ", "Random thing, but ", "Okay, switching gears: "),
    "terse": ("Next: ", "Now ", "Also: ", "Good. ", "Another: ", "Then: ", "Separate: "),
    "chatty": ("Great, thanks! Now ", "Perfect. While we're at it, ", "Lovely. Next, ",
               "Oh, one more thing: ", "Brilliant! ", "Amazing, thank you. ",
               "Oh, before I forget, ", "Okay, on a totally different note, ",
               "You're on a roll! Could you also ", "Ooh, and something else: "),
    "polite": ("Thanks. Next, ", "Thank you. Could we also look at this: ", "Also, ",
               "Thank you for that. ", "That's helpful. ", "If it's no trouble, ",
               "One other thing, if I may: ", "I'd also appreciate help with this: ",
               "When you have a moment, "),
    "direct": ("Now ", "Next, ", "Good. ", "Done? Then ", "Right. ", "Separately, ",
               "Another thing: ", "Moving on: "),
}
_AFTER_EARLIER = (
    "Now that you {did}, ", "Since you {did}, ", "You {did}, good. ",
    "Great, you {did}. ", "Thanks, that's done. ",
)


def fill(text: str, voice: Voice, rng: random.Random) -> str:
    """Fill a context or greeting template from the persona."""
    persona = voice.persona
    cities = list(persona.get("travel_cities") or []) or [persona.get("home_city") or "Boston"]
    values = {
        "project": persona.get("project") or "quarterly",
        "team": persona.get("team") or "my team",
        "topic": rng.choice(list(persona.get("topics") or ["work"])),
        "city": rng.choice(cities),
        "sector": rng.choice(list(persona.get("stock_sectors") or ["tech"])).lower(),
        "friend": voice.friend(rng),
    }
    return text.format(**values)


def greeting(voice: Voice, rng: random.Random) -> str:
    """An optional greeting."""
    return rng.choice(_GREETINGS[voice.name])


def context(voice: Voice, family: str, rng: random.Random) -> str:
    """A sentence explaining why the user asks (without a final stop)."""
    return fill(rng.choice(_CONTEXTS.get(family, _CONTEXTS["general"])), voice, rng)


def frame(voice: Voice, rng: random.Random) -> str:
    """A request frame with an `{ask}`/`{Ask}` slot."""
    return rng.choice(_FRAMES[voice.name])


def closer(voice: Voice, rng: random.Random) -> str:
    """An optional sign-off."""
    return rng.choice(_CLOSERS[voice.name])


def _as_user_said(did: str) -> str:
    """An outcome the assistant words for the user ("signed you in") as the user says it."""
    return _YOU.sub(lambda match: _ME[match.group(0).lower()], did)


_YOU = re.compile(r"\b(?:you|your|yours)\b", re.IGNORECASE)
_ME = {"you": "me", "your": "my", "yours": "mine"}


def continuation(voice: Voice, rng: random.Random, earlier_did: str = "") -> str:
    """How a later turn begins; sometimes it refers to what was just done."""
    if earlier_did and rng.random() < 0.3:
        return rng.choice(_AFTER_EARLIER).format(did=_as_user_said(earlier_did))
    return rng.choice(_CONTINUATIONS[voice.name])


def choose(rng: random.Random, options: Sequence[str]) -> str:
    """One option (empty when there is none)."""
    return rng.choice(list(options)) if options else ""
