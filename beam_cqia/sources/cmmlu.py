"""CMMLU: Chinese multiple-choice questions in 67 subjects, one CSV file per subject and split.

Raw shape: a CSV row (``dev/<subject>.csv``, ``test/<subject>.csv``; header
``,Question,A,B,C,D,Answer``, the unnamed first column a 0-based row index)::

    {"": "0", "Question": "在农业生产中……基本生产资料是", "A": "农业生产工具", "B": "土地",
     "C": "劳动力", "D": "资金", "Answer": "B"}

Mapping to RawDoc (the layout of :mod:`beam_cqia.sources.exam`): ``question`` is the question
followed by the lines ``A. ...`` to ``D. ...``; ``answer`` the letter; no analysis (``body`` "").
The subject comes from the file name and is mapped to a Chinese subject name (:data:`SUBJECTS`),
which the templates use as the domain; the split from the parent folder. ``meta``: qid
(``<split>/<subject>/<row index>``), exam (""; CMMLU gathers questions from many exams and
books), year (""), subject, subject_en, split, type (单项选择题: one correct option of four) and
level (中学考试 for the high-school subjects, "" otherwise, so that ``exam_question.v1`` labels
only those as 中学考试).

Rejections: ``empty_question``, ``empty_option``, ``answer_not_in_options`` (none occur in the
real files). A file name that is not a CMMLU subject or a row without the columns is an error.
"""

from collections.abc import Iterator, Mapping
from pathlib import PurePosixPath
from typing import Any

from beam_cqia.records import RawDoc
from beam_cqia.sources._exam_layout import exam_doc, with_options
from beam_cqia.sources.base import Origin, Reject, get_str, require_mapping
from beam_cqia.text.ids import doc_id

SOURCE = "cmmlu"

REAL_DATA = [
    {"path": "cmmlu/dev/*.csv", "format": "csv", "expect": {"errors": 0, "rejected": {}}},
    {"path": "cmmlu/test/*.csv", "format": "csv", "expect": {"errors": 0, "rejected": {}}},
]

# CMMLU's 67 subjects (file names) and their Chinese names.
SUBJECTS = {
    "agronomy": "农学",
    "anatomy": "解剖学",
    "ancient_chinese": "古汉语",
    "arts": "艺术学",
    "astronomy": "天文学",
    "business_ethics": "商业伦理",
    "chinese_civil_service_exam": "中国公务员考试",
    "chinese_driving_rule": "中国驾驶规则",
    "chinese_food_culture": "中国饮食文化",
    "chinese_foreign_policy": "中国外交政策",
    "chinese_history": "中国历史",
    "chinese_literature": "中国文学",
    "chinese_teacher_qualification": "中国教师资格",
    "clinical_knowledge": "临床知识",
    "college_actuarial_science": "大学精算学",
    "college_education": "大学教育学",
    "college_engineering_hydrology": "大学工程水文学",
    "college_law": "大学法律",
    "college_mathematics": "大学数学",
    "college_medical_statistics": "大学医学统计",
    "college_medicine": "大学医学",
    "computer_science": "计算机科学",
    "computer_security": "计算机安全",
    "conceptual_physics": "概念物理学",
    "construction_project_management": "建设工程管理",
    "economics": "经济学",
    "education": "教育学",
    "electrical_engineering": "电气工程",
    "elementary_chinese": "小学语文",
    "elementary_commonsense": "小学常识",
    "elementary_information_and_technology": "小学信息技术",
    "elementary_mathematics": "初等数学",
    "ethnology": "民族学",
    "food_science": "食品科学",
    "genetics": "遗传学",
    "global_facts": "全球事实",
    "high_school_biology": "高中生物",
    "high_school_chemistry": "高中化学",
    "high_school_geography": "高中地理",
    "high_school_mathematics": "高中数学",
    "high_school_physics": "高中物理",
    "high_school_politics": "高中政治",
    "human_sexuality": "人类性行为",
    "international_law": "国际法学",
    "journalism": "新闻学",
    "jurisprudence": "法理学",
    "legal_and_moral_basis": "法律与道德基础",
    "logical": "逻辑学",
    "machine_learning": "机器学习",
    "management": "管理学",
    "marketing": "市场营销",
    "marxist_theory": "马克思主义理论",
    "modern_chinese": "现代汉语",
    "nutrition": "营养学",
    "philosophy": "哲学",
    "professional_accounting": "专业会计",
    "professional_law": "专业法学",
    "professional_medicine": "专业医学",
    "professional_psychology": "专业心理学",
    "public_relations": "公共关系",
    "security_study": "安全研究",
    "sociology": "社会学",
    "sports_science": "体育学",
    "traditional_chinese_medicine": "中医中药",
    "virology": "病毒学",
    "world_history": "世界历史",
    "world_religions": "世界宗教",
}
OPTION_LETTERS = "ABCD"


def subject_of(path: str) -> tuple[str, str, str]:
    """The split, the English subject and its Chinese name from a CMMLU file path.

    ``.../test/high_school_biology.csv`` → ``("test", "high_school_biology", "高中生物")``.

    Raises:
        ValueError: when the file name is not one of CMMLU's 67 subjects.
    """
    parts = PurePosixPath(path.replace("\\", "/"))
    english = parts.name.split(".", 1)[0]
    if english not in SUBJECTS:
        raise ValueError(f"{parts.name!r} is not a CMMLU subject file (<subject>.csv)")
    return parts.parent.name, english, SUBJECTS[english]


def adapt(obj: Mapping[str, Any], origin: Origin) -> Iterator[RawDoc]:
    """Turns one CMMLU row into one RawDoc.

    Raises:
        Reject: ``empty_question``, ``empty_option`` or ``answer_not_in_options``.
        ValueError: when a column is missing or the file is not a CMMLU subject.
    """
    row = require_mapping(obj)
    split, english, subject = subject_of(origin.file)
    question = get_str(row, "Question").strip()
    options = [(letter, get_str(row, letter).strip()) for letter in OPTION_LETTERS]
    answer = get_str(row, "Answer").strip().upper()
    # The unnamed first column is the row index; without it, the row's position in the file.
    index = get_str(row, "", required=False).strip() or str(origin.offset)
    qid = f"{split}/{english}/{index}"
    if not question:
        raise Reject("empty_question", f"question {qid} has no text")
    empty = [letter for letter, text in options if not text]
    if empty:
        raise Reject("empty_option", f"question {qid}: options {empty} are empty")
    if len(answer) != 1 or answer not in OPTION_LETTERS:
        raise Reject("answer_not_in_options", f"question {qid}: answer {answer!r} is not A-D")
    yield exam_doc(
        SOURCE,
        doc_id(SOURCE, qid),
        origin,
        question=with_options(question, options),
        answer=answer,
        body="",
        meta={
            "qid": qid,
            "exam": "",
            "year": "",
            "subject": subject,
            "subject_en": english,
            "split": split,
            "type": "单项选择题",
            "level": "中学考试" if english.startswith("high_school_") else "",
        },
    )
