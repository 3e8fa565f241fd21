from django.db import migrations, models


class Migration(migrations.Migration):
    # 0001_initial was deleted: Django refuses to migrate this app.
    dependencies = [("shop", "0001_initial")]
    operations = [
        migrations.AddIndex(
            model_name="payment",
            index=models.Index(fields=["order"], name="shop_payment_order_idx"),
        ),
    ]
