"""Tests for the instruct adapter (alpaca and COIG-CQIA records) and cqia_passthrough.v1."""

import json
from pathlib import Path

import pytest

from beam_cqia import prompts
from beam_cqia.records import RawDoc, published_dict
from beam_cqia.sources import Origin, Reject, instruct
from beam_cqia.text.ids import content_id
from beam_cqia.transforms.rebuild import _RenderFn
from beam_cqia.transforms.tagging import tag_record

ORIGIN = Origin("coig-cqia/wiki/tea.jsonl", 2048, "cqia_wiki", "2024-03-01T08:00:00Z")
CORPORA = Path(__file__).resolve().parents[2].parent / "shared" / "corpora"

CQIA = {
    "instruction": "绿茶和红茶有什么区别？",
    "input": "",
    "output": "绿茶不发酵，保留了鲜叶的天然成分；红茶是全发酵茶，茶多酚氧化较多，口感醇厚。",
    "task_type": {"major": ["问答"], "minor": ["百科问答", "茶学"]},
    "domain": ["百科", "饮食", "茶"],
    "metadata": "qid:1001, aid:2002, tag:['茶', '饮品']",
    "answer_from": "expert",
    "human_verified": False,
    "copyright": "茶学专家张老师",
}

CQIA_META = {
    "shape": "cqia",
    "task_type": '{"major": ["问答"], "minor": ["百科问答", "茶学"]}',
    "domain": '["百科", "饮食", "茶"]',
    "answer_from": "expert",
    "human_verified": "false",
    "copyright": "茶学专家张老师",
    "metadata": "qid:1001, aid:2002, tag:['茶', '饮品']",
    "qid": "1001",
    "aid": "2002",
    "tag": "['茶', '饮品']",
}


def adapt_one(obj: object) -> RawDoc:
    docs = list(instruct.adapt(obj, ORIGIN))
    assert len(docs) == 1
    return docs[0]


def test_cqia_record():
    assert adapt_one(CQIA) == RawDoc(
        id=content_id("instruct", CQIA["instruction"], "", CQIA["output"]),
        source="instruct",
        subset="cqia_wiki",
        url="",
        title="",
        question=CQIA["instruction"],
        body="",
        answer=CQIA["output"],
        meta=CQIA_META,
        fetched_at="2024-03-01T08:00:00Z",
        origin_file="coig-cqia/wiki/tea.jsonl",
        origin_offset=2048,
        signals={},
        lineage=[],
    )


def test_alpaca_record():
    obj = {
        "instruction": "把下面的句子翻译成英文。",
        "input": "我喜欢喝茶。",
        "output": "I like drinking tea.",
        "system": "你是一名翻译。",
        "history": [["你好", "你好！有什么可以帮你？"]],
        "category": "翻译",
        "id": 17,
        "score": None,
    }
    history = '[["你好", "你好！有什么可以帮你？"]]'
    assert adapt_one(obj) == RawDoc(
        id=content_id(
            "instruct",
            "把下面的句子翻译成英文。",
            "我喜欢喝茶。",
            "I like drinking tea.",
            "你是一名翻译。",
            history,
        ),
        source="instruct",
        subset="cqia_wiki",
        url="",
        title="",
        question="把下面的句子翻译成英文。",
        body="我喜欢喝茶。",
        answer="I like drinking tea.",
        meta={
            "system": "你是一名翻译。",
            "category": "翻译",
            "id": "17",
            "shape": "alpaca",
            "history": history,
        },
        fetched_at="2024-03-01T08:00:00Z",
        origin_file="coig-cqia/wiki/tea.jsonl",
        origin_offset=2048,
        signals={},
        lineage=[],
    )


def test_minimal_alpaca_record():
    doc = adapt_one({"instruction": "写一句关于茶的诗。", "output": "一杯清茶一卷书。"})
    assert (doc.question, doc.body, doc.answer) == ("写一句关于茶的诗。", "", "一杯清茶一卷书。")
    assert doc.meta == {"shape": "alpaca", "system": ""}
    assert doc.id == content_id("instruct", "写一句关于茶的诗。", "", "一杯清茶一卷书。", "", "")


@pytest.mark.parametrize(
    ("metadata", "expected"),
    [
        (
            "qid:538, aid:2664, tag:['声音', '女孩']",
            {"qid": "538", "aid": "2664", "tag": "['声音', '女孩']"},
        ),
        ("qid:538, aid:2664, tag:[]", {"qid": "538", "aid": "2664", "tag": "[]"}),
        ("qid:538, aid:2664", {"qid": "538", "aid": "2664"}),
        ("year:2022, score:2.5", {"year": "2022", "score": "2.5"}),
        ("year:2007, type:非法学", {"year": "2007", "type": "非法学"}),
        ("暂无元数据信息", {}),
        ("", {}),
        ("score:2, year:2022", {}),  # another order would not come back the same
        ("qid:1, qid:2", {}),
        ("qid:", {}),
        ("source:知乎", {}),
        # Not split without the space, but it comes back the same, which is what counts.
        ("qid:1,aid:2", {"qid": "1,aid:2"}),
    ],
)
def test_parse_metadata(metadata, expected):
    assert instruct.parse_metadata(metadata) == expected


@pytest.mark.parametrize(
    ("obj", "reason"),
    [
        ({**CQIA, "instruction": " \n"}, "empty_instruction"),
        ({**CQIA, "output": ""}, "empty_output"),
        ({"instruction": "", "output": "好"}, "empty_instruction"),
        ({"instruction": "写诗", "input": "茶", "output": "\u3000"}, "empty_output"),
    ],
)
def test_rejections(obj, reason):
    with pytest.raises(Reject) as info:
        adapt_one(obj)
    assert info.value.reason == reason


@pytest.mark.parametrize(
    ("obj", "message"),
    [
        ({**CQIA, "human_verified": "false"}, "human_verified must be a bool"),
        ({**CQIA, "domain": "百科"}, "domain must be a list of strings"),
        ({**CQIA, "task_type": {"major": "问答", "minor": []}}, "task_type.major must be a list"),
        ({**CQIA, "metadata": None}, "metadata must be a string"),
        ({"instruction": "写诗"}, "not an instruction record"),
        ({"prompt": "写诗", "response": "好"}, "not an instruction record"),
        ({"instruction": "写诗", "output": ["好"]}, "field 'output' must be a string"),
        ({"instruction": "写诗", "output": "好", "history": [["你好"]]}, "field 'history'"),
        ({"instruction": "写诗", "output": "好", "history": "你好"}, "field 'history'"),
        ([CQIA], "expected a JSON object"),
    ],
)
def test_malformed_records(obj, message):
    with pytest.raises(ValueError, match=message):
        adapt_one(obj)


# --- cqia_passthrough.v1 ---------------------------------------------------------------------


def passthrough(obj: dict, render_fn: _RenderFn, doc: RawDoc | None = None) -> dict:
    """A published record through the adapter, RebuildFromTemplate's DoFn and TagSchema."""
    record = next(render_fn.process(doc or adapt_one(obj)))
    return published_dict(tag_record(record, {}))


@pytest.fixture(scope="module")
def render_fn() -> _RenderFn:
    fn = _RenderFn(
        "Rebuild",
        "RebuildFromTemplate",
        prompts.packaged_sources(),
        {"cqia_wiki": "cqia_passthrough.v1"},
    )
    fn.setup()
    return fn


def test_passthrough_template_carries_every_published_label():
    text, _ = prompts.packaged_sources()["cqia_passthrough.v1"]
    for key in ("task_type", "domain", "metadata", "copyright", "answer_from", "human_verified"):
        assert f'{key}: "{{{{ meta.{key} }}}}"' in text, key
    assert "strip: false" in text


@pytest.mark.parametrize(
    "obj",
    [
        CQIA,
        {**CQIA, "metadata": "暂无元数据信息", "copyright": "暂无版权及作者信息"},
        {**CQIA, "metadata": "year:2021, score:3", "input": "（材料）茶的起源。"},
        {**CQIA, "task_type": {"major": ["分类", "意图检测"], "minor": ["意图检测"]}},
        {**CQIA, "domain": [f"领域{i}" for i in range(9)]},  # any number of labels
        {**CQIA, "metadata": "来源：某网站; 整理：某人"},  # not in k:v form: kept verbatim
        {**CQIA, "answer_from": "", "human_verified": True},  # finance_coig_pc style
    ],
)
def test_passthrough_restores_the_published_record(render_fn, obj):
    assert passthrough(obj, render_fn) == obj


def test_passthrough_keeps_answer_from_and_human_verified_in_meta():
    meta = adapt_one({**CQIA, "answer_from": "llm", "human_verified": True}).meta
    assert (meta["answer_from"], meta["human_verified"]) == ("llm", "true")


def test_passthrough_restores_the_published_record_exactly(render_fn):
    obj = {**CQIA, "output": CQIA["output"] + "\n", "answer_from": "expert"}
    assert passthrough(obj, render_fn) == obj


@pytest.mark.corpora
def test_passthrough_on_every_coig_cqia_record(render_fn):
    root = CORPORA / "coig-cqia"
    if not root.is_dir():
        pytest.skip(f"real corpora not found at {root}; this test needs ../shared/corpora")
    checked = 0
    for path in sorted(root.rglob("*.jsonl")):
        with path.open("rb") as fh:  # split on b"\n" only: xhs.jsonl has U+2028 in strings
            for n, line in enumerate(fh, start=1):
                if not line.strip():
                    continue
                obj = json.loads(line)
                doc = adapt_one(obj)
                rebuilt = passthrough(obj, render_fn, doc)
                where = f"{path.relative_to(root)}:{n}"
                assert rebuilt == obj, where
                checked += 1
    assert checked == 17971
