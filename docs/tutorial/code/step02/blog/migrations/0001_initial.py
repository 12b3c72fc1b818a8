from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields

class Migration(migrations.Migration):
    initial = True

    operations = [
        ops.CreateModel(
            name='Author',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('username', fields.CharField(unique=True, max_length=40)),
                ('name', fields.CharField(max_length=100)),
                ('is_staff', fields.BooleanField(default=False)),
            ],
            options={'table': 'author', 'app': 'blog', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Post',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('title', fields.CharField(max_length=200)),
                ('body', fields.TextField(unique=False)),
                ('published', fields.BooleanField(default=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('author', fields.ForeignKeyField('blog.Author', source_field='author_id', db_constraint=True, to_field='id', related_name='posts', on_delete=OnDelete.CASCADE)),
            ],
            options={'table': 'post', 'app': 'blog', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Comment',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('body', fields.TextField(unique=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('post', fields.ForeignKeyField('blog.Post', source_field='post_id', db_constraint=True, to_field='id', related_name='comments', on_delete=OnDelete.CASCADE)),
                ('author', fields.ForeignKeyField('blog.Author', source_field='author_id', db_constraint=True, to_field='id', related_name='comments', on_delete=OnDelete.CASCADE)),
            ],
            options={'table': 'comment', 'app': 'blog', 'pk_attr': 'id'},
            bases=['Model'],
        ),
    ]
