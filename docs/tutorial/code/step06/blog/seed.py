"""Add sample posts and comments, to try the lists with: python -m blog.seed

Bob writes ten short notes and "Tortoise tips", all published, and alice leaves 25 comments
on the tips. Run it once: a second run changes nothing.
"""

import asyncio

from tortoise import Tortoise

from . import settings
from .models import Author, Comment, Post


async def seed() -> str:
    await Tortoise.init(config=settings.TORTOISE_ORM)
    try:
        if await Post.exists(title="Tortoise tips"):
            return "Already seeded: nothing added."
        alice, _ = await Author.get_or_create(username="alice", defaults={"name": "alice"})
        bob, _ = await Author.get_or_create(username="bob", defaults={"name": "bob"})
        for number in range(1, 11):
            await Post.create(title=f"Note {number}", body="...", published=True, author=bob)
        tips = await Post.create(title="Tortoise tips", body="...", published=True, author=bob)
        for number in range(1, 26):
            await Comment.create(post=tips, author=alice, body=f"Comment {number}")
        return f"Added 11 posts (the last is {tips.id}, 'Tortoise tips') and 25 comments."
    finally:
        await Tortoise.close_connections()


if __name__ == "__main__":
    print(asyncio.run(seed()))
