from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True
    dependencies = []
    operations = [
        migrations.CreateModel(
            name="Tag",
            fields=[
                ("id", models.BigAutoField(primary_key=True, serialize=False)),
                ("name", models.CharField(max_length=50)),
            ],
        ),
        migrations.CreateModel(
            name="Tagged",
            fields=[
                ("id", models.BigAutoField(primary_key=True, serialize=False)),
                ("object_id", models.IntegerField(db_index=True)),
                ("tag", models.ForeignKey(db_index=False, on_delete=models.CASCADE, to="shop.tag")),
            ],
        ),
        migrations.CreateModel(
            name="Gone",
            fields=[
                ("id", models.BigAutoField(primary_key=True, serialize=False)),
                ("tag", models.ForeignKey(db_index=False, on_delete=models.CASCADE, to="shop.tag")),
            ],
        ),
        migrations.DeleteModel(name="Gone"),
    ]
