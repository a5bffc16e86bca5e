"""The domain mapper: subject, department and category tables, keyword rules, mapping files."""

import json

import pytest

from beam_cqia.sources import cmmlu, gaokao
from beam_cqia.text.domains import (
    NO_MATCH,
    DomainMapper,
    load_mapping,
    normalize_key,
    parse_mapping,
    unique,
)


@pytest.fixture(scope="module")
def mapper() -> DomainMapper:
    return DomainMapper.from_file()


@pytest.mark.parametrize(
    ("values", "domains", "rule"),
    [
        (["高中物理"], ["物理"], "subject:高中物理"),
        (["high_school_physics"], ["物理"], "subject:high_school_physics"),
        (["High-School Physics"], ["物理"], "subject:High-School Physics"),
        (["  高中化学 "], ["化学"], "subject:高中化学"),
        (["初中物理"], ["物理"], "subject:初中物理"),  # level prefix stripped
        (["Political_Science"], ["政治"], "subject:Political_Science"),
        (["中医中药"], ["中医学"], "subject:中医中药"),
        (["化学（农学类）"], ["化学（农学类）"], "subject:化学（农学类）"),
        (["历史"], ["历史"], "subject:历史"),
        (["消化科"], ["医疗", "消化科"], "department:消化科"),
        (["医疗", "消化科"], ["医疗", "消化科"], "subject:医疗+department:消化科"),
        (["病症"], ["医疗", "病症"], "category:病症"),
        (["文综"], ["历史", "地理", "政治"], "subject:文综"),
    ],
)
def test_tables_map_subjects_departments_and_categories(mapper, values, domains, rule):
    assert mapper.map_values(values) == (domains, rule, 1.0)


@pytest.mark.parametrize("values", [[], [""], ["javascript"], ["百科"], ["通用"], ["高中"]])
def test_unknown_values_place_nothing(mapper, values):
    assert mapper.map_values(values) == NO_MATCH


def test_keep_unknown_keeps_free_form_values_in_place(mapper):
    match = mapper.map_values(["百科", "高中生物", "vue.js"], keep_unknown=True)
    assert match.domains == ["百科", "生物", "vue.js"]
    assert match.rule == "subject:高中生物"


def test_every_cmmlu_and_gaokao_subject_is_mapped(mapper):
    names = [*cmmlu.SUBJECTS, *cmmlu.SUBJECTS.values(), *gaokao.SUBJECTS, *gaokao.SUBJECTS.values()]
    missing = [name for name in names if mapper.lookup(name) is None]
    assert missing == []
    assert len(cmmlu.SUBJECTS) == 67
    # The English id and the Chinese name of a CMMLU subject agree.
    disagree = {
        en: (mapper.lookup(en), mapper.lookup(zh))
        for en, zh in cmmlu.SUBJECTS.items()
        if mapper.lookup(en) != mapper.lookup(zh)
    }
    assert disagree == {}


@pytest.mark.parametrize(
    ("text", "domain"),
    [
        ("已知函数f(x)的导数为2x，求该函数在区间上的最小值。", "数学"),
        ("物体做自由落体运动，求它落地时的动能和加速度。", "物理"),
        ("写出该氧化还原反应的化学方程式，并指出氧化剂和还原剂。", "化学"),
        ("减数分裂过程中，同源染色体上的等位基因会分离。", "生物"),
        ("鸦片战争之后，清朝开始了洋务运动。", "历史"),
        ("该地区受季风影响，夏季降水多，气温高。", "地理"),
        ("原告向法院提起诉讼，要求被告承担违约责任。", "法律"),
        ("患者咳嗽发热三天，医生诊断为上呼吸道感染，建议服用药物。", "医疗"),
        ("央行调整利率后，股票和债券的收益率都有变化。", "金融"),
        ("我的Python代码报错了，数组越界，怎么调试？", "计算机"),
        ("这首古诗运用了比喻和拟人的修辞，意境深远。", "语文"),
    ],
)
def test_keyword_rules_place_texts(mapper, text, domain):
    match = mapper.map_text(text)
    assert match.domains == [domain]
    assert match.rule.startswith(f"keyword:{domain}[")
    assert 0.0 < match.confidence <= 1.0


def test_keyword_rules_need_enough_hits_and_a_clear_winner(mapper):
    assert mapper.map_text("今天天气很好，我们去公园散步吧。") == NO_MATCH
    assert mapper.map_text("这个函数怎么写？") == NO_MATCH  # one hit is not enough
    tie = DomainMapper({"keywords": {"甲": ["苹果", "香蕉"], "乙": ["火车", "飞机"]}})
    assert tie.map_text("苹果香蕉火车飞机") == NO_MATCH
    assert tie.map_text("苹果香蕉火车").domains == ["甲"]
    assert tie.map_text("苹果香蕉火车").confidence == pytest.approx(2 / 3)


def test_keywords_count_distinct_longest_matches(mapper):
    # 心理学 is one hit, not also 心理; repeated words count once.
    assert mapper.keyword_hits("心理学心理学")["心理学"] == ["心理学"]
    small = DomainMapper({"keywords": {"计算机": ["git", "c++", "代码"]}})
    assert small.keyword_hits("digital gitlab") == {}  # ASCII keywords need word boundaries
    assert small.keyword_hits("用Git管理C++代码") == {"计算机": ["git", "c++", "代码"]}


def test_mapping_is_deterministic_and_independent_of_input_order(mapper):
    text = "患者的病因与遗传基因和细胞突变有关，医生建议手术治疗。"
    first = mapper.map_text(text)
    assert all(mapper.map_text(text) == first for _ in range(3))
    reordered = DomainMapper(
        {**load_mapping(), "keywords": dict(reversed(load_mapping()["keywords"].items()))}
    )
    assert reordered.map_text(text).domains == first.domains


def test_map_record_prefers_tables_then_keywords(mapper):
    text = "鸦片战争之后，清朝开始了洋务运动。"
    assert mapper.map_record(["高中物理"], text).domains == ["物理"]
    assert mapper.map_record(["通用"], text, "", "").rule.startswith("keyword:历史")
    assert mapper.map_record([], "", "", "") == NO_MATCH


def test_keyword_max_chars_limits_the_text_read():
    small = DomainMapper(
        {"keywords": {"体育": ["足球", "篮球"]}, "keyword_min_hits": 2, "keyword_max_chars": 10}
    )
    assert small.map_text("足球篮球").domains == ["体育"]
    assert small.map_text("。" * 10 + "足球篮球") == NO_MATCH


def test_a_json_mapping_file_can_replace_the_packaged_one(tmp_path):
    path = tmp_path / "mine.json"
    path.write_text(
        json.dumps(
            {"subjects": {"机器人学": ["工程"]}, "departments": ["牙科"]}, ensure_ascii=False
        ),
        encoding="utf-8",
    )
    mine = DomainMapper.from_file(path)
    assert mine.map_values(["机器人学"]).domains == ["工程"]
    assert mine.map_values(["牙科"]).domains == ["医疗", "牙科"]
    assert mine.map_values(["高中物理"]) == NO_MATCH
    assert mine.map_text("足球篮球比赛") == NO_MATCH


@pytest.mark.parametrize(
    ("mapping", "message"),
    [
        ([], "must be a mapping"),
        ({"subject": {}}, "unknown keys"),
        ({"subjects": ["数学"]}, "subjects must map"),
        ({"subjects": {"数学": "数学"}}, r"subjects\.数学 must be a list"),
        ({"subjects": {"数学": [""]}}, "non-empty strings"),
        ({"departments": "内科"}, "departments must be a list"),
        ({"keywords": {"数学": [1]}}, r"keywords\.数学"),
        ({"keyword_min_hits": 0}, "keyword_min_hits must be a positive integer"),
        ({"subjects": {"内科": ["内科"]}, "departments": ["内科"]}, "maps to"),
    ],
)
def test_bad_mappings_are_rejected(mapping, message):
    with pytest.raises(ValueError, match=message):
        DomainMapper(mapping)


def test_parse_mapping_rejects_non_mappings():
    with pytest.raises(ValueError, match="top level"):
        parse_mapping("- a\n- b\n")
    with pytest.raises(ValueError, match="not YAML"):
        parse_mapping("a: [b\n")


def test_helpers():
    assert normalize_key(" High School-Physics ") == "high_school_physics"
    assert unique(["a", "b", "a"]) == ["a", "b"]
