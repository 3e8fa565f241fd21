from django.db import models


class Book(models.Model):
    # Not in INSTALLED_APPS: Django makes no table for it.
    author = models.ForeignKey("store.Order", on_delete=models.CASCADE, db_index=False)
