"""Forms of the station pages. They parse input; the rules live in ``services``."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from cunzhan.core.errors import ApplicationError
from cunzhan.core.money import yuan_to_fen
from cunzhan.core.validation import is_ascii_digits
from cunzhan.network.models import Capability, StationKind, StationStatus

WEEKDAYS = [
    ("1", _("周一")),
    ("2", _("周二")),
    ("3", _("周三")),
    ("4", _("周四")),
    ("5", _("周五")),
    ("6", _("周六")),
    ("7", _("周日")),
]


def open_days_label(open_days: str) -> str:
    """'1234567' -> 每天; otherwise the days, e.g. 周一、周三、周五."""
    if set("1234567") <= set(open_days):
        return str(_("每天"))
    return str(_("、")).join(str(label) for d, label in WEEKDAYS if d in open_days)


class StationFilterForm(forms.Form):
    region = forms.CharField(label=_("地区代码"), required=False, max_length=12)
    kind = forms.ChoiceField(
        label=_("类型"), required=False, choices=[("", _("全部类型")), *StationKind.choices]
    )
    status = forms.ChoiceField(
        label=_("状态"), required=False, choices=[("", _("全部状态")), *StationStatus.choices]
    )

    def clean_region(self) -> str:
        code = self.cleaned_data["region"].strip()
        if code and not is_ascii_digits(code):
            raise forms.ValidationError(_("地区代码只能是数字"))
        return code


class ServiceErrorFormMixin:
    """Show a service's ApplicationError on the field its details name (or above the form)."""

    FIELD_FOR: dict[str, str] = {}  # service field name -> form field name

    def add_service_error(self, exc: ApplicationError) -> None:
        details = exc.details if isinstance(exc.details, dict) else {}
        field = str(details.get("field") or "")
        field = self.FIELD_FOR.get(field, field)
        fields = self.fields  # type: ignore[attr-defined]
        self.add_error(field if field in fields else None, exc.message)  # type: ignore[attr-defined]


class StationApplyForm(ServiceErrorFormMixin, forms.Form):
    """Service-field names map onto form fields (``deposit_fen`` -> ``deposit_yuan``)."""

    region_code = forms.CharField(
        label=_("地区（村、乡镇或县的统计代码）"),
        max_length=12,
        widget=forms.TextInput(
            attrs={"inputmode": "numeric", "autocomplete": "off", "list": "region-options"}
        ),
    )
    kind = forms.ChoiceField(label=_("服务站类型"), choices=StationKind.choices)
    name = forms.CharField(label=_("服务站名称"), max_length=120)
    address = forms.CharField(label=_("地址"), max_length=200, required=False)
    applicant_name = forms.CharField(label=_("申请人"), max_length=80)
    applicant_phone = forms.CharField(
        label=_("申请人手机"), max_length=20, widget=forms.TextInput(attrs={"type": "tel"})
    )
    premises_m2 = forms.IntegerField(label=_("场地面积(平方米)"), min_value=1, max_value=10**7)
    committee_recommendation = forms.BooleanField(label=_("村委会推荐"), required=False)
    recommendation_note = forms.CharField(
        label=_("推荐说明"),
        max_length=300,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    deposit_yuan = forms.CharField(label=_("保证金(元)"), max_length=20, initial="0")
    capabilities = forms.MultipleChoiceField(
        label=_("服务项目"),
        choices=Capability.choices,
        widget=forms.CheckboxSelectMultiple,
        required=False,
        initial=[Capability.PARCELS],
    )
    opens_at = forms.TimeField(
        label=_("开门时间"), initial=dt.time(8, 0), widget=forms.TimeInput(attrs={"type": "time"})
    )
    closes_at = forms.TimeField(
        label=_("关门时间"), initial=dt.time(20, 0), widget=forms.TimeInput(attrs={"type": "time"})
    )
    open_days = forms.MultipleChoiceField(
        label=_("营业日"),
        choices=WEEKDAYS,
        widget=forms.CheckboxSelectMultiple,
        initial=[d for d, _l in WEEKDAYS],
    )

    FIELD_FOR = {"deposit_fen": "deposit_yuan"}

    def clean_deposit_yuan(self) -> int:
        try:
            return yuan_to_fen(self.cleaned_data["deposit_yuan"])
        except ApplicationError as exc:
            raise forms.ValidationError(
                _("保证金须是以元为单位的金额，例如 3000 或 3000.50")
            ) from exc

    def service_kwargs(self) -> dict[str, Any]:
        data = dict(self.cleaned_data)
        data["deposit_fen"] = data.pop("deposit_yuan")
        data["open_days"] = "".join(data["open_days"])
        return data


class StationEditForm(ServiceErrorFormMixin, forms.Form):
    """The details of a station that its operator and the county may change."""

    name = forms.CharField(label=_("服务站名称"), max_length=120)
    address = forms.CharField(label=_("地址"), max_length=200, required=False)
    phone = forms.CharField(
        label=_("电话"),
        max_length=20,
        required=False,
        widget=forms.TextInput(attrs={"type": "tel"}),
    )
    capabilities = forms.MultipleChoiceField(
        label=_("服务项目"),
        choices=Capability.choices,
        widget=forms.CheckboxSelectMultiple,
        required=False,
    )
    opens_at = forms.TimeField(label=_("开门时间"), widget=forms.TimeInput(attrs={"type": "time"}))
    closes_at = forms.TimeField(label=_("关门时间"), widget=forms.TimeInput(attrs={"type": "time"}))
    open_days = forms.MultipleChoiceField(
        label=_("营业日"), choices=WEEKDAYS, widget=forms.CheckboxSelectMultiple
    )
    longitude = forms.FloatField(
        label=_("经度(GCJ-02)"),
        required=False,
        help_text=_("实地测得的坐标；留空则不改"),
        widget=forms.NumberInput(attrs={"step": "0.000001"}),
    )
    latitude = forms.FloatField(
        label=_("纬度(GCJ-02)"),
        required=False,
        widget=forms.NumberInput(attrs={"step": "0.000001"}),
    )

    def __init__(self, *args: Any, can_rename: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.can_rename = can_rename
        if not can_rename:
            self.fields["name"].disabled = True

    def service_kwargs(self) -> dict[str, Any]:
        data = dict(self.cleaned_data)
        data["open_days"] = "".join(data["open_days"])
        if not self.can_rename:
            data.pop("name", None)
        if data.get("longitude") is None and data.get("latitude") is None:
            data.pop("longitude", None)
            data.pop("latitude", None)
        return data


class StationReviewForm(forms.Form):
    note = forms.CharField(label=_("审核意见"), max_length=300, required=False)


class StationActivateForm(forms.Form):
    operator_username = forms.CharField(
        label=_("站长登录名（留空则用站点编码）"), max_length=150, required=False
    )
    operator_display_name = forms.CharField(label=_("站长姓名"), max_length=80, required=False)


class StationNoteForm(forms.Form):
    note = forms.CharField(label=_("说明"), max_length=300, required=False)


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__(attrs, format="%Y-%m-%d")  # what <input type=date> takes


class StationHelperAddForm(ServiceErrorFormMixin, forms.Form):
    """A helper (淘帮手): the service checks the name, the phone and the date."""

    name = forms.CharField(label=_("姓名"), max_length=200, required=False)
    phone = forms.CharField(label=_("电话（可不填）"), max_length=40, required=False)
    started_on = forms.DateField(label=_("开始日期"), widget=DateInput())


class StationHelperEndForm(ServiceErrorFormMixin, forms.Form):
    ended_on = forms.DateField(label=_("结束日期"), widget=DateInput())
