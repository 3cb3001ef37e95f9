from django.db import models


class Access(models.Model):
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"Access at {self.created_at}"
