from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True
    dependencies = []
    operations = [
        migrations.AddIndex(
            model_name="payment",
            index=models.Index(fields=["order"], name="store_payment_order_idx"),
        ),
    ]
