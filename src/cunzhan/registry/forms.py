"""Forms of the registry pages. They parse input; the rules live in ``services``."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from cunzhan.registry.models import Relation, Sex

FIELD_MAP = {"village": "village_code", "number": "number", "address": "address"}


class HouseholdFilterForm(forms.Form):
    region = forms.CharField(
        label=_("地区代码"),
        required=False,
        max_length=12,
        widget=forms.TextInput(attrs={"inputmode": "numeric"}),
    )
    q = forms.CharField(label=_("姓名/户编号/地址"), required=False, max_length=40)
    poor = forms.BooleanField(label=_("仅建档立卡户"), required=False)

    def clean_region(self) -> str:
        code = self.cleaned_data["region"].strip()
        if code and not code.isdigit():
            raise forms.ValidationError(_("地区代码只能是数字"))
        return code


class HouseholdCreateForm(forms.Form):
    village_code = forms.CharField(
        label=_("村代码（12位）"),
        max_length=12,
        min_length=12,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
    )
    number = forms.CharField(label=_("户编号（留空自动编号）"), max_length=20, required=False)
    address = forms.CharField(label=_("地址"), max_length=200, required=False)


class PersonCreateForm(forms.Form):
    name = forms.CharField(label=_("姓名"), max_length=40)
    sex = forms.ChoiceField(label=_("性别"), choices=Sex.choices)
    relation = forms.ChoiceField(label=_("与户主关系"), choices=Relation.choices)
    birth_year = forms.IntegerField(
        label=_("出生年份（有身份证号时可留空）"), required=False, min_value=1900, max_value=2100
    )
    phone = forms.CharField(
        label=_("电话"),
        max_length=20,
        required=False,
        widget=forms.TextInput(attrs={"type": "tel"}),
    )
    id_number = forms.CharField(
        label=_("身份证号"),
        max_length=22,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )


class ImportForm(forms.Form):
    file = forms.FileField(label=_("CSV 或 XLSX 文件"))
