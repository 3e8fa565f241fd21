from django.db import models


class Payment(models.Model):
    # A plain sub-package of the shop app: the table is store_payment, and
    # the shop app's migrations index it.
    order = models.ForeignKey("store.Order", on_delete=models.CASCADE, db_index=False)
