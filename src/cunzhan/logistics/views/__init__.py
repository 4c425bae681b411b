"""Logistics pages, one module per area: ``county`` (county centre: inbound, sorting,
exceptions), ``station`` (the village station operator's phone pages), ``plan`` (the
daily plan, route sheets, runs, the driver's phone page) and ``shipments`` (upward
shipments, aging, settings). Each module exports its ``urlpatterns``."""
