"""Word lists the scenario generators draw from (written here; nothing is downloaded)."""

FIRST_NAMES = (
    "Amara", "Bastien", "Chiara", "Dmitri", "Elena", "Farid", "Greta", "Hiroshi", "Ines", "Jonah",
    "Kavya", "Lucas", "Mireille", "Nikolai", "Olufemi", "Priya", "Quentin", "Rosa", "Soren",
    "Tamsin", "Umar", "Valentina", "Wendell", "Ximena", "Yusuf", "Zofia", "Anika", "Bruno",
    "Camille", "Darius", "Esme", "Felix", "Gloria", "Henrik", "Isla", "Jasper", "Keiko", "Leandro",
    "Maren", "Nadia", "Oskar", "Paloma", "Rafael", "Sunita", "Tobias", "Ulla", "Vikram", "Wren",
)
LAST_NAMES = (
    "Abernathy", "Bianchi", "Castellanos", "Dubois", "Eriksen", "Fujimoto", "Gallagher", "Haddad",
    "Iverson", "Jovanovic", "Kowalski", "Lindqvist", "Moreau", "Nakamura", "Okafor", "Petrov",
    "Quintero", "Rasmussen", "Schneider", "Takahashi", "Underwood", "Varga", "Whitfield", "Yilmaz",
    "Zeller", "Almeida", "Brennan", "Chowdhury", "Delacroix", "Esposito", "Fitzgerald", "Grünwald",
)
HANDLE_WORDS = (
    "data", "pixel", "coffee", "trail", "orbit", "maple", "quant", "lens", "atlas", "nova",
    "harbor", "signal", "ember", "cobalt", "fable", "delta", "sprout", "vector", "echo", "lumen",
)
PROJECTS = (
    "apollo", "borealis", "cascade", "driftwood", "evergreen", "firefly", "granite", "helix",
    "ironbark", "juniper", "kestrel", "lighthouse", "monsoon", "nimbus", "obsidian", "paragon",
    "quasar", "riverbend", "sequoia", "tundra", "umbra", "vanguard", "willow", "zephyr",
)
FOLDERS = (
    "reports", "invoices", "drafts", "archive", "scripts", "data", "notes", "designs", "logs",
    "minutes", "research", "contracts", "exports", "backups", "assets", "slides", "budget",
    "onboarding", "experiments", "personal", "receipts", "templates", "releases", "fixtures",
)
FILE_STEMS = (
    "summary", "quarterly_review", "meeting_notes", "roadmap", "inventory", "sales_q3",
    "expenses", "todo", "changelog", "readme", "benchmark_results", "survey_responses",
    "customer_feedback", "release_plan", "vendor_list", "timesheet", "risk_register",
    "lab_results", "shipping_manifest", "menu_costs", "grant_proposal", "style_guide",
    "incident_report", "migration_plan", "reading_list", "travel_itinerary", "payroll_draft",
    "kpi_dashboard", "user_interviews", "api_spec", "test_plan", "floor_plan",
)
EXTENSIONS = ("txt", "md", "csv", "py", "log", "json")
TOPICS = (
    "the supplier contract renewal", "the new onboarding flow", "last week's outage",
    "the marketing budget", "the warehouse relocation", "our hiring plan", "the beta feedback",
    "the security audit", "the conference schedule", "the price increase", "the data migration",
    "the quarterly targets", "the customer churn numbers", "the office move",
    "the mobile release", "the partnership proposal", "the training program",
)
SENTENCES = (
    "Please review {topic} before Friday.",
    "I have attached my notes on {topic}.",
    "Can we move the discussion about {topic} to next week?",
    "The latest numbers on {topic} look better than expected.",
    "Reminder: {topic} is on the agenda for tomorrow.",
    "Thanks for the quick turnaround on {topic}!",
    "I found a few open questions about {topic}.",
    "Could you share the final version of {topic}?",
    "Heads up, {topic} needs another sign-off.",
    "Great progress on {topic} this sprint.",
)
TWEET_TEMPLATES = (
    "Just wrapped up {topic}. Lessons learned thread coming soon.",
    "Hot take: {topic} deserves more attention than it gets.",
    "Spent the morning on {topic} and a very strong espresso.",
    "Anyone else following {topic}? Curious what you think.",
    "Proud of the team for shipping {topic} ahead of schedule!",
    "Reading up on {topic} tonight. Recommendations welcome.",
    "Small wins: finally understood {topic}.",
    "Weekend plans: hiking, then catching up on {topic}.",
)
HASHTAGS = (
    "#productivity", "#data", "#travel", "#startup", "#engineering", "#design", "#coffee",
    "#books", "#finance", "#learning", "#teamwork", "#weekend", "#ai", "#opensource", "#health",
)
TICKET_SUBJECTS = (
    ("Printer on floor 3 jams", "The shared printer jams on every double-sided job."),
    ("VPN disconnects hourly", "My VPN session drops roughly every hour since the update."),
    ("Cannot access payroll portal", "The payroll portal returns an authorization error."),
    ("Laptop battery swelling", "The laptop battery bulges and the trackpad no longer clicks."),
    ("Request for second monitor", "I would like a second monitor for data review work."),
    ("Email attachments blocked", "Attachments above 5 MB bounce back with a policy error."),
    ("Conference room screen flickers", "The screen in the Maple room flickers during calls."),
    ("Software license expired", "The design suite reports an expired license."),
    ("Password reset loop", "Resetting my password sends me back to the login page."),
    ("Slow shared drive", "Opening files on the shared drive takes over a minute."),
    ("Badge reader broken", "The badge reader at the east entrance does not respond."),
    ("Calendar sync missing events", "Events created on mobile do not show on desktop."),
)
TICKET_STATUSES = ("Open", "In Progress", "Resolved", "Closed")
TRAVEL_CLASSES = ("economy", "business", "first")
CARD_TYPES = ("Visa", "MasterCard", "American Express", "Discover")
# A persona's employer and team: where their work topics, tickets and files come from.
COMPANIES = (
    "Northwind Analytics", "Bluepeak Labs", "Harborline Logistics", "Copperleaf Health",
    "Stillwater Energy", "Brightfield Retail", "Ridgeway Insurance", "Lanternfish Games",
    "Meridian Foods", "Tallgrass Media", "Ironwood Manufacturing", "Clearbrook Bank",
    "Foxglove Design", "Summit Ridge Realty", "Saltmarsh Biotech", "Pinecone Software",
)
TEAMS = (
    "data platform", "mobile apps", "finance", "operations", "customer success", "research",
    "marketing", "supply chain", "security", "people operations", "product design",
    "infrastructure", "sales engineering", "quality assurance",
)
# Work tickets a persona files about their own project and topics (besides IT trouble).
WORK_TICKETS = (
    ("Access to the {project} dashboard", "I need read access to the {project} dashboard "
     "to follow up on {topic}."),
    ("{Project} report export fails", "Exporting the {project} report for {topic} stops "
     "halfway with a timeout."),
    ("Shared folder for {topic}", "Please create a shared folder for {topic} on the "
     "{project} drive."),
    ("Meeting room for {topic} review", "We need a room with a projector for the {topic} "
     "review of {project}."),
    ("Data refresh for {project}", "The {project} numbers behind {topic} have not refreshed "
     "since Monday."),
    ("New hire account for {project}", "A new teammate on {project} needs accounts before "
     "we start on {topic}."),
)
STREETS = (
    "Oakwood Avenue", "Harbor Street", "Elm Road", "Willow Lane", "Maple Drive", "Cedar Court",
    "Lakeview Boulevard", "Mill Street", "Orchard Way", "Granite Place",
)
