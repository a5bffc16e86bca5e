"""Record factories for tests (our own text, written for these tests)."""

from beam_cqia.records import CqiaRecord, RawDoc, TaskType
from beam_cqia.text.ids import doc_id


def raw_doc(native_id: str, source: str = "zhihu", **fields) -> RawDoc:
    values = {
        "id": doc_id(source, native_id),
        "source": source,
        "subset": source,
        "url": f"https://example.org/{native_id}",
        "title": "",
        "question": "",
        "body": "",
        "answer": "",
        "meta": {},
        "fetched_at": "",
        "origin_file": "test.jsonl",
        "origin_offset": 0,
        "signals": {},
        "lineage": [],
    }
    values.update(fields)
    return RawDoc(**values)


def cqia_record(native_id: str, source: str = "zhihu", **fields) -> CqiaRecord:
    values = {
        "instruction": "为什么天空是蓝色的？",
        "input": "",
        "output": "因为大气分子对短波长的蓝光散射更强，所以我们看到的天空呈蓝色。",
        "task_type": TaskType(["问答"], ["知乎问答"]),
        "domain": ["通用"],
        "metadata": "",
        "answer_from": "",
        "human_verified": False,
        "copyright": "",
        "id": doc_id(source, native_id),
        "source": source,
        "subset": source,
        "template_id": "zhihu_qa.v1#1",
        "signals": {},
        "cluster_id": "",
        "lineage": [],
    }
    values.update(fields)
    return CqiaRecord(**values)
