from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True
    dependencies = []
    operations = [
        migrations.CreateModel(
            name="Category",
            fields=[
                ("id", models.BigAutoField(primary_key=True, serialize=False)),
                ("name", models.CharField(max_length=50)),
                ("tree_id", models.PositiveIntegerField(db_index=True, editable=False)),
                ("lft", models.PositiveIntegerField(editable=False)),
            ],
            options={
                "indexes": [models.Index(fields=["tree_id", "lft"], name="shop_catego_tree_id_9d1b5c_idx")],
            },
        ),
        migrations.CreateModel(
            name="Order",
            fields=[
                ("id", models.BigAutoField(primary_key=True, serialize=False)),
                ("code", models.CharField(max_length=20)),
                ("state", models.CharField(max_length=20)),
            ],
            options={
                "indexes": [models.Index(fields=["state"], name="order_state_ix")],
                "index_together": {("code", "state")},
            },
        ),
        migrations.CreateModel(
            name="Ticket",
            fields=[
                ("id", models.BigAutoField(primary_key=True, serialize=False)),
                ("code", models.CharField(max_length=20, db_index=True)),
            ],
        ),
        migrations.RunSQL("CREATE INDEX order_code_sql ON shop_order (lower(code))"),
        SetUpTicketCodes(model_name="ticket"),

    ]
