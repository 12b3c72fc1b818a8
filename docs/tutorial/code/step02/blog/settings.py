import os
from typing import Any

# Where the data lives. Read from the environment so that each deployment names its own.
DATABASE_URL = os.environ.get("DATABASE_URL", "sqlite://blog.sqlite3")


def tortoise_config(db_url: str = DATABASE_URL) -> dict[str, Any]:
    return {
        "connections": {"default": db_url},
        "apps": {
            "blog": {
                "models": ["blog.models"],
                "migrations": "blog.migrations",
            },
        },
    }


# What the `tortoise` command reads: tortoise -c blog.settings.TORTOISE_ORM ...
TORTOISE_ORM = tortoise_config()
