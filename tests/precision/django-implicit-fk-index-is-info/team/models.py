from django.db import models


class Team(models.Model):
    name = models.CharField(max_length=40)


class Member(models.Model):
    team = models.ForeignKey(Team, on_delete=models.CASCADE)
    user_id = models.IntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["team", "user_id"], name="member_team_user_uq"),
        ]
