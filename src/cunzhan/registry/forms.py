"""Forms of the registry pages. They parse input; the rules live in ``services``."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from cunzhan.registry.models import ConsentMethod, ConsentPurpose, PovertyCause, Relation, Sex

FIELD_MAP = {"village": "village_code", "number": "number", "address": "address"}


class HouseholdFilterForm(forms.Form):
    region = forms.CharField(
        label=_("地区（名称或代码）"),
        required=False,
        max_length=40,
        widget=forms.TextInput(
            attrs={
                "autocomplete": "off",
                "list": "region-options",
                "placeholder": _("如 玉舍 或 520204"),
            }
        ),
    )
    q = forms.CharField(label=_("姓名/户编号/地址"), required=False, max_length=40)
    poor = forms.BooleanField(label=_("仅建档立卡户"), required=False)

    def clean_region(self) -> str:
        text = " ".join(self.cleaned_data["region"].split())
        if "\x00" in text:
            raise forms.ValidationError(_("地区名称含有无效字符"))
        return text


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


class PersonEditForm(PersonCreateForm):
    """Edit a member; an empty ID number keeps the number on record."""

    id_number = forms.CharField(
        label=_("身份证号（留空则保持不变）"),
        max_length=22,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )


class HouseholdEditForm(forms.Form):
    address = forms.CharField(label=_("地址"), max_length=200, required=False)


class PovertyRegisterForm(forms.Form):
    year_registered = forms.IntegerField(label=_("建档年份"), min_value=1900, max_value=2100)
    main_cause = forms.ChoiceField(label=_("主要致贫原因"), choices=PovertyCause.choices)


class PovertyExitForm(forms.Form):
    year_exited = forms.IntegerField(label=_("脱贫年份"), min_value=1900, max_value=2100)


class ConsentGrantForm(forms.Form):
    purpose = forms.ChoiceField(label=_("用途"), choices=ConsentPurpose.choices)
    method = forms.ChoiceField(label=_("方式"), choices=ConsentMethod.choices)


class ImportForm(forms.Form):
    file = forms.FileField(label=_("CSV 或 XLSX 文件"))
