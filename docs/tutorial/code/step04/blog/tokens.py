"""Create an author if needed, and print a new API token for them.

An author who exists keeps their name and staff flag, unless you give new ones.

examples:
  python -m blog.tokens alice "Alice Liddell"   a new author, or alice renamed
  python -m blog.tokens alice                   one more token for alice, nothing else changes
  python -m blog.tokens carol Carol --staff     carol moderates: deletes others' posts
  python -m blog.tokens carol --no-staff        carol may not any more
"""

import argparse
import asyncio

from tortoise import Tortoise

from . import settings
from .auth import issue_token
from .models import Author


async def create_token(username: str, name: str | None = None, *, staff: bool | None = None) -> str:
    """A new token for ``username``. ``None`` leaves an existing author's field as it is."""
    await Tortoise.init(config=settings.TORTOISE_ORM)
    try:
        author, created = await Author.get_or_create(
            username=username, defaults={"name": name or username, "is_staff": bool(staff)}
        )
        changed = []
        if not created and name is not None and author.name != name:
            author.name = name
            changed.append("name")
        if not created and staff is not None and author.is_staff != staff:
            author.is_staff = staff
            changed.append("is_staff")
        if changed:
            await author.save(update_fields=changed)
        return await issue_token(author)
    finally:
        await Tortoise.close_connections()


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m blog.tokens",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,  # keeps the examples' lines
    )
    parser.add_argument("username")
    parser.add_argument("name", nargs="?", help="the display name (a new author: the username)")
    parser.add_argument(
        "--staff",
        action=argparse.BooleanOptionalAction,
        help="may delete others' published posts and comments (--no-staff: may not)",
    )
    args = parser.parse_args()
    print(asyncio.run(create_token(args.username, args.name, staff=args.staff)))


if __name__ == "__main__":
    main()
