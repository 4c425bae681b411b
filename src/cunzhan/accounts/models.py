from __future__ import annotations

import hashlib
from typing import ClassVar

from django.contrib.auth.models import AbstractUser, UserManager
from django.db import models
from django.db.models.functions import Lower
from django.utils.translation import gettext_lazy as _

from cunzhan.accounts.roles import Role, role_has
from cunzhan.core.models import TimeStampedModel


class AnyCaseUserManager(UserManager["User"]):
    """Usernames are unique without regard to case: ``Alice`` is ``alice``."""

    def get_by_natural_key(self, username: str | None) -> User:
        return self.get(username__iexact=username)


class User(AbstractUser):
    role = models.CharField(_("角色"), max_length=30, choices=Role.choices, db_index=True)
    display_name = models.CharField(_("姓名"), max_length=80, blank=True)
    phone = models.CharField(_("手机"), max_length=20, blank=True)
    # A one-time password (given at creation or reset by a manager) is live: the user must
    # choose their own password before doing anything else, and the one-time password
    # opens one session only (``one_time_password_used_at`` is that session's login).
    password_change_required = models.BooleanField(_("须修改密码"), default=False)
    one_time_password_used_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects: ClassVar[AnyCaseUserManager] = AnyCaseUserManager()  # type: ignore[assignment]

    class Meta:
        ordering = ["username"]
        constraints = [
            models.UniqueConstraint(Lower("username"), name="accounts_user_username_any_case_uniq"),
        ]

    def __str__(self) -> str:
        return self.display_name or self.username

    def can(self, perm: str) -> bool:
        return bool(self.is_active and role_has(self.role, perm))


class Assignment(TimeStampedModel):
    """Assigns a user to a region subtree or to one station (exactly one of the two)."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="assignments")
    region = models.ForeignKey(
        "network.Region", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    station = models.ForeignKey(
        "network.Station", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["user_id", "id"]
        constraints = [
            models.CheckConstraint(
                condition=(
                    models.Q(region__isnull=False, station__isnull=True)
                    | models.Q(region__isnull=True, station__isnull=False)
                ),
                name="assignment_region_xor_station",
            ),
            models.UniqueConstraint(fields=["user", "region"], name="assignment_user_region_uniq"),
            models.UniqueConstraint(
                fields=["user", "station"], name="assignment_user_station_uniq"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} -> {self.region_id or self.station_id}"


class ApiToken(TimeStampedModel):
    """A bearer token for the REST API. Only the SHA-256 of the key is stored."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=80)
    key_hash = models.CharField(max_length=64, unique=True)
    prefix = models.CharField(max_length=8)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.name})"

    @staticmethod
    def hash_key(key: str) -> str:
        return hashlib.sha256(key.encode()).hexdigest()
