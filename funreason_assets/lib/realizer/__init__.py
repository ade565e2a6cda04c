"""The offline realizer: user requests, reasoning and replies in natural, varied language.

`values` states values the way people do and decides when a query carries one (the query
rules use the same functions); `intents` says what every tool does in a user's words;
`voice` gives each dialogue a persona voice; `query`, `reasoning` and `reply` compose the
user turns, the reasoner's steps and the closing replies from them.
"""
