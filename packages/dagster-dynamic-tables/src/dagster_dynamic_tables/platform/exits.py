"""The exit statuses of `dynamic-tables`, the same for every command (`cli`'s docstring lists
them, and `cli` exports them); `commands` returns them."""

EXIT_OK = 0
EXIT_PENDING = 1
"""`plan`: changes pending; `tenants check`: findings (CI gates on it)."""
EXIT_USAGE = 2
"""argparse's status for an unknown command or option."""
EXIT_NOT_RUNNING = 3
"""`local status`: the stand-in is not running."""
EXIT_ERROR = 4
"""An expected error (declarations, settings, Snowflake unreachable): distinct from 1, which CI
reads as "changes pending"."""
