"""Tests for the medical adapter (beam_cqia.sources.medical), medical_qa.v1 and
medical_encyclopedia.v1."""

import copy

import pytest

from beam_cqia.prompts import TemplateRegistry, load_sources
from beam_cqia.records import RawDoc, format_metadata
from beam_cqia.sources import Origin, Reject, formats, medical
from beam_cqia.text.ids import content_id, doc_id

CSV_FILE = "/data/toyhom/sample_IM_5000-6000.gb18030.csv"
ORIGIN = Origin(CSV_FILE, 3, "medical_qa", "2024-03-01T08:00:00Z")

ROW = {
    "department": " 消化科 ",
    "title": "胃胀气吃什么药好？",
    "ask": "最近一个月饭后总是胃胀，打嗝也多，请问吃什么药比较好？",
    "answer": (
        "胃胀气多与饮食不规律有关，可以在医生指导下服用促胃动力药。&ldquo;少食多餐&rdquo;，忌生冷。"
    ),
}

PAGE = {
    "page_id": "bkmy-1024",
    "url": "https://wiki.example.com/disease/1024",
    "name": " 胃炎 ",
    "kind": "disease",
    "department": ["消化内科", "急诊科"],
    "aliases": ["胃黏膜炎症"],
    "sections": [
        {"heading": "病因", "text": " 幽门螺杆菌感染、长期饮酒等。 "},
        {"heading": "概述", "text": "胃炎是胃黏膜的炎症。"},
        {
            "heading": "症状",
            "html": "<p>上腹痛，<b>恶心</b>。</p><ul><li>反酸</li><li>嗳气</li></ul>",
        },
        {"heading": "胃炎的诊断", "text": "胃镜检查可以确诊。"},
        {"heading": "预防", "text": "   "},
        {"heading": "治疗", "text": "根除幽门螺杆菌，保护胃黏膜。"},
    ],
    "updated": "2023-11-02",
    "fetched_at": "2024-02-01T10:00:00Z",
}

PAGE_BODY = (
    "胃炎是胃黏膜的炎症。\n\n"
    "## 胃炎的病因\n\n幽门螺杆菌感染、长期饮酒等。\n\n"
    "## 胃炎的症状\n\n上腹痛，**恶心**。\n\n- 反酸\n- 嗳气\n\n"
    "## 胃炎的诊断\n\n胃镜检查可以确诊。\n\n"
    "## 胃炎的治疗\n\n根除幽门螺杆菌，保护胃黏膜。"
)


def adapt(obj, origin=ORIGIN):
    return list(medical.adapt(obj, origin))


def with_changes(base, **changes):
    obj = copy.deepcopy(base)
    for key, value in changes.items():
        if value is ...:
            obj.pop(key, None)
        else:
            obj[key] = value
    return obj


# --- consultation rows -----------------------------------------------------------------------


def test_consultation_row():
    (doc,) = adapt(ROW)
    answer = "胃胀气多与饮食不规律有关，可以在医生指导下服用促胃动力药。“少食多餐”，忌生冷。"
    assert doc == RawDoc(
        id=content_id("medical", "消化科", ROW["title"], ROW["ask"], answer),
        source="medical",
        subset="medical_qa",
        url="",
        title="胃胀气吃什么药好？",
        question=f"{ROW['title']}\n{ROW['ask']}",
        body="",
        answer=answer,
        meta={"department": "消化科"},
        fetched_at="2024-03-01T08:00:00Z",
        origin_file=CSV_FILE,
        origin_offset=3,
        signals={},
        lineage=[],
    )


@pytest.mark.parametrize(
    ("changes", "question"),
    [
        ({"ask": "无"}, "胃胀气吃什么药好？"),  # the site's placeholder for "no description"
        ({"ask": " 无。 "}, "胃胀气吃什么药好？"),
        ({"ask": "胃胀气吃什么药好？"}, "胃胀气吃什么药好？"),
        ({"ask": "胃胀气吃什么药好？饭后尤其明显。"}, "胃胀气吃什么药好？饭后尤其明显。"),
        ({"title": ""}, ROW["ask"]),
        ({"title": "大便&gt;3次/天正常吗"}, "大便>3次/天正常吗\n" + ROW["ask"]),
    ],
)
def test_question_from_title_and_ask(changes, question):
    (doc,) = adapt(with_changes(ROW, **changes))
    assert doc.question == question


def test_entities_only_complete_ones_are_decoded():
    answer = "HBV&ndash;DNA&lt;500拷贝/ml，A&B两项正常，&#12290;&copy 保留"
    (doc,) = adapt(with_changes(ROW, answer=answer))
    assert doc.answer == "HBV–DNA<500拷贝/ml，A&B两项正常，。&copy 保留"


def test_exact_duplicate_rows_share_an_id_and_are_left_to_dedup():
    (a,) = adapt(ROW)
    (b,) = adapt(ROW, ORIGIN._replace(offset=99))
    assert a.id == b.id
    assert a.origin_offset != b.origin_offset
    (c,) = adapt(with_changes(ROW, department="肝病科"))
    assert c.id != a.id


def test_row_without_department():
    (doc,) = adapt(with_changes(ROW, department=...))
    assert doc.meta == {"department": ""}


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"title": " ", "ask": "无"}, "empty_question"),
        ({"title": "", "ask": ""}, "empty_question"),
        ({"answer": "  \n"}, "missing_answer"),
    ],
)
def test_consultation_rejects(changes, reason):
    with pytest.raises(Reject) as info:
        adapt(with_changes(ROW, **changes))
    assert info.value.reason == reason


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"title": ...}, "missing field 'title'"),
        ({"ask": ...}, "missing field 'ask'"),
        ({"answer": ...}, "missing field 'answer'"),
        ({"answer": ["按时服药"]}, "'answer' must be a string"),
        ({"department": 3.5, "answer": {"x": 1}}, "'answer' must be a string"),
    ],
)
def test_consultation_malformed_rows(changes, message):
    with pytest.raises(ValueError, match=message):
        adapt(with_changes(ROW, **changes))


def test_unknown_shape_is_an_error():
    with pytest.raises(ValueError, match="unknown medical record"):
        adapt({"q": "胃胀怎么办", "a": "少食多餐"})
    with pytest.raises(ValueError, match="expected a JSON object"):
        adapt("消化科,胃胀,胃胀怎么办,少食多餐")


# --- consultation text files -----------------------------------------------------------------

TEXT = (
    "胃胀气吃什么药好？,最近一个月饭后总是胃胀。\n可以服用促胃动力药。\n\n\n"
    "头晕是怎么回事,无\n头晕原因很多，建议测量血压。\n\n\n"
    "便秘,多天不排便，怎么办\n多喝水，多吃蔬菜。\n\n\n"
)


def text_record(text=TEXT, path="/data/toyhom/IM_neike.gb18030.txt"):
    return {"text": text, "path": path, "encoding": "gb18030"}


def test_text_file_gives_one_doc_per_block():
    origin = ORIGIN._replace(file="/data/toyhom/IM_neike.gb18030.txt", offset=0)
    docs = adapt(text_record(), origin)
    assert [(d.title, d.question, d.answer, d.meta["department"]) for d in docs] == [
        (
            "胃胀气吃什么药好？",
            "胃胀气吃什么药好？\n最近一个月饭后总是胃胀。",
            "可以服用促胃动力药。",
            "内科",
        ),
        ("头晕是怎么回事", "头晕是怎么回事", "头晕原因很多，建议测量血压。", "内科"),
        ("便秘", "便秘\n多天不排便，怎么办", "多喝水，多吃蔬菜。", "内科"),
    ]
    assert {d.origin_file for d in docs} == {origin.file}
    assert docs[0].id == content_id(
        "medical", "内科", "胃胀气吃什么药好？", "最近一个月饭后总是胃胀。", "可以服用促胃动力药。"
    )


@pytest.mark.parametrize(
    ("path", "department"),
    [
        ("/x/Pediatric_儿科.txt", "儿科"),
        ("OAGD_fuchanke.txt", "妇产科"),
        ("gs://b/Surgical_waike.gb18030.txt", "外科"),
        ("C:\\d\\Oncology_zhongliu.txt", "肿瘤科"),
        ("/x/Andriatria_nanke.txt", "男科"),
        ("/x/notes.txt", ""),
    ],
)
def test_department_from_file_name(path, department):
    assert medical.department_of(path) == department
    (doc, *_) = adapt(text_record(path=path))
    assert doc.meta["department"] == department


def test_text_file_with_crlf_and_extra_blank_lines():
    text = "胃痛,饭后胃痛\r\n少吃辛辣。\r\n\r\n\r\n\r\n咳嗽,夜里咳嗽\r\n注意保暖。"
    docs = adapt(text_record(text))
    assert [(d.title, d.answer) for d in docs] == [("胃痛", "少吃辛辣。"), ("咳嗽", "注意保暖。")]


def test_text_file_malformed_block_is_an_error_naming_it():
    with pytest.raises(ValueError, match="block 2 has no answer line after '咳嗽,夜里咳嗽'"):
        adapt(text_record("胃痛,饭后胃痛\n少吃辛辣。\n\n\n咳嗽,夜里咳嗽\n\n\n"))


def test_text_file_rejects():
    with pytest.raises(Reject) as info:
        adapt(text_record("\n\n\n"))
    assert info.value.reason == "empty_question"
    with pytest.raises(Reject) as info:  # one unusable block rejects the file it is in
        adapt(text_record("胃痛,饭后胃痛\n少吃辛辣。\n\n\n,无\n注意保暖。"))
    assert info.value.reason == "empty_question"


# --- encyclopedia pages ----------------------------------------------------------------------


def test_encyclopedia_page():
    (doc,) = adapt(PAGE, ORIGIN._replace(subset="bkmy"))
    assert doc == RawDoc(
        id=doc_id("medical", "bkmy-1024"),
        source="medical",
        subset="bkmy",
        url="https://wiki.example.com/disease/1024",
        title="胃炎",
        question="",
        body=PAGE_BODY,
        answer="",
        meta={
            "page_id": "bkmy-1024",
            "category": "疾病",
            "department": "消化内科/急诊科",
            "aliases": "胃黏膜炎症",
            "sections": "病因/概述/症状/胃炎的诊断/治疗",
            "updated": "2023-11-02",
        },
        fetched_at="2024-02-01T10:00:00Z",
        origin_file=CSV_FILE,
        origin_offset=3,
        signals={},
        lineage=[],
    )


@pytest.mark.parametrize(
    ("changes", "meta"),
    [
        (
            {"kind": "symptom", "department": "消化内科", "aliases": ...},
            {"category": "病症", "department": "消化内科", "aliases": ""},
        ),
        ({"kind": "症状"}, {"category": "病症"}),
        ({"kind": ..., "department": None, "aliases": []}, {"category": "", "department": ""}),
        ({"updated": ...}, {"updated": ""}),
    ],
)
def test_encyclopedia_page_variants(changes, meta):
    (doc,) = adapt(with_changes(PAGE, **changes))
    assert {k: doc.meta[k] for k in meta} == meta


def test_page_with_only_an_overview_or_only_sections():
    page = with_changes(PAGE, sections=[{"heading": "", "text": "胃炎很常见。"}], fetched_at=...)
    (doc,) = adapt(page)
    assert doc.body == "胃炎很常见。"
    assert doc.fetched_at == ORIGIN.fetched_at
    (doc,) = adapt(
        with_changes(PAGE, sections=[{"heading": "治疗", "html": None, "text": "休息。"}])
    )
    assert doc.body == "## 胃炎的治疗\n\n休息。"


@pytest.mark.parametrize(
    "sections",
    [[], None, [{"heading": "病因", "text": " "}, {"heading": "症状", "html": "<p> </p>"}]],
)
def test_empty_page_is_rejected(sections):
    with pytest.raises(Reject) as info:
        adapt(with_changes(PAGE, sections=sections))
    assert info.value.reason == "empty_page"
    assert "bkmy-1024" in info.value.detail


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"page_id": ...}, "missing field 'page_id'"),
        ({"name": ...}, "missing field 'name'"),
        ({"name": "  "}, "field 'name' is empty"),
        ({"kind": "drug"}, "kind must be one of"),
        ({"sections": {"病因": "感染"}}, "'sections' must be a list"),
        ({"sections": ["病因：感染"]}, r"sections\[0\] must be a JSON object"),
        ({"sections": [{"heading": "病因", "text": ["感染"]}]}, "'text' must be a string"),
        ({"sections": [{"heading": "病因", "html": ["<p>感染</p>"]}]}, "'html' must be a string"),
        ({"department": 5}, "'department' must be a list of strings"),
        ({"aliases": ["胃病", 1]}, "'aliases' must be a list of strings"),
    ],
)
def test_malformed_pages_raise_value_error(changes, message):
    with pytest.raises(ValueError, match=message):
        adapt(with_changes(PAGE, **changes))


# --- templates -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def registry():
    return TemplateRegistry.from_sources(load_sources())


def test_medical_qa_template(registry):
    (doc,) = adapt(ROW)
    rendered = registry.get("medical_qa.v1").render(doc)
    assert rendered.template_id == "medical_qa.v1#1"
    assert rendered.instruction == doc.question
    assert rendered.input == ""
    assert rendered.output == doc.answer
    assert (rendered.task_major, rendered.task_minor) == (["问答"], ["医药问答"])
    assert rendered.domain == ["医疗", "消化科"]
    assert format_metadata(doc.meta, rendered.metadata_keys) == "department:消化科"
    (no_department,) = adapt(with_changes(ROW, department=""))
    assert registry.get("medical_qa.v1").render(no_department).domain == ["医疗"]


ENCYCLOPEDIA_INSTRUCTIONS = {
    1: "请以临床医生的口吻，系统地讲讲胃炎这个疾病。",
    2: "从医学专业角度，把胃炎的来龙去脉讲清楚：是什么、为什么会出现、怎么处理。",
    3: "整理一份关于胃炎的详尽医学资料，内容要准确、条理分明。",
    4: "请给胃炎写一段专业的百科式说明。",
    5: "家里人最近出现了胃炎的情况，我想先补补相关知识，麻烦全面介绍一下。",
    6: "围绕胃炎，分病因、表现、检查、治疗和预防几方面讲一讲。",
}


@pytest.mark.parametrize("variant", [1, 2, 3, 4, 5, 6])
def test_medical_encyclopedia_template(registry, variant):
    template = registry.get("medical_encyclopedia.v1")
    (doc,) = adapt(PAGE)
    doc = doc._replace(
        id=next(f"m-{i}" for i in range(999) if template.variant_for(f"m-{i}") == variant)
    )
    rendered = template.render(doc)
    assert rendered.template_id == f"medical_encyclopedia.v1#{variant}"
    assert rendered.instruction == ENCYCLOPEDIA_INSTRUCTIONS[variant]
    assert rendered.output == PAGE_BODY
    assert (rendered.task_major, rendered.task_minor) == (["问答"], ["医药问答", "百科问答"])
    assert rendered.domain == ["医疗", "疾病"]


def test_medical_encyclopedia_template_for_symptoms(registry):
    template = registry.get("medical_encyclopedia.v1")
    (doc,) = adapt(with_changes(PAGE, name="腹胀", kind="symptom"))
    doc = doc._replace(id=next(f"m-{i}" for i in range(999) if template.variant_for(f"m-{i}") == 1))
    rendered = template.render(doc)
    assert rendered.instruction == "请以临床医生的口吻，系统地讲讲腹胀这个病症。"
    assert rendered.domain == ["医疗", "病症"]  # as COIG-CQIA's bkmy_symptom
    assert rendered.output.startswith("胃炎是胃黏膜的炎症。\n\n## 腹胀的病因\n\n")


# --- real data -------------------------------------------------------------------------------


@pytest.mark.corpora
def test_gb18030_and_utf8_copies_give_the_same_docs(corpora):
    folder = corpora / "medical-dialogue-toyhom"
    docs = {}
    for name in ("sample_IM_5000-6000.gb18030.csv", "sample_IM_5000-6000.utf8.csv"):
        path = folder / name
        with path.open("rb") as fh:  # no declared encoding: ReadCrawl's detection must read it
            units = list(formats.read_units(fh, "csv"))
        docs[name] = [
            d._replace(origin_file="")
            for u in units
            for d in medical.adapt(
                formats.parse(u.payload, "csv", str(path)), Origin(str(path), u.offset, "m")
            )
        ]
    gb, utf8 = docs.values()
    assert len(gb) == 7644
    assert gb == utf8
    assert len({d.id for d in gb}) == 7644 - 378  # exact duplicate rows share their id
