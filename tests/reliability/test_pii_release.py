"""No phone number, ID-card number or e-mail address leaves in a release: crawl records full of
personal data (in titles, question details, answers, topics and author names; plain, full-width,
split by runs of spaces or no-break spaces) go through the demo spec and pipelines/release.yaml,
and every released file (Parquet data, COIG-CQIA JSON lines, chat JSON lines) is searched with
detectors written independently of beam_cqia.text.pii."""

import json
import re
import shutil
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from beam_cqia import cli
from tests.conftest import REPO

DEMO = REPO / "beam_cqia" / "demo" / "data"
RELEASE = REPO / "pipelines" / "release.yaml"

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def id_number(area: str, birth: str, seq: str) -> str:
    """A resident ID number with a valid checksum (GB 11643)."""
    body = area + birth + seq
    return (
        body + "10X98765432"[sum(int(d) * w for d, w in zip(body, _ID_WEIGHTS, strict=True)) % 11]
    )


PERSONAL = {
    "mobile": ["13812345678", "+86 139 1234 5678", "150-0000-1234", "１８６１２３４５６７８"],
    "split": ["138\u00a01234\u00a05678", "136  1234  5678", "135 1234\u3000\u30005678"],
    "id_card": [id_number("110101", "19900307", "001"), id_number("440305", "19851231", "123")],
    "email": ["zhang.san@example.com", "li_si+crawl@mail.example.cn", "王五wangwu@qq.com"],
}

# Independent detectors: 11-digit mainland mobile numbers with at most one space or hyphen
# between groups, 18-character ID numbers with a valid checksum, e-mail addresses.
MOBILE = re.compile(r"(?<![0-9])1[3-9][0-9](?:[ \-\u00a0]?[0-9]{4}){2}(?![0-9])")
ID_LIKE = re.compile(r"(?<![0-9A-Za-z])[1-9][0-9]{16}[0-9Xx](?![0-9A-Za-z])")
EMAIL = re.compile(
    r"(?<![A-Za-z0-9._%+\-])[A-Za-z0-9][A-Za-z0-9._%+\-]*@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*"
    r"\.[A-Za-z]{2,}"
)


def leaks(text: str) -> list[str]:
    found = MOBILE.findall(text) + EMAIL.findall(text)
    for candidate in ID_LIKE.findall(text):
        body = candidate[:17]
        check = "10X98765432"[sum(int(d) * w for d, w in zip(body, _ID_WEIGHTS, strict=True)) % 11]
        if check == candidate[17].upper():
            found.append(candidate)
    return found


def threads() -> list[dict]:
    items = [v for values in PERSONAL.values() for v in values]
    answer = (
        "先说结论：这个问题要分情况讨论，下面分三点展开，每一点都给出具体的理由和例子。"
        "第一，大多数情况下先观察再处理，不要急于下结论；第二，记录每天的变化，便于对比；"
        "第三，如果一周内没有改善，就换一种方法再试。"
    )
    out = []
    for i, item in enumerate(items):
        out.append(
            {
                "question_id": f"99{i:07d}",
                "url": f"https://www.zhihu.com/question/99{i:07d}",
                "title": f"有问题请联系{item}，怎样处理第{i}种情况？",
                "detail": f"我的联系方式是 {item} ，急。",
                "topics": ["生活", f"联系{item}"],
                "answers": [
                    {
                        "answer_id": f"88{i:08d}",
                        "author": f"答主{item}",
                        "voteup_count": 50 + i,
                        "content": f"第{i}个回答。{answer}\n\n有疑问可以打 {item} 或者发邮件。"
                        + answer,
                    }
                ],
            }
        )
    return out


@pytest.fixture(scope="module")
def release(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("pii")
    data = root / "crawl"
    shutil.copytree(DEMO, data)
    lines = "".join(json.dumps(t, ensure_ascii=False) + "\n" for t in threads())
    (data / "zhihu" / "threads-pii.jsonl").write_text(lines, encoding="utf-8")
    built, released = root / "built", root / "released"
    args = ["run", str(REPO / "pipelines" / "demo.yaml"), "--var", f"input={data}"]
    assert cli.main([*args, "--var", f"output={built}"]) == 0
    args = ["run", str(RELEASE), "--var", f"previous={built}", "--var", f"output={released}"]
    assert cli.main(args) == 0
    return released


def _texts(released: Path) -> dict[str, str]:
    texts = {}
    for path in sorted((released / "data").rglob("*.parquet")):
        rows = pq.read_table(path).to_pylist()
        texts[str(path.relative_to(released))] = json.dumps(rows, ensure_ascii=False, default=str)
    for path in sorted(released.rglob("*.jsonl")):
        texts[str(path.relative_to(released))] = path.read_text(encoding="utf-8")
    return texts


def test_the_fixture_is_full_of_personal_data():
    raw = json.dumps(threads(), ensure_ascii=False)
    assert len(leaks(raw)) >= 3 * len(threads())  # the detectors see it before the pipeline


def test_released_files_hold_no_phone_id_card_or_email(release):
    texts = _texts(release)
    assert any(k.startswith("jsonl/") for k in texts) and any(k.startswith("chat/") for k in texts)
    # The PII threads made it into the release (masked), so the check is not vacuous.
    released = "".join(texts.values())
    assert released.count("[手机号]") >= 4 and "[身份证号]" in released and "[邮箱]" in released
    found = {name: leaks(text) for name, text in texts.items()}
    assert {name: hits for name, hits in found.items() if hits} == {}
