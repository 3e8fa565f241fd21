from django.db import models
from django.db.models import Q


class Project(models.Model):
    name = models.CharField(max_length=40)


class Ticket(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE)
    status = models.CharField(max_length=10)
    created_at = models.DateTimeField()
    priority = models.IntegerField()

    class Meta:
        indexes = [
            models.Index(fields=["project", "-created_at"], name="ticket_project_recent_idx"),
            models.Index(
                fields=["project"], condition=Q(status="open"), name="ticket_open_project_idx"
            ),
            # All directions reversed: the full index read backwards.
            models.Index(
                fields=["-project", "created_at"],
                condition=Q(status="open"),
                name="ticket_open_oldest_idx",
            ),
            # The full index cannot give (project, created_at DESC, priority).
            models.Index(
                fields=["project", "-created_at", "priority"],
                condition=Q(status="triage"),
                name="ticket_open_priority_idx",
            ),
            # Mixed directions: not the full index's order either way.
            models.Index(
                fields=["project", "created_at"],
                condition=Q(status="closed"),
                name="ticket_closed_idx",
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["project"], condition=Q(status="pinned"), name="ticket_one_pinned"
            ),
        ]
