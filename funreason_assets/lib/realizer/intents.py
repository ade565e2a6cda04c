"""What every tool does, in a user's words: requests, context clauses, outcomes, results.

Each BFCL tool has an `Intent`: several imperative phrasings of asking for it (`ask`), the
clause a request uses when the tool is only a step on the way (`ctx`, e.g. "in the docs
folder" for a `cd`), past-tense outcomes for replies (`did`) and the noun of what it returns
(`noun`, for reasoning: "the user id"). Templates name parameters in braces: `{p}` states the
value (or a description of it), `{p?yes|no}` words a boolean, and `[...]` is dropped when a
parameter inside it is absent. Tools of user packs without an intent fall back to their
family's wording built from the tool's doc (`fallback_intent`).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace


@dataclass(frozen=True)
class Intent:
    """One tool's user-level wording.

    Attributes:
        family: The kind of task (files, messaging, tickets, trading, travel, vehicle, math).
        ask: Imperative requests, lower case, no final punctuation.
        did: Past-tense outcomes ("moved {source} to {destination}").
        ctx: Clauses a request uses when the tool is a step towards another one.
        noun: What the tool returns, for reasoning ("the user id").
    """

    family: str
    ask: tuple[str, ...]
    did: tuple[str, ...]
    ctx: tuple[str, ...] = ()
    noun: str = "the result"
    words: dict[str, dict[str, str]] = field(default_factory=dict)


def _i(family: str, ask: str, did: str, ctx: str = "", noun: str = "the result") -> Intent:
    """An intent from `|`-separated alternatives."""
    split = lambda text: tuple(part.strip() for part in text.split(" || ") if part.strip())  # noqa: E731
    return Intent(family, split(ask), split(did), split(ctx), noun)


INTENTS: dict[str, Intent] = {
    # ------------------------------------------------------------------ files
    "cat": _i("files",
              "show me what's in {file_name} || open {file_name} and read it to me || print the "
              "contents of {file_name} || let me see {file_name} || display {file_name}",
              "opened {file_name}", "", "the file's contents"),
    "cd": _i("files",
             "go into {folder} || switch to the {folder} folder || move into {folder} || open "
             "the {folder} directory",
             "went into {folder}",
             "in {folder} || inside the {folder} folder || over in {folder} || within {folder}",
             "the new working directory"),
    "cp": _i("files",
             "copy {source} to {destination} || make a copy of {source} in {destination} || "
             "duplicate {source} into {destination} || put a copy of {source} in {destination}",
             "copied {source} to {destination}",
             "once {source} is copied to {destination}", "the copy"),
    "diff": _i("files",
               "compare {file_name1} with {file_name2} || show me how {file_name1} differs from "
               "{file_name2} || what changed between {file_name1} and {file_name2}? || check "
               "{file_name1} against {file_name2} line by line",
               "compared {file_name1} and {file_name2}", "", "the differences"),
    "du": _i("files",
             "tell me how much space this directory takes{human_readable? in a readable format|} "
             "|| check the disk usage here{human_readable?, human-readable please|} || how big "
             "is everything in here{human_readable? (in KB/MB, not bytes)|}?",
             "checked the disk usage", "", "the disk usage"),
    "echo": _i("files",
               "write {content} into {file_name} || put the text {content} in {file_name} || "
               "add {content} to {file_name} || save {content} to {file_name} || print {content}",
               "wrote the text into {file_name} || wrote it out",
               "after writing {content} into {file_name}", "the write's outcome"),
    "find": _i("files",
               "look for anything called {name}[ under {path}] || search[ {path}] for files "
               "named {name} || locate {name}[ starting from {path}] || track down "
               "{name}[ inside {path}] || list everything in {path} || look "
               "through everything under this folder || search this directory tree",
               "searched for {name}", "", "the matching paths"),
    "grep": _i("files",
               "search {file_name} for {pattern} || look for {pattern} in {file_name} || pull "
               "the lines of {file_name} that mention {pattern} || which lines in {file_name} "
               "contain {pattern}?",
               "searched {file_name} for {pattern}", "", "the matching lines"),
    "ls": _i("files",
             "list what's in here{a?, hidden files too|} || what do I have in this folder{a?, "
             "hidden stuff included|}? || run through the files here for me{a?, dotfiles too|} "
             "|| show me the files in this "
             "directory{a?, including hidden ones|} || what's in the current folder{a?, "
             "dotfiles included|}? || give me a listing of this folder{a? with hidden files|}",
             "listed the folder", "", "the folder's contents"),
    "mkdir": _i("files",
                "make a new folder {dir_name} || create a directory called {dir_name} || set "
                "up a {dir_name} folder || add a {dir_name} directory",
                "created the {dir_name} folder",
                "in a new {dir_name} folder || after setting up a {dir_name} directory",
                "the new folder"),
    "mv": _i("files",
             "move {source} into {destination} || put {source} in {destination} || shift "
             "{source} over to {destination} || rename {source} to {destination} || relocate "
             "{source} to {destination}",
             "moved {source} to {destination}",
             "once {source} has been moved to {destination}", "the move's outcome"),
    "pwd": _i("files",
              "tell me which directory I'm in || where am I in the file system? || show the "
              "current path || what's the current working directory?",
              "checked the current directory", "", "the current path"),
    "rm": _i("files",
             "delete {file_name} || remove {file_name} || get rid of {file_name} || trash "
             "{file_name}",
             "deleted {file_name}", "after deleting {file_name}", "the removal's outcome"),
    "rmdir": _i("files",
                "remove the {dir_name} directory || delete the empty folder {dir_name} || get "
                "rid of the {dir_name} folder",
                "removed the {dir_name} folder", "", "the removal's outcome"),
    "sort": _i("files",
               "sort {file_name} || put the lines of {file_name} in order || alphabetize "
               "{file_name} || order the contents of {file_name}",
               "sorted {file_name}", "", "the sorted lines"),
    "tail": _i("files",
               "show me the last[ {lines}] lines of {file_name} || what's at the end of "
               "{file_name}? || give me the bottom[ {lines} lines] of {file_name} || read "
               "the end of {file_name}",
               "read the end of {file_name}", "", "the last lines"),
    "touch": _i("files",
                "create an empty file {file_name} || make a new file called {file_name} || "
                "add a blank file named {file_name} || I need a fresh {file_name} || "
                "start a blank {file_name} || set up a file named {file_name}",
                "created {file_name}", "after creating {file_name}", "the new file"),
    "wc": _i("files",
             "count the {mode} in {file_name} || how many {mode} does {file_name} have? "
             "|| get a {mode} count for {file_name} || tell me how many {mode} are in "
             "{file_name} || how long is {file_name}? || count what's in {file_name}",
             "counted {file_name}", "", "the count"),
    # ------------------------------------------------------------------ math
    "absolute_value": _i("math",
                         "what's the absolute value of {number}? || give me |{number}| || "
                         "take the magnitude of {number}",
                         "worked out |{number}|", "", "the absolute value"),
    "add": _i("math",
              "add {a} and {b} || what's {a} plus {b}? || sum {a} with {b} || tell me "
              "{a} + {b}",
              "added {a} and {b}", "", "the sum"),
    "divide": _i("math",
                 "divide {a} by {b} || what's {a} divided by {b}? || work out {a} / {b} || "
                 "split {a} into {b} equal parts",
                 "divided {a} by {b}", "", "the quotient"),
    "imperial_si_conversion": _i("math",
                                 "convert {value} {unit_in} to {unit_out} || how many "
                                 "{unit_out} is {value} {unit_in}? || turn {value} {unit_in} "
                                 "into {unit_out}",
                                 "converted {value} {unit_in} to {unit_out}", "",
                                 "the converted value"),
    "logarithm": _i("math",
                    "take the log of {value} to base {base}, {precision} digits of precision "
                    "|| what's log base {base} of {value}? keep {precision} digits || compute "
                    "log_{base}({value}) to {precision} digits",
                    "took the logarithm of {value}", "", "the logarithm"),
    "max_value": _i("math",
                    "which is largest: {numbers}? || find the biggest of {numbers} || give me "
                    "the maximum of {numbers}",
                    "picked the largest number", "", "the maximum"),
    "mean": _i("math",
               "average {numbers} || what's the average of {numbers}? || work out the mean "
               "of {numbers}",
               "averaged the numbers", "", "the average"),
    "min_value": _i("math",
                    "which is smallest: {numbers}? || find the lowest of {numbers} || give me "
                    "the minimum of {numbers}",
                    "picked the smallest number", "", "the minimum"),
    "multiply": _i("math",
                   "multiply {a} by {b} || what's {a} times {b}? || work out {a} x {b}",
                   "multiplied {a} by {b}", "", "the product"),
    "percentage": _i("math",
                     "what percent of {whole} is {part}? || express {part} as a share of "
                     "{whole} || {part} out of {whole} is what percentage?",
                     "worked out the percentage", "", "the percentage"),
    "power": _i("math",
                "raise {base} to the {exponent} || what's {base} to the power of {exponent}? "
                "|| compute {base}^{exponent}",
                "raised {base} to the {exponent}", "", "the power"),
    "round_number": _i("math",
                       "round {number}[ to {decimal_places} decimal places] || give me "
                       "{number} rounded[ to {decimal_places} places] || tidy {number} up[ to "
                       "{decimal_places} decimals]",
                       "rounded {number}", "", "the rounded number"),
    "si_unit_conversion": _i("math",
                             "convert {value} {unit_in} into {unit_out} || how much is "
                             "{value} {unit_in} in {unit_out}? || express {value} {unit_in} "
                             "in {unit_out}",
                             "converted {value} {unit_in} to {unit_out}", "",
                             "the converted value"),
    "square_root": _i("math",
                      "what's the square root of {number}, to {precision} digits? || take "
                      "the root of {number} with {precision} digits of precision || give me "
                      "sqrt({number}) to {precision} digits",
                      "took the square root of {number}", "", "the square root"),
    "standard_deviation": _i("math",
                             "how spread out are {numbers}? give me the standard deviation "
                             "|| compute the standard deviation of {numbers} || what's the "
                             "std dev of {numbers}?",
                             "computed the standard deviation", "", "the standard deviation"),
    "subtract": _i("math",
                   "subtract {b} from {a} || what's {a} minus {b}? || take {b} away from {a}",
                   "subtracted {b} from {a}", "", "the difference"),
    "sum_values": _i("math",
                     "add up {numbers} || what do {numbers} come to in total? || total "
                     "{numbers}",
                     "added the numbers up", "", "the total"),
    # ------------------------------------------------------------------ messaging
    "add_contact": _i("messaging",
                      "add {user_name} to my contacts || save {user_name} as a contact || "
                      "put {user_name} in my contact list",
                      "added {user_name} to your contacts",
                      "after adding {user_name} as a contact", "the new contact's id"),
    "delete_message": _i("messaging",
                         "delete the last message I sent {receiver_id} || unsend my last message "
                         "to "
                         "{receiver_id} || remove my latest "
                         "message to {receiver_id} || take back what I just sent "
                         "{receiver_id}",
                         "deleted the message to {receiver_id}", "", "the deletion's outcome"),
    "get_message_stats": _i("messaging",
                            "how many messages have I sent and received? || give me my "
                            "messaging stats || show me some numbers on my messages",
                            "pulled your message stats", "", "the message statistics"),
    "get_user_id": _i("messaging",
                      "what's {user}'s user id? || look up the id for {user} || find {user}'s "
                      "id",
                      "looked up {user}'s id", "", "the user id"),
    "list_users": _i("messaging",
                     "who's on the workspace? || list all the users || who can I message here? || "
                     "pull up the user list || show me everyone I "
                     "can message",
                     "listed the users", "", "the list of users"),
    "message_get_login_status": _i("messaging",
                                   "am I logged in to messages? || check my messaging login || "
                                   "confirm I'm signed "
                                   "in to messaging || see if my messages login is active "
                                   "|| is my message account signed in?",
                                   "checked your messaging login", "", "the login status"),
    "message_login": _i("messaging",
                        "sign me in to messages as {user_id} || log in to the message app as "
                        "{user_id}",
                        "signed you in as {user_id}",
                        "signed in as {user_id} || from my messaging account {user_id} || "
                        "logged into messages as {user_id} || using my {user_id} inbox",
                        "the login result"),
    "search_messages": _i("messaging",
                          "find messages about {keyword} || search my messages for {keyword} || "
                          "which of "
                          "my messages talk about {keyword}? || look through my messages for "
                          "{keyword} "
                          "|| dig up any message mentioning {keyword}",
                          "searched your messages for {keyword}", "", "the matching messages"),
    "send_message": _i("messaging",
                       "send {receiver_id} a message saying {message} || message {receiver_id} "
                       "with {message} || tell {receiver_id} {message} || drop {receiver_id} a "
                       "note: {message}",
                       "sent {receiver_id} your message", "", "the sent message's id"),
    "view_messages_sent": _i("messaging",
                             "show me the messages I've sent || what have I sent so far? || list "
                             "everything "
                             "in my outbox || remind me what I've been sending people || "
                             "pull up my sent messages",
                             "pulled up your sent messages", "", "the sent messages"),
    # ------------------------------------------------------------------ social
    "authenticate_twitter": _i("social",
                               "log me in to Twitter as {username} with {password} || sign in "
                               "to my Twitter account {username} ({password})",
                               "logged you in as {username}",
                               "logged in as {username} (my password's {password}) || on my "
                               "account {username}, password {password} || as {username} / "
                               "{password} || from my {username} account (pw {password}) || "
                               "once you've signed me in as {username} with {password}",
                               "the login result"),
    "comment": _i("social",
                  "comment {comment_content} on {tweet_id} || reply to {tweet_id} with "
                  "{comment_content} || leave {comment_content} under {tweet_id}",
                  "left your comment on {tweet_id}", "", "the comment's outcome"),
    "follow_user": _i("social",
                      "follow {username_to_follow} || start following {username_to_follow} "
                      "|| add {username_to_follow} to the accounts I follow",
                      "followed {username_to_follow}", "", "the follow's outcome"),
    "get_tweet": _i("social",
                    "pull up {tweet_id} || find {tweet_id} for me || open {tweet_id} || show me "
                    "{tweet_id} || what does {tweet_id} "
                    "say?",
                    "pulled up {tweet_id}", "", "the tweet"),
    "get_tweet_comments": _i("social",
                             "show me the replies to {tweet_id} || read me the comments on "
                             "{tweet_id} || "
                             "how are people reacting to {tweet_id}? || what are people saying "
                             "under {tweet_id}? || list the comments on {tweet_id}",
                             "pulled the comments on {tweet_id}", "", "the comments"),
    "get_user_stats": _i("social",
                         "how many followers does {username} have? || show me {username}'s "
                         "account stats || give me the numbers for {username}",
                         "pulled {username}'s stats", "", "the account statistics"),
    "get_user_tweets": _i("social",
                          "show me what {username} has tweeted || list {username}'s tweets || pull "
                          "{username}'s timeline || grab the latest posts from {username} "
                          "|| what has {username} been posting?",
                          "pulled {username}'s tweets", "", "the user's tweets"),
    "list_all_following": _i("social",
                             "who am I following? || list the accounts I follow || show me "
                             "my following list",
                             "listed who you follow", "", "the accounts followed"),
    "mention": _i("social",
                  "tag {mentioned_usernames} in {tweet_id} || add {mentioned_usernames} to "
                  "{tweet_id} || loop {mentioned_usernames} into {tweet_id}",
                  "tagged {mentioned_usernames}", "", "the tagging's outcome"),
    "post_tweet": _i("social",
                     "tweet {content}[ with {tags}][ and tag {mentions}] || post "
                     "{content}[ {tags}][, mentioning {mentions}] || put {content} out on "
                     "Twitter[ with {tags}][ and loop in {mentions}]",
                     "posted your tweet", "after posting {content}", "the new tweet"),
    "posting_get_login_status": _i("social",
                                   "am I signed in to Twitter? || make sure I'm logged in to "
                                   "Twitter || check whether my Twitter "
                                   "session is active || is my Twitter login still good?",
                                   "checked your Twitter login", "", "the login status"),
    "retweet": _i("social",
                  "retweet {tweet_id} || share {tweet_id} on my timeline || boost {tweet_id}",
                  "retweeted {tweet_id}", "", "the retweet's outcome"),
    "search_tweets": _i("social",
                        "search Twitter for {keyword} || find tweets about {keyword} || what's "
                        "being said about {keyword}? || pull up posts mentioning {keyword} || "
                        "look for anything on Twitter about {keyword} || check who's tweeting "
                        "about {keyword}",
                        "searched for {keyword}", "", "the matching tweets"),
    "unfollow_user": _i("social",
                        "unfollow {username_to_unfollow} || stop following "
                        "{username_to_unfollow} || drop {username_to_unfollow} from my feed",
                        "unfollowed {username_to_unfollow}", "", "the unfollow's outcome"),
    # ------------------------------------------------------------------ tickets
    "close_ticket": _i("tickets",
                       "close {ticket_id} || mark {ticket_id} as closed || shut "
                       "{ticket_id} down",
                       "closed {ticket_id}", "", "the ticket's closing"),
    "create_ticket": _i("tickets",
                        "open a ticket titled {title}[ describing {description}][ at priority "
                        "{priority}] || file a support ticket {title}[: {description}][, "
                        "priority {priority}] || raise a ticket called {title}[ with the "
                        "details {description}][, level {priority}] || log an issue named "
                        "{title} with support[ (details: {description})][, urgency {priority}] "
                        "|| get {title} into the support queue[ ({description})][ as priority "
                        "{priority}]",
                        "opened the ticket {title}",
                        "after opening a ticket titled {title} || once there's a ticket "
                        "called {title} || with a new {title} ticket filed || right after "
                        "you file {title} as a ticket || having raised a ticket for {title}",
                        "the new ticket"),
    "edit_ticket": _i("tickets",
                      "update {ticket_id} with {updates} || change {ticket_id} so it has "
                      "{updates} || edit {ticket_id}, {updates}",
                      "updated {ticket_id}", "", "the edit's outcome"),
    "get_ticket": _i("tickets",
                     "pull up {ticket_id} || bring up {ticket_id} || give me the details on "
                     "{ticket_id} || "
                     "show me {ticket_id} || what's the state of "
                     "{ticket_id}?",
                     "pulled up {ticket_id}", "", "the ticket"),
    "get_user_tickets": _i("tickets",
                           "list my[ {status}] tickets || show me the[ {status}] tickets I "
                           "have || which of my tickets are[ {status}]?",
                           "listed your tickets", "", "the ticket list"),
    "logout": _i("tickets",
                 "log me out of the ticket system || sign out of support || end my ticket "
                 "session",
                 "signed you out", "", "the logout's outcome"),
    "resolve_ticket": _i("tickets",
                         "resolve {ticket_id} with {resolution} || mark {ticket_id} resolved: "
                         "{resolution} || close out {ticket_id}, noting {resolution}",
                         "resolved {ticket_id}", "", "the resolution's outcome"),
    "ticket_get_login_status": _i("tickets",
                                  "am I logged in to the ticket system? || confirm my support "
                                  "session is live || "
                                  "check my support "
                                  "login || is my ticket session active?",
                                  "checked your ticket login", "", "the login status"),
    "ticket_login": _i("tickets",
                       "log me in to the ticket system as {username} with {password} || sign "
                       "in to support: {username} / {password}",
                       "signed you in as {username}",
                       "as {username} (password {password}) || signed in with {username} / "
                       "{password} || using my support login {username}, {password} || on the "
                       "help desk account {username} (pw {password}) || once I'm in as "
                       "{username} with {password}",
                       "the login result"),
    # ------------------------------------------------------------------ trading
    "add_to_watchlist": _i("trading",
                           "add {stock} to my watchlist || keep an eye on {stock} for me || "
                           "put {stock} on the watchlist",
                           "added {stock} to your watchlist", "", "the watchlist"),
    "cancel_order": _i("trading",
                       "cancel {order_id} || call off {order_id} || kill "
                       "{order_id}",
                       "cancelled {order_id}", "", "the cancellation"),
    "filter_stocks_by_price": _i("trading",
                                 "which of {stocks} trade between {min_price} and {max_price}? "
                                 "|| narrow {stocks} down to ones priced {min_price} to "
                                 "{max_price} || keep only {stocks} costing between "
                                 "{min_price} and {max_price}",
                                 "filtered the stocks by price", "", "the matching stocks"),
    "fund_account": _i("trading",
                       "put {amount} into my trading account || deposit {amount} || top up "
                       "my account with {amount}",
                       "deposited {amount}", "after depositing {amount}", "the new balance"),
    "get_account_info": _i("trading",
                           "how does my trading account look? || give me an overview of my "
                           "account || "
                           "what's the state of my brokerage account? || show me my account "
                           "details "
                           "|| what's my balance?",
                           "pulled your account details", "", "the account details"),
    "get_available_stocks": _i("trading",
                               "which {sector} stocks can I trade? || list the {sector} stocks "
                               "|| what's "
                               "tradeable in {sector}? || give me the {sector} names "
                               "|| show me what's available in {sector}",
                               "listed the {sector} stocks", "", "the stocks of the sector"),
    "get_current_time": _i("trading",
                           "what time is it on the market? || check the market clock || tell "
                           "me the current trading time",
                           "checked the time", "", "the current time"),
    "get_order_details": _i("trading",
                            "show me {order_id} || how did {order_id} go? || fill me in on "
                            "{order_id} || what's the status of {order_id}? || "
                            "pull up the details of {order_id}",
                            "pulled up {order_id}", "", "the order details"),
    "get_order_history": _i("trading",
                            "show my past orders || list the orders I've placed || what's in "
                            "my order history?",
                            "pulled your order history", "", "the order history"),
    "get_stock_info": _i("trading",
                         "how's {symbol} doing? || give me the latest on {symbol} || check "
                         "{symbol}'s price",
                         "checked {symbol}", "", "the stock's details"),
    "get_symbol_by_name": _i("trading",
                             "what's the ticker for {name}? || look up {name}'s symbol || "
                             "which symbol does {name} trade under?",
                             "looked up {name}'s ticker", "", "the ticker symbol"),
    "get_transaction_history": _i("trading",
                                  "show my transactions[ from {start_date}][ to {end_date}] || "
                                  "list what went through my account[ from {start_date}]"
                                  "[ up to {end_date}] || pull my transaction history[ since "
                                  "{start_date}][ up to {end_date}]",
                                  "pulled your transactions", "", "the transactions"),
    "get_watchlist": _i("trading",
                        "what's on my watchlist? || show me my watchlist || list the stocks "
                        "I'm watching",
                        "pulled your watchlist", "", "the watchlist"),
    "notify_price_change": _i("trading",
                              "alert me if {stocks} move more than {threshold}% || watch "
                              "{stocks} for swings over {threshold}% || let me know when "
                              "{stocks} change by {threshold}% or more",
                              "set up the price alert", "", "the alerts"),
    "place_order": _i("trading",
                      "{order_type} {amount} shares of {symbol} at {price} || put in an order "
                      "to {order_type} {amount} {symbol} at {price} a share || place a "
                      "{order_type} for {amount} of {symbol}, {price} each",
                      "placed the order for {amount} {symbol}",
                      "after placing that order || once the {symbol} order is in || with "
                      "that {symbol} trade placed || right after the order goes through",
                      "the order"),
    "remove_stock_from_watchlist": _i("trading",
                                      "take {symbol} off my watchlist || stop watching "
                                      "{symbol} || drop {symbol} from the watchlist",
                                      "removed {symbol} from your watchlist", "",
                                      "the watchlist"),
    "trading_get_login_status": _i("trading",
                                   "am I logged in to trading? || check my trading session || "
                                   "is my brokerage login active?",
                                   "checked your trading login", "", "the login status"),
    "trading_login": _i("trading",
                        "log me in to trading as {username} with {password} || sign in to "
                        "the brokerage: {username} / {password}",
                        "signed you in as {username}",
                        "as {username} (password {password}) || with my trading login "
                        "{username}, {password} || on my brokerage account {username} (pw "
                        "{password}) || once I'm signed in as {username} / {password}",
                        "the login result"),
    "trading_logout": _i("trading",
                         "log me out of trading || sign out of the brokerage || end my trading "
                         "session",
                         "signed you out of trading", "", "the logout's outcome"),
    "withdraw_funds": _i("trading",
                         "withdraw {amount} || take {amount} out of my account || pull {amount} "
                         "from my trading balance",
                         "withdrew {amount}", "", "the new balance"),
    # ------------------------------------------------------------------ travel
    "authenticate_travel": _i("travel",
                              "sign me in to the travel service: client {client_id}, secret "
                              "{client_secret}, refresh token {refresh_token}, {grant_type} "
                              "access, for {user_first_name} {user_last_name}",
                              "signed you in to travel",
                              "with my travel credentials ({client_id}, {client_secret}, "
                              "{refresh_token}, {grant_type}) as {user_first_name} "
                              "{user_last_name} || logged in as {user_first_name} "
                              "{user_last_name} using {client_id} / {client_secret} / "
                              "{refresh_token} with {grant_type} rights",
                              "the access token"),
    "book_flight": _i("travel",
                      "book me a {travel_class} flight from {travel_from} to {travel_to} on "
                      "{travel_date}[, paid with {card_id}] || get me a seat from "
                      "{travel_from} to {travel_to} on {travel_date} in {travel_class}[ "
                      "using {card_id}] || reserve a {travel_class} ticket {travel_from} to "
                      "{travel_to}, {travel_date}[, charge it to {card_id}]",
                      "booked the {travel_from} to {travel_to} flight",
                      "once the {travel_from}-{travel_to} flight on {travel_date} is booked || "
                      "after you book me {travel_from} to {travel_to} on {travel_date} || with "
                      "a {travel_from}-{travel_to} seat reserved for {travel_date} || as soon "
                      "as my {travel_date} flight {travel_from} to {travel_to} is confirmed",
                      "the booking"),
    "cancel_booking": _i("travel",
                         "cancel {booking_id} || call off {booking_id} || I need "
                         "{booking_id} cancelled",
                         "cancelled {booking_id}", "", "the cancellation"),
    "compute_exchange_rate": _i("travel",
                                "convert {value} {base_currency} to {target_currency} || how "
                                "much is {value} {base_currency} in {target_currency}? || "
                                "change {value} {base_currency} into {target_currency}",
                                "converted {value} {base_currency}", "",
                                "the converted amount"),
    "contact_customer_support": _i("travel",
                                   "tell support about {booking_id}: {message} || message "
                                   "customer service about {booking_id} with {message} || "
                                   "reach out to support regarding {booking_id}, saying "
                                   "{message}",
                                   "contacted support", "", "support's answer"),
    "get_all_credit_cards": _i("travel",
                               "list my saved cards || which credit cards do I have on file? || "
                               "what cards "
                               "are registered to me? || remind me which cards I saved "
                               "|| show me my registered cards",
                               "listed your cards", "", "the saved cards"),
    "get_booking_history": _i("travel",
                              "show my past bookings[ ({access_token})] || list my trips || "
                              "what have I booked so far?",
                              "pulled your bookings", "", "the booking history"),
    "get_budget_fiscal_year": _i("travel",
                                 "what's the fiscal-year budget[ since {lastModifiedAfter}]? "
                                 "|| show the budget for this fiscal year[ (changes after "
                                 "{lastModifiedAfter})]",
                                 "checked the budget", "", "the budget"),
    "get_credit_card_balance": _i("travel",
                                  "what's the balance on {card_id}? || how much is on "
                                  "{card_id}? || check {card_id}'s balance",
                                  "checked {card_id}'s balance", "", "the card balance"),
    "get_flight_cost": _i("travel",
                          "how much is a {travel_class} flight from {travel_from} to "
                          "{travel_to} on {travel_date}? || price a {travel_from} to "
                          "{travel_to} trip for {travel_date}, {travel_class} || what would "
                          "{travel_from}-{travel_to} cost on {travel_date} in {travel_class}?",
                          "priced the flight", "", "the fare"),
    "get_nearest_airport_by_city": _i("travel",
                                      "which airport is closest to {location}? || what's the "
                                      "nearest airport to {location}? || where do I fly from "
                                      "near {location}?",
                                      "looked up the airport for {location}", "",
                                      "the airport code"),
    "list_all_airports": _i("travel",
                            "which airports can I fly from? || list the airports || show me "
                            "every airport you know",
                            "listed the airports", "", "the airports"),
    "purchase_insurance": _i("travel",
                             "buy {insurance_type} insurance for {booking_id} at "
                             "{insurance_cost} on {card_id} || add {insurance_type} cover "
                             "({insurance_cost}) to {booking_id}, charged to {card_id} || "
                             "insure {booking_id} with a {insurance_type} plan for "
                             "{insurance_cost} using {card_id}",
                             "bought the {insurance_type} insurance", "", "the insurance"),
    "register_credit_card": _i("travel",
                               "add my card {card_number}, expiring {expiration_date}, name "
                               "on it {cardholder_name}, CVV {card_verification_number} || "
                               "register {card_number} ({expiration_date}, "
                               "{card_verification_number}) for {cardholder_name}",
                               "registered the card",
                               "after registering the card {card_number} ({expiration_date}, "
                               "{card_verification_number}, {cardholder_name}) || with my card "
                               "{card_number} added first (expires {expiration_date}, CVV "
                               "{card_verification_number}, {cardholder_name}) || putting "
                               "{card_number} on file for {cardholder_name} (exp "
                               "{expiration_date}, security code {card_verification_number}) "
                               "|| once {card_number} is saved to my account "
                               "({expiration_date}, {card_verification_number}, "
                               "{cardholder_name})",
                               "the new card's id"),
    "retrieve_invoice": _i("travel",
                           "get me the invoice[ for {booking_id}][ and {insurance_id}] || "
                           "send over the receipt[ for {booking_id}][ covering "
                           "{insurance_id}] || I need the invoice[ on {booking_id}]",
                           "pulled the invoice", "", "the invoice"),
    "set_budget_limit": _i("travel",
                           "cap my travel budget at {budget_limit} || set a {budget_limit} "
                           "budget || keep my spending under {budget_limit}",
                           "set the budget to {budget_limit}", "", "the budget limit"),
    "travel_get_login_status": _i("travel",
                                  "am I logged in to travel? || check my travel session || "
                                  "is my travel login active?",
                                  "checked your travel login", "", "the login status"),
    "verify_traveler_information": _i("travel",
                                      "check my traveler details: {first_name} "
                                      "{last_name}, born {date_of_birth}, passport "
                                      "{passport_number} || verify {first_name} "
                                      "{last_name} ({date_of_birth}, {passport_number}) "
                                      "can travel",
                                      "verified the traveler details",
                                      "once {first_name} {last_name} ({date_of_birth}, "
                                      "{passport_number}) is verified",
                                      "the verification"),
    # ------------------------------------------------------------------ vehicle
    "activateParkingBrake": _i("vehicle",
                               "{mode} the parking brake || {mode} the handbrake, please "
                               "|| could the parking brake be {mode}d",
                               "set the parking brake to {mode}",
                               "with the parking brake set to {mode}", "the brake status"),
    "adjustClimateControl": _i("vehicle",
                               "set the cabin to {temperature}[ degrees {unit}][ with the fan at "
                               "{fanSpeed}][ on {mode}] || make it {temperature}[ "
                               "{unit}] inside[, fan {fanSpeed}][, {mode} mode] || put the "
                               "climate at {temperature}[ {unit}][, {mode}][, fan speed "
                               "{fanSpeed}]",
                               "set the climate to {temperature}", "", "the climate settings"),
    "check_tire_pressure": _i("vehicle",
                              "check the tire pressure || how are my tires? || look at the tire "
                              "pressures || are the tires "
                              "properly inflated?",
                              "checked the tires", "", "the tire pressures"),
    "displayCarStatus": _i("vehicle",
                           "show me the {option} status || how's the {option}? || check the "
                           "car's {option}",
                           "checked the {option}", "", "the car status"),
    "display_log": _i("vehicle",
                      "show these on the dashboard log: {messages} || log {messages} on the "
                      "display",
                      "put the messages on the log", "", "the log"),
    "estimate_distance": _i("vehicle",
                            "how far is it from {cityA} to {cityB}? || estimate the drive "
                            "between {cityA} and {cityB} || what's the distance {cityA} to "
                            "{cityB}?",
                            "estimated the distance", "", "the distance"),
    "estimate_drive_feasibility_by_mileage": _i("vehicle",
                                                "can I drive {distance} miles on what's in "
                                                "the tank? || will the car make {distance} "
                                                "miles without refueling? || is a "
                                                "{distance}-mile drive doable right now?",
                                                "checked whether the car can make it", "",
                                                "the feasibility"),
    "fillFuelTank": _i("vehicle",
                       "add {fuelAmount} gallons of fuel || top up the tank with {fuelAmount} "
                       "gallons || put {fuelAmount} gallons in",
                       "added {fuelAmount} gallons",
                       "after putting {fuelAmount} gallons in the tank", "the fuel level"),
    "find_nearest_tire_shop": _i("vehicle",
                                 "where's the nearest tire shop? || is there a tire shop around "
                                 "here? || find me a tire shop "
                                 "nearby || I need a tire place close by",
                                 "found a tire shop", "", "the nearest tire shop"),
    "gallon_to_liter": _i("vehicle",
                          "how many liters is {gallon} gallons? || convert {gallon} gallons to "
                          "liters || {gallon} gallons in liters?",
                          "converted {gallon} gallons", "", "the liters"),
    "get_current_speed": _i("vehicle",
                            "how fast am I going? || what's my current speed? || check the "
                            "speedometer",
                            "checked your speed", "", "the speed"),
    "get_outside_temperature_from_google": _i("vehicle",
                                              "how warm is it outside? || what's the "
                                              "temperature out there? || check the outside "
                                              "temperature",
                                              "checked the temperature", "",
                                              "the outside temperature"),
    "get_outside_temperature_from_weather_com": _i("vehicle",
                                                   "what's the weather outside right now? || "
                                                   "how cold is it out? || get me the outdoor "
                                                   "temperature",
                                                   "checked the weather", "",
                                                   "the outside temperature"),
    "get_zipcode_based_on_city": _i("vehicle",
                                    "what's the zip code for {city}? || look up {city}'s "
                                    "postal code || which zip is {city}?",
                                    "looked up {city}'s zip code", "", "the zip code"),
    "liter_to_gallon": _i("vehicle",
                          "how many gallons is {liter} liters? || convert {liter} liters to "
                          "gallons || {liter} liters in gallons?",
                          "converted {liter} liters", "", "the gallons"),
    "lockDoors": _i("vehicle",
                    "{unlock?unlock|lock} the {door} door || make sure the {door} door is "
                    "{unlock?unlocked|locked} || {unlock?open up|lock up} the {door} door",
                    "{unlock?unlocked|locked} the {door} door",
                    "with the {door} door {unlock?unlocked|locked}", "the door status"),
    "pressBrakePedal": _i("vehicle",
                          "press the brake to {pedalPosition} || push the brake pedal "
                          "{pedalPosition} of the way || brake at {pedalPosition}",
                          "pressed the brake", "with the brake pressed to {pedalPosition}",
                          "the brake status"),
    "releaseBrakePedal": _i("vehicle",
                            "let go of the brake || release the brake pedal || ease off the "
                            "brake",
                            "released the brake", "", "the brake status"),
    "setCruiseControl": _i("vehicle",
                           "{activate?set|turn off} cruise control {activate?at|from} "
                           "{speed} mph, keeping {distanceToNextVehicle} m to the car ahead "
                           "|| cruise at {speed} mph with a {distanceToNextVehicle} m gap{"
                           "activate?|, then switch it off}",
                           "set cruise control to {speed} mph", "", "the cruise status"),
    "setHeadlights": _i("vehicle",
                        "turn the headlights {mode} || switch the lights to {mode} || "
                        "headlights {mode}, please",
                        "set the headlights to {mode}", "", "the headlight status"),
    "set_navigation": _i("vehicle",
                         "navigate to {destination} || take me to {destination} || set the "
                         "GPS for {destination}",
                         "set navigation to {destination}", "", "the route"),
    "startEngine": _i("vehicle",
                      "{ignitionMode} the engine || hit {ignitionMode} on the ignition || "
                      "engine: {ignitionMode}",
                      "set the engine to {ignitionMode}",
                      "with the engine set to {ignitionMode}", "the engine status"),
}


# Enum values in words (the query rules accept these spellings of a documented value).
_WORDS = {
    "wc": {"mode": {"l": "lines", "w": "words", "c": "characters"}},
    "startEngine": {"ignitionMode": {"START": "start", "STOP": "stop"}},
    "place_order": {"order_type": {"Buy": "buy", "Sell": "sell"}},
    "displayCarStatus": {"option": {"parkingBrake": "parking brake", "brakePedal": "brake pedal"}},
    "lockDoors": {"door": {"rear_left": "rear left", "rear_right": "rear right"}},
}
for _tool, _words in _WORDS.items():
    INTENTS[_tool] = replace(INTENTS[_tool], words=_words)


def fallback_intent(goal: str, family: str = "general") -> Intent:
    """An intent for a tool the table does not know, from its doc's goal phrase."""
    return Intent(
        family,
        ask=(goal, f"please {goal}", f"help me {goal}"),
        did=(f"took care of it ({goal})",),
        noun="the result",
    )
