"""One persona per scenario: the user whose accounts, files and messages every class holds.

A scenario's classes describe one person's world: the traveler, the ticket user, the twitter
account and the owner of the files are the same person, who works on a few topics, lives in a
city the travel and vehicle tools know, and follows their colleagues. The persona is drawn from
the scenario's seeded generator before any class config, and stored with the scenario so later
phases (the query writer, lineage) can phrase requests the state agrees with.

The tables below copy what the BFCL classes hard-code inside their methods (bfcl-eval's
`travel_booking.py`, `vehicle_control.py`, `trading_bot.py`); the tests check them against the
live classes, so a bfcl-eval upgrade that changes a table fails loudly instead of drifting.
"""

from __future__ import annotations

import random
import string
import unicodedata

from pydantic import BaseModel, ConfigDict

from funreason_assets.lib.scenarios import vocab

# TravelAPI.get_nearest_airport_by_city: every city the travel tools can fly from or to.
AIRPORT_OF_CITY: dict[str, str] = {
    "Rivermist": "RMS",
    "Stonebrook": "SBK",
    "Maplecrest": "MPC",
    "Silverpine": "SVP",
    "Shadowridge": "SHD",
    "London": "LHR",
    "Paris": "CDG",
    "Sunset Valley": "SSV",
    "Oakendale": "OKD",
    "Willowbend": "WLB",
    "Crescent Hollow": "CRH",
    "Autumnville": "ATV",
    "Pinehaven": "PHV",
    "Greenfield": "GFD",
    "San Francisco": "SFO",
    "Los Angeles": "LAX",
    "New York": "JFK",
    "Chicago": "ORD",
    "Boston": "BOS",
    "Beijing": "PEK",
    "Hong Kong": "HKG",
    "Rome": "CIA",
    "Tokyo": "HND",
}
# VehicleControlAPI.get_zipcode_based_on_city (any other city answers "00000").
ZIPCODE_OF_CITY: dict[str, str] = {
    "Rivermist": "83214",
    "Stonebrook": "74532",
    "Maplecrest": "56108",
    "Silverpine": "62947",
    "Shadowridge": "71354",
    "Sunset Valley": "83462",
    "Oakendale": "47329",
    "Willowbend": "52013",
    "Crescent Hollow": "69238",
    "Autumnville": "51479",
    "San Francisco": "94016",
}
# Cities both the travel and the vehicle tools know: a persona's home is one of them.
KNOWN_CITIES: tuple[str, ...] = tuple(city for city in ZIPCODE_OF_CITY if city in AIRPORT_OF_CITY)
# TravelAPI.get_flight_cost: the directed airport pairs that have a fare (others raise).
FLIGHT_ROUTES: frozenset[tuple[str, str]] = frozenset(
    (origin, destination)
    for origin, destinations in {
        "SFO": "LAX JFK ORD BOS RMS SBK MPC SVP SHD SSV OKD WLB CRH ATV PHV GFD CIA",
        "LAX": "SFO JFK ORD BOS RMS SBK MPC SVP SHD SSV OKD WLB CRH ATV PHV GFD HND",
        "JFK": "ORD BOS RMS SBK MPC SVP SHD SSV OKD WLB CRH ATV PHV GFD LAX HND PVG PEK",
        "ORD": "LAX BOS RMS SBK MPC SVP SHD SSV OKD WLB CRH ATV PHV GFD",
        "BOS": "RMS SBK MPC SVP SHD SSV OKD WLB CRH ATV PHV GFD",
        "RMS": "BOS JFK SBK MPC SVP SHD SSV OKD WLB CRH ATV PHV GFD LAX",
        "SBK": "MPC SVP SHD SSV OKD WLB CRH ATV PHV GFD",
        "MPC": "SVP SHD SSV OKD WLB CRH ATV PHV GFD",
        "SVP": "SHD SSV OKD WLB CRH ATV PHV GFD",
        "SHD": "SSV OKD WLB CRH ATV PHV GFD",
        "SSV": "OKD WLB CRH ATV PHV GFD",
        "OKD": "WLB CRH ATV PHV GFD LAX",
        "WLB": "CRH ATV PHV GFD",
        "CRH": "ATV PHV GFD SFO RMS HKG JFK",
        "ATV": "PHV GFD",
        "PHV": "GFD",
        "LHR": "CDG",
    }.items()
    for destination in destinations.split()
)
# VehicleControlAPI.estimate_distance (by zipcode, either order), between cities with a zipcode.
DRIVING_DISTANCE_KM: dict[tuple[str, str], float] = {
    ("Rivermist", "Stonebrook"): 750.0,
    ("Maplecrest", "Silverpine"): 320.0,
    ("Shadowridge", "Sunset Valley"): 450.0,
    ("Oakendale", "Willowbend"): 290.0,
    ("Crescent Hollow", "Autumnville"): 630.0,
    ("San Francisco", "Rivermist"): 980.0,
    ("Silverpine", "Oakendale"): 1053.0,
    ("San Francisco", "Silverpine"): 780.0,
    ("Stonebrook", "San Francisco"): 880.0,
}
# TradingBot.get_symbol_by_name: company names the trading tools resolve to a symbol.
SYMBOL_OF_COMPANY: dict[str, str] = {
    "Apple": "AAPL",
    "Google": "GOOG",
    "Tesla": "TSLA",
    "Microsoft": "MSFT",
    "Nvidia": "NVDA",
    "Zeta Corp": "ZETA",
    "Alpha Tech": "ALPH",
    "Omega Industries": "OMEG",
    "Quasar Ltd.": "QUAS",
    "Neptune Systems": "NEPT",
    "Synex Solutions": "SYNX",
    "Amazon": "AMZN",
    "Gorilla": "GORI",
}
# TradingBot.get_available_stocks: the sectors the trading tools list symbols of.
STOCKS_OF_SECTOR: dict[str, tuple[str, ...]] = {
    "Technology": ("AAPL", "GOOG", "MSFT", "NVDA"),
    "Automobile": ("TSLA", "F", "GM"),
}
# Every symbol the trading tools know by name or by sector: generated stocks come from these.
TRADABLE_SYMBOLS: tuple[str, ...] = tuple(
    dict.fromkeys(
        [*SYMBOL_OF_COMPANY.values(), *(s for sector in STOCKS_OF_SECTOR.values() for s in sector)]
    )
)

# Symbols a password draws from: none that needs escaping inside a quoted call argument.
_PASSWORD_SYMBOLS = "!#$%&*?@^+="
_HANDLE_PATTERNS = (
    "{first}_{last}",
    "{first}{last}",
    "{f}{last}",
    "{first}_{word}",
    "{first}{l}{number}",
    "{word}_{first}",
)


class Contact(BaseModel):
    """A friend or colleague of the persona, with the accounts the classes refer to them by."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    first_name: str
    last_name: str
    username: str
    handle: str

    @property
    def full_name(self) -> str:
        """First and last name."""
        return f"{self.first_name} {self.last_name}"


class Persona(BaseModel):
    """The user of a scenario.

    Attributes:
        first_name: Given name (traveler, cardholder, message user).
        last_name: Family name.
        username: Account name derived from the name (ticket system).
        handle: Social handle derived from the name (twitter account).
        password: Account password (twitter login).
        home_city: A city with both a nearest airport and a zipcode.
        home_airport: The home city's nearest airport.
        home_zipcode: The home city's zipcode.
        travel_cities: Cities with a flight from the home airport the persona travels to.
        nearby_cities: Cities with a known driving distance from home.
        employer: The company the persona works for.
        team: The persona's team there.
        project: The project the persona works on (names files and folders).
        topics: Two or three topics the persona works on and writes about.
        stock_sectors: Sectors the persona invests in (ones the trading tools list).
        friends: Friends and colleagues (message contacts, followed accounts, co-workers).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    first_name: str
    last_name: str
    username: str
    handle: str
    password: str
    home_city: str
    home_airport: str
    home_zipcode: str
    travel_cities: list[str]
    nearby_cities: list[str]
    employer: str
    team: str
    project: str
    topics: list[str]
    stock_sectors: list[str]
    friends: list[Contact]

    @property
    def full_name(self) -> str:
        """First and last name."""
        return f"{self.first_name} {self.last_name}"


def ascii_slug(text: str) -> str:
    """Lower-case ASCII letters and digits of a name (accents folded: Grünwald -> grunwald)."""
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(char for char in folded.lower() if char.isalnum())


def _handle(rng: random.Random, first: str, last: str) -> str:
    first_slug, last_slug = ascii_slug(first), ascii_slug(last)
    return rng.choice(_HANDLE_PATTERNS).format(
        first=first_slug,
        last=last_slug,
        f=first_slug[0],
        l=last_slug[0],
        word=rng.choice(vocab.HANDLE_WORDS),
        number=rng.randint(10, 99),
    )


def _contact(rng: random.Random, first: str, last: str) -> Contact:
    return Contact(
        first_name=first,
        last_name=last,
        username=f"{ascii_slug(first)}.{ascii_slug(last)}",
        handle=_handle(rng, first, last),
    )


def password(rng: random.Random) -> str:
    """A password that looks like one: 10-14 characters of mixed case, digits and a symbol."""
    letters = string.ascii_letters + string.digits
    chars = [
        rng.choice(string.ascii_uppercase),
        rng.choice(string.ascii_lowercase),
        rng.choice(string.digits),
        rng.choice(_PASSWORD_SYMBOLS),
    ]
    chars.extend(rng.choice(letters) for _ in range(rng.randint(6, 10)))
    rng.shuffle(chars)
    return "".join(chars)


def travel_destinations(home_city: str) -> list[str]:
    """Cities with a flight from the home city's airport, in the class's table order."""
    origin = AIRPORT_OF_CITY[home_city]
    return [
        city
        for city, airport in AIRPORT_OF_CITY.items()
        if city != home_city and (origin, airport) in FLIGHT_ROUTES
    ]


def drivable_cities(home_city: str) -> list[str]:
    """Cities with a known driving distance from the home city."""
    return [
        other
        for pair in DRIVING_DISTANCE_KM
        if home_city in pair
        for other in pair
        if other != home_city
    ]


def draw_persona(rng: random.Random) -> Persona:
    """Draw the scenario's persona (uses only `rng`: same seed, same persona)."""
    friend_count = rng.randint(3, 7)
    # Distinct first names: the message tools key users by name.
    first_names = rng.sample(vocab.FIRST_NAMES, friend_count + 1)
    last_names = [rng.choice(vocab.LAST_NAMES) for _ in first_names]
    me = _contact(rng, first_names[0], last_names[0])
    friends = [_contact(rng, first, last) for first, last in zip(first_names[1:], last_names[1:])]
    taken = {me.handle}
    for index, friend in enumerate(friends):
        if friend.handle in taken:
            friends[index] = friend.model_copy(update={"handle": f"{friend.handle}{index + 2}"})
        taken.add(friends[index].handle)
    home = rng.choice(KNOWN_CITIES)
    destinations = travel_destinations(home)
    return Persona(
        first_name=me.first_name,
        last_name=me.last_name,
        username=me.username,
        handle=me.handle,
        password=password(rng),
        home_city=home,
        home_airport=AIRPORT_OF_CITY[home],
        home_zipcode=ZIPCODE_OF_CITY[home],
        travel_cities=rng.sample(destinations, min(len(destinations), rng.randint(2, 3))),
        nearby_cities=drivable_cities(home),
        employer=rng.choice(vocab.COMPANIES),
        team=rng.choice(vocab.TEAMS),
        project=rng.choice(vocab.PROJECTS),
        topics=rng.sample(vocab.TOPICS, rng.randint(2, 3)),
        stock_sectors=rng.sample(sorted(STOCKS_OF_SECTOR), rng.randint(1, 2)),
        friends=friends,
    )
