from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from server.search_text import build_search_text, excerpt, highlight, normalise_query, pinyin_forms


def test_search_text_has_text_pinyin_and_initials() -> None:
    assert build_search_text(["劳模大讲堂"]) == "劳模大讲堂 laomodajiangtang lmdjt"


def test_secondary_text_gets_no_pinyin() -> None:
    text = build_search_text(["张三"], ["一段很长的简介"])
    assert text == "张三 zhangsan zs 一段很长的简介"


def test_mixed_text_keeps_latin_and_only_converts_han() -> None:
    assert pinyin_forms("5G 工匠") == ("gongjiang", "gj")
    assert pinyin_forms("ABC") == ("", "")


def test_query_normaliser_strips_wildcards_and_punctuation() -> None:
    assert normalise_query("  LaoMo%_  讲堂！ ") == "laomo 讲堂"
    assert normalise_query(None) == ""
    assert len(normalise_query("字" * 500)) == 40


def test_highlight_escapes_before_marking() -> None:
    assert str(highlight("<b>劳模</b>大讲堂", "劳模")) == "&lt;b&gt;<mark>劳模</mark>&lt;/b&gt;大讲堂"
    assert str(highlight("AbC", "b")) == "A<mark>b</mark>C"


@given(st.text(max_size=60), st.text(max_size=8))
def test_highlight_never_emits_raw_markup(text: str, query: str) -> None:
    out = str(highlight(text, normalise_query(query)))
    assert "<" not in out.replace("<mark>", "").replace("</mark>", "")


def test_excerpt_centres_on_the_match() -> None:
    text = "甲" * 200 + "劳模" + "乙" * 200
    assert "劳模" in excerpt(text, "劳模")
    assert excerpt("短文本", "x") == "短文本"
