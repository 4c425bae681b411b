"""Forms of the commerce pages (phone-first: big inputs, numeric keyboards)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy

from cunzhan.commerce.models import ProducerKind, Unit
from cunzhan.core.errors import ApplicationError
from cunzhan.core.validation import is_ascii_digits


class ServiceErrorsMixin:
    FIELD_FOR: dict[str, str] = {}

    def add_service_error(self, exc: ApplicationError) -> None:
        details = exc.details if isinstance(exc.details, dict) else {}
        field = str(details.get("field") or "")
        field = self.FIELD_FOR.get(field, field)
        fields = self.fields  # type: ignore[attr-defined]
        self.add_error(field if field in fields else None, exc.message)  # type: ignore[attr-defined]


TEL = {"inputmode": "tel", "autocomplete": "off"}
NUM = {"inputmode": "numeric"}


class ProducerForm(ServiceErrorsMixin, forms.Form):
    station = forms.TypedChoiceField(label=gettext_lazy("服务站"), coerce=int)
    kind = forms.ChoiceField(label=gettext_lazy("类型"), choices=ProducerKind.choices)
    name = forms.CharField(label=gettext_lazy("姓名或名称"), max_length=80)
    phone = forms.CharField(
        label=gettext_lazy("手机号"), max_length=20, required=False, widget=forms.TextInput(TEL)
    )
    household = forms.UUIDField(
        label=gettext_lazy("登记农户编号（农户类型）"),
        required=False,
        help_text=gettext_lazy("建档立卡系统中的农户 ID"),
    )
    credit_code = forms.CharField(
        label=gettext_lazy("统一社会信用代码（合作社）"), max_length=18, required=False
    )
    members = forms.CharField(
        label=gettext_lazy("合作社成员（每行：姓名 手机号）"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )

    def __init__(self, *args: Any, stations: list[tuple[int, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["station"]
        assert isinstance(field, forms.TypedChoiceField)
        field.choices = stations

    def member_rows(self) -> list[dict[str, str]]:
        rows = []
        for line in (self.cleaned_data.get("members") or "").splitlines():
            parts = line.split()
            if not parts:
                continue
            phone = parts[-1] if len(parts) > 1 and is_ascii_digits(parts[-1][:1]) else ""
            name = " ".join(parts[:-1] if phone else parts)
            rows.append({"name": name, "phone": phone})
        return rows


class MemberForm(ServiceErrorsMixin, forms.Form):
    name = forms.CharField(label=gettext_lazy("姓名"), max_length=80, required=False)
    phone = forms.CharField(
        label=gettext_lazy("手机号"), max_length=20, required=False, widget=forms.TextInput(TEL)
    )
    household = forms.UUIDField(label=gettext_lazy("登记农户 ID"), required=False)


class LotForm(ServiceErrorsMixin, forms.Form):
    producer = forms.ChoiceField(label=gettext_lazy("生产者"))
    product = forms.ChoiceField(label=gettext_lazy("产品"))
    harvest_date = forms.DateField(
        label=gettext_lazy("采收日期"), widget=forms.DateInput(attrs={"type": "date"})
    )
    quantity = forms.IntegerField(
        label=gettext_lazy("数量"),
        help_text=gettext_lazy("整数，按所选单位"),
        widget=forms.NumberInput(NUM),
    )
    unit = forms.ChoiceField(
        label=gettext_lazy("单位"),
        required=False,
        choices=[("", gettext_lazy("产品默认单位")), *Unit.choices],
    )
    note = forms.CharField(label=gettext_lazy("备注"), max_length=200, required=False)

    def __init__(
        self,
        *args: Any,
        producers: list[tuple[str, str]],
        products: list[tuple[str, str]],
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.fields["producer"].choices = producers  # type: ignore[attr-defined]
        self.fields["product"].choices = products  # type: ignore[attr-defined]


class PriceForm(ServiceErrorsMixin, forms.Form):
    county = forms.ChoiceField(label=gettext_lazy("县"))
    grade = forms.TypedChoiceField(label=gettext_lazy("产品与等级"), coerce=int)
    price_yuan = forms.DecimalField(
        label=gettext_lazy("单价（元）"),
        max_digits=10,
        decimal_places=2,
        widget=forms.NumberInput(attrs={"inputmode": "decimal", "step": "0.01"}),
    )
    unit = forms.ChoiceField(
        label=gettext_lazy("单位"),
        required=False,
        choices=[("", gettext_lazy("产品默认单位")), *Unit.choices],
    )
    valid_from = forms.DateTimeField(
        label=gettext_lazy("生效时间"),
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
        help_text=gettext_lazy("留空：立即生效"),
    )
    FIELD_FOR = {"price_fen": "price_yuan", "county_code": "county"}

    def __init__(
        self, *args: Any, counties: list[tuple[str, str]], grades: list[Any], **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.fields["county"].choices = counties  # type: ignore[attr-defined]
        self.fields["grade"].choices = grades  # type: ignore[attr-defined]
