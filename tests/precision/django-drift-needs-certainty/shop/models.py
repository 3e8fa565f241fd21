from django.db import models
from mptt.models import MPTTModel


class Category(MPTTModel):
    name = models.CharField(max_length=50)

    class Meta:
        indexes = ()


class Order(models.Model):
    code = models.CharField(max_length=20)
    state = models.CharField(max_length=20)

    class Meta:
        indexes = [models.Index(fields=["state"], name="order_state_renamed")]


class Ticket(models.Model):
    code = models.CharField(max_length=20)
