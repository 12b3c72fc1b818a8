"""Create an author if needed, and print a new API token for them.

python -m blog.tokens alice "Alice Liddell"
python -m blog.tokens carol "Carol" --staff
"""

import argparse
import asyncio

from tortoise import Tortoise

from . import settings
from .auth import issue_token
from .models import Author


async def create_token(username: str, name: str, *, staff: bool = False) -> str:
    await Tortoise.init(config=settings.TORTOISE_ORM)
    try:
        author, _ = await Author.update_or_create(
            username=username, defaults={"name": name, "is_staff": staff}
        )
        return await issue_token(author)
    finally:
        await Tortoise.close_connections()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m blog.tokens", description=__doc__)
    parser.add_argument("username")
    parser.add_argument("name", nargs="?", help="the display name (default: the username)")
    parser.add_argument("--staff", action="store_true", help="may moderate every post")
    args = parser.parse_args()
    print(asyncio.run(create_token(args.username, args.name or args.username, staff=args.staff)))


if __name__ == "__main__":
    main()
