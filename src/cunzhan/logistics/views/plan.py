"""Logistics pages: plan (see docs/architecture.md)."""

from __future__ import annotations

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
