from django.db import models


class Order(models.Model):
    number = models.CharField(max_length=20)


class Payment(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, db_index=False)
