"""Customers from CSV: good rows kept, every bad row reported with its line."""

from __future__ import annotations

from callcenter.customers.csv_import import parse_customers
from callcenter.customers.model import Product, phone_key


def test_numbers_match_in_one_canonical_form() -> None:
    assert phone_key("+86 138-0013-8000") == phone_key("008613800138000") == "8613800138000"
    assert phone_key("(010) 6552 9988") == "01065529988"
    assert phone_key("anonymous") == ""


def test_good_rows_become_drafts_and_bad_rows_are_reported_with_their_line() -> None:
    text = (
        "account,name,tier,phones,address,region,products\n"
        "A100,王先生,vip,+86 138 0013 8000;010-65529988,北京市朝阳区,north,"
        "FR-300:SN1:2025-03-01;WM-7\n"
        "A101,,standard,13900000000,,,\n"
        "bad account!,Li,standard,,,,\n"
        "A102,Zhao,standard,12,,,\n"
        "A100,Again,standard,,,,\n"
        'A103,"<script>alert(1)</script>",standard,13700000000,,south,\n'
    )
    drafts, problems = parse_customers(text)
    assert [d.account for d in drafts] == ["A100", "A103"]
    first = drafts[0]
    assert (first.name, first.tier, first.region) == ("王先生", "vip", "north")
    assert first.phones == ("+86 138 0013 8000", "010-65529988")
    assert first.products == (Product("FR-300", "SN1", "2025-03-01"), Product("WM-7"))
    assert drafts[1].name == "<script>alert(1)</script>"  # stored as text, escaped on display
    assert [(p.line, p.message.split(" ")[0]) for p in problems] == [
        (3, "name"),
        (4, "account"),
        (5, "phone"),
        (6, "account"),
    ]
    assert "repeats line 2" in problems[3].message


def test_an_unknown_or_missing_column_refuses_the_whole_file() -> None:
    drafts, problems = parse_customers("account,nmae\nA1,Li\n")
    assert drafts == []
    assert [str(p) for p in problems] == [
        "line 1: unknown column 'nmae'; missing column 'name' (columns: account, name, tier,"
        " phones, address, region, products)"
    ]
