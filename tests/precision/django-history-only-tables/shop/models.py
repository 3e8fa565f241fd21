from django.db import models
from taggit.models import TaggedItemBase


class Tag(models.Model):
    name = models.CharField(max_length=50)


class Tagged(TaggedItemBase):
    tag = models.ForeignKey(Tag, on_delete=models.CASCADE, db_index=False)
