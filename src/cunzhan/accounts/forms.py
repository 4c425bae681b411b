"""Forms of the user pages. They parse input; the rules live in ``services``."""

from __future__ import annotations

import re
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from cunzhan.accounts.models import Assignment
from cunzhan.accounts.roles import Role, manageable_roles
from cunzhan.core.validation import is_ascii_digits

SEPARATORS = re.compile(r"[\s,，、;；]+")


def _role_choices(actor: Any) -> list[tuple[str, Any]]:
    allowed = manageable_roles(actor)
    return [(value, label) for value, label in Role.choices if value in allowed]


def _split(text: str) -> list[str]:
    return [part for part in SEPARATORS.split(text.strip()) if part]


class UserFilterForm(forms.Form):
    q = forms.CharField(label=_("搜索"), required=False, max_length=80)
    role = forms.ChoiceField(label=_("角色"), required=False)
    region = forms.CharField(label=_("地区代码"), required=False, max_length=12)
    active = forms.ChoiceField(
        label=_("状态"),
        required=False,
        choices=[("", _("全部")), ("1", _("在用")), ("0", _("已停用"))],
    )

    def __init__(self, *args: Any, actor: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["role"].choices = [("", _("全部角色")), *_role_choices(actor)]  # type: ignore[attr-defined]

    def clean_q(self) -> str:
        return self.cleaned_data["q"].replace("\x00", "").strip()

    def clean_region(self) -> str:
        code = self.cleaned_data["region"].strip()
        if code and not is_ascii_digits(code):
            raise forms.ValidationError(_("地区代码只能是数字"))
        return code


class AssignmentFields(forms.Form):
    """Region codes and station codes, several separated by spaces or commas."""

    region_codes = forms.CharField(
        label=_("地区代码"),
        required=False,
        max_length=400,
        help_text=_("县（6位）、乡镇（9位）或村（12位）的统计代码，多个用空格分隔"),
        widget=forms.TextInput(
            attrs={"inputmode": "numeric", "autocomplete": "off", "list": "region-options"}
        ),
    )
    station_codes = forms.CharField(
        label=_("服务站编码"),
        required=False,
        max_length=400,
        help_text=_("站长通常分配到一个服务站；多个用空格分隔"),
    )

    def clean_region_codes(self) -> list[str]:
        codes = _split(self.cleaned_data["region_codes"])
        bad = [c for c in codes if not is_ascii_digits(c) or len(c) > 12]
        if bad:
            raise forms.ValidationError(
                _("地区代码只能是数字（最多12位）：%(codes)s") % {"codes": " ".join(bad[:5])}
            )
        return codes

    def clean_station_codes(self) -> list[int]:
        codes = _split(self.cleaned_data["station_codes"])
        if not codes:
            return []
        model = Assignment._meta.get_field("station").related_model
        found = dict(
            model._default_manager.filter(code__in=codes).values_list("code", "pk")  # type: ignore[union-attr]
        )
        missing = [c for c in codes if c not in found]
        if missing:
            raise forms.ValidationError(
                _("未知的服务站编码：%(codes)s") % {"codes": " ".join(missing[:5])}
            )
        return [found[c] for c in codes]


class UserCreateForm(AssignmentFields):
    username = forms.RegexField(
        label=_("登录名"),
        max_length=150,
        regex=r"^[\w.@+-]+$",
        error_messages={"invalid": _("登录名只能包含字母、数字和 @ . + - _")},
    )
    display_name = forms.CharField(label=_("姓名"), max_length=80, required=False)
    phone = forms.CharField(
        label=_("手机"),
        max_length=20,
        required=False,
        widget=forms.TextInput(attrs={"type": "tel"}),
    )
    role = forms.ChoiceField(label=_("角色"))

    field_order = ["username", "display_name", "phone", "role", "region_codes", "station_codes"]

    def __init__(self, *args: Any, actor: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["role"].choices = _role_choices(actor)  # type: ignore[attr-defined]


class UserEditForm(AssignmentFields):
    display_name = forms.CharField(label=_("姓名"), max_length=80, required=False)
    phone = forms.CharField(
        label=_("手机"),
        max_length=20,
        required=False,
        widget=forms.TextInput(attrs={"type": "tel"}),
    )
    role = forms.ChoiceField(label=_("角色"))

    field_order = ["display_name", "phone", "role", "region_codes", "station_codes"]

    def __init__(self, *args: Any, actor: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        choices = _role_choices(actor)
        if user.role not in dict(choices):
            choices = [(user.role, user.get_role_display()), *choices]
        self.fields["role"].choices = choices  # type: ignore[attr-defined]
        if user.pk == getattr(actor, "pk", None):
            self.fields["role"].disabled = True


class TokenCreateForm(forms.Form):
    name = forms.CharField(label=_("令牌名称"), max_length=80, initial="api")
