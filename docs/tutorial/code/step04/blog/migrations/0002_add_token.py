from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('blog', '0001_initial')]

    initial = False

    operations = [
        ops.CreateModel(
            name='Token',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('digest', fields.CharField(unique=True, max_length=64)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('author', fields.ForeignKeyField('blog.Author', source_field='author_id', db_constraint=True, to_field='id', related_name='tokens', on_delete=OnDelete.CASCADE)),
            ],
            options={'table': 'token', 'app': 'blog', 'pk_attr': 'id'},
            bases=['Model'],
        ),
    ]
