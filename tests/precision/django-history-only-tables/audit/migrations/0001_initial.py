from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True
    dependencies = [("shop", "0001_initial")]
    operations = [
        migrations.CreateModel(
            name="Trail",
            fields=[
                ("id", models.BigAutoField(primary_key=True, serialize=False)),
                ("tag", models.ForeignKey(db_index=False, on_delete=models.CASCADE, to="shop.tag")),
            ],
        ),
        CustomMove(name="Trail"),
        SomethingUnreadable(),
    ]
