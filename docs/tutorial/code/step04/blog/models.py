from tortoise import fields
from tortoise.models import Model


class Author(Model):
    id = fields.IntField(primary_key=True)
    username = fields.CharField(max_length=40, unique=True)
    name = fields.CharField(max_length=100)
    is_staff = fields.BooleanField(default=False)


class Post(Model):
    id = fields.IntField(primary_key=True)
    title = fields.CharField(max_length=200)
    body = fields.TextField()
    published = fields.BooleanField(default=False)
    created_at = fields.DatetimeField(auto_now_add=True)
    author: fields.ForeignKeyRelation[Author] = fields.ForeignKeyField(
        "blog.Author", related_name="posts", on_delete=fields.CASCADE
    )


class Comment(Model):
    id = fields.IntField(primary_key=True)
    body = fields.TextField()
    created_at = fields.DatetimeField(auto_now_add=True)
    post: fields.ForeignKeyRelation[Post] = fields.ForeignKeyField(
        "blog.Post", related_name="comments", on_delete=fields.CASCADE
    )
    author: fields.ForeignKeyRelation[Author] = fields.ForeignKeyField(
        "blog.Author", related_name="comments", on_delete=fields.CASCADE
    )


# --8<-- [start:token]
# An API token. Only its SHA-256 digest is stored: a copy of the table gives no one access.
class Token(Model):
    id = fields.IntField(primary_key=True)
    digest = fields.CharField(max_length=64, unique=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    author: fields.ForeignKeyRelation[Author] = fields.ForeignKeyField(
        "blog.Author", related_name="tokens", on_delete=fields.CASCADE
    )
    # --8<-- [end:token]
