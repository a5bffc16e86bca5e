"""The fastText quality classifier: training, saving, loading, scoring, evaluation and the CLI.

The training data is written here: good documents are composed from informative sentences (science,
history, how-to), bad ones from spam, gambling-SEO and abusive sentences. Held-out documents use
sentences no training document contains, so the test checks that character n-grams generalise.
"""

import gzip
import json
import random
import weakref
from pathlib import Path

import numpy as np
import pytest

from beam_cqia import cli
from beam_cqia.models import training
from beam_cqia.models.quality import (
    DEFAULT_PARAMS,
    MIN_THREADS,
    NEG_LABEL,
    POS_LABEL,
    QualityModel,
    tokenize,
    train,
)

GOOD = [
    "光合作用是植物利用光能把二氧化碳和水转化为有机物并释放氧气的过程。",
    "秦始皇统一六国后，推行郡县制，统一文字、货币和度量衡。",
    "计算机网络按覆盖范围可以分为局域网、城域网和广域网。",
    "牛顿第一定律指出，物体在不受外力作用时保持静止或匀速直线运动状态。",
    "在煮米饭之前，先把米淘洗两遍，再按一比一点二的比例加水。",
    "唐代诗人杜甫的作品反映了安史之乱前后社会的巨大变化。",
    "细胞是生物体结构和功能的基本单位，由细胞膜、细胞质和细胞核组成。",
    "长江全长约六千三百公里，是中国第一长河，流经十一个省级行政区。",
    "使用二分查找时，数组必须预先排好序，每次比较都能排除一半的元素。",
    "宋代的活字印刷术由毕昇发明，大大提高了书籍印刷的效率。",
    "地球绕太阳公转一周约需三百六十五天，自转一周约需二十四小时。",
    "写论文时应先列出提纲，明确每一部分要论证的观点和使用的材料。",
    "蛋白质由氨基酸组成，是构成人体组织和调节生理功能的重要物质。",
    "明朝郑和七次下西洋，最远到达非洲东海岸和红海沿岸。",
    "Python 中的列表推导式可以用一行代码根据已有列表生成新的列表。",
    "经济学中的边际效用递减规律说明，消费越多，每增加一单位带来的满足感越少。",
    "欧姆定律表明，导体中的电流与两端电压成正比，与电阻成反比。",
    "中医认为，春季养生应当早睡早起，多到户外活动，保持心情舒畅。",
    "汉字的构造方法传统上分为象形、指事、会意、形声、转注和假借六类。",
    "在 Linux 系统中，可以用 chmod 命令修改文件的读写和执行权限。",
    "大气中的二氧化碳浓度升高会增强温室效应，导致全球气温上升。",
    "三国时期，诸葛亮辅佐刘备建立蜀汉政权，并多次北伐曹魏。",
    "学习外语时，每天坚持听说读写的练习比考前突击更有效果。",
    "血液循环分为体循环和肺循环，心脏是推动血液流动的动力器官。",
]
BAD = [
    "加微信领取优惠券，点击链接马上免费送，名额有限先到先得！！！",
    "威尼斯人现金网网址，注册就送彩金，天天返水，百分百安全出款。",
    "你个傻X，脑子有病吧，滚回你老家去，恶心死了。",
    "兼职刷单日赚三百，不收押金，宝妈学生都可以做，私聊我。",
    "特价代开发票，各行各业均可，联系电话一三八零零零零零零零零。",
    "澳门赌场官方网站，百家乐真人荷官在线发牌，充值秒到账。",
    "看什么看，就你这种垃圾也配说话，赶紧去死吧。",
    "祖传秘方一个月包治百病，无效全额退款，快来咨询吧。",
    "点击进入福利视频，美女在线等你，不看后悔一辈子。",
    "低价出售各种账号，QQ 微信 支付宝 实名都有，量大从优。",
    "关注公众号回复关键词领取资料，转发三个群立即解锁全部内容。",
    "这些外地人都是骗子，全都不是好东西，见一个打一个。",
    "网赚项目零投入高回报，躺着月入过万，加群了解详情。",
    "彩票内部人员透露今晚必中号码，跟着买稳赚不赔。",
    "减肥神药七天瘦二十斤，不节食不运动，明星都在用。",
    "你们这帮废物，除了骂人还会干什么，丢人现眼。",
    "高仿名牌包包手表一比一复刻，支持货到付款，微信下单。",
    "贷款秒批不看征信，黑户也能下款，当天到账利息低。",
    "刷钻刷信誉刷粉丝，价格最低效果最好，全网独家。",
    "震惊！！！看完这个视频的人都哭了，赶紧转发给家人！！！",
    "棋牌游戏下载就送一百元，提现秒到，邀请好友再送。",
    "什么玩意儿，一群脑残，骂的就是你们这些键盘侠。",
    "代写论文代考四六级，包过不过退款，老师一对一服务。",
    "免费领取手机一部，只需支付邮费九块九，手慢无。",
]


def _docs(sentences: list[str], n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    return ["".join(rng.sample(sentences, rng.randint(2, 5))) for _ in range(n)]


@pytest.fixture(scope="module")
def data() -> dict[str, list[str]]:
    """Training documents from the first 16 sentences of each list, held-out ones from the rest."""
    return {
        "pos": _docs(GOOD[:16], 150, 1),
        "neg": _docs(BAD[:16], 150, 2),
        "pos_test": _docs(GOOD[16:], 40, 3),
        "neg_test": _docs(BAD[16:], 40, 4),
    }


SMALL = {"dim": 16, "bucket": 50_000, "epoch": 25, "lr": 0.2}


@pytest.fixture(scope="module")
def model_path(data, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("quality") / "quality.bin"
    train(data["pos"], data["neg"], path, **SMALL)
    return path


def test_tokenize_separates_characters_and_drops_whitespace():
    assert tokenize("你好，世界！\n第二行\tOK 1") == "你 好 ， 世 界 ！ 第 二 行 O K 1"
    assert tokenize("一二三四五", max_chars=3) == "一 二 三"
    assert tokenize("  \n ") == ""


def test_trained_model_separates_held_out_documents(data, model_path):
    model = QualityModel(model_path)
    pos, neg = model.score(data["pos_test"]), model.score(data["neg_test"])
    assert pos.shape == (40,) and pos.dtype == np.float64
    assert ((pos >= 0) & (pos <= 1)).all() and ((neg >= 0) & (neg <= 1)).all()
    labels = np.r_[np.ones(40), np.zeros(40)]
    assert training.roc_auc(labels, np.r_[pos, neg]) > 0.95
    assert training.accuracy(labels, np.r_[pos, neg]) > 0.85
    assert pos.mean() - neg.mean() > 0.5


def test_saved_model_scores_like_the_trained_one(data, tmp_path):
    trained = train(data["pos"], data["neg"], tmp_path / "m.bin", **SMALL)
    loaded = QualityModel(tmp_path / "m.bin")
    texts = data["pos_test"][:5] + data["neg_test"][:5]
    np.testing.assert_allclose(trained.score(texts), loaded.score(texts), atol=1e-6)
    assert (tmp_path / "m.bin").stat().st_size > 0


def test_score_handles_empty_batches_blank_texts_and_newlines(model_path):
    model = QualityModel(model_path)
    assert model.score([]).shape == (0,)
    blank, multi = model.score(["", "光合作用是植物\n利用光能的过程。\n\n"])
    assert 0.0 <= blank <= 1.0
    assert multi > 0.5


def test_model_is_weak_referenceable_and_shareable(model_path):
    from apache_beam.utils import shared

    handle = shared.Shared()
    first = handle.acquire(lambda: QualityModel(model_path), tag="quality-test")
    assert handle.acquire(lambda: QualityModel(model_path), tag="quality-test") is first
    assert weakref.ref(first)() is first


def test_bad_parameters_and_inputs_are_refused(data, tmp_path):
    with pytest.raises(ValueError, match="unknown fastText parameter"):
        train(data["pos"], data["neg"], tmp_path / "m.bin", epochs=3)
    with pytest.raises(ValueError, match=f"thread >= {MIN_THREADS}"):
        train(data["pos"], data["neg"], tmp_path / "m.bin", thread=1)
    with pytest.raises(ValueError, match="need positive and negative"):
        train(data["pos"], ["", "  "], tmp_path / "m.bin", **SMALL)
    with pytest.raises(FileNotFoundError):
        QualityModel(tmp_path / "missing.bin")
    assert DEFAULT_PARAMS["thread"] >= MIN_THREADS


def test_a_model_with_other_labels_is_refused(tmp_path):
    import fasttext

    src = tmp_path / "other.txt"
    lines = [f"__label__{'a' if i % 2 else 'b'} {' '.join(GOOD[i % 24])}" for i in range(60)]
    src.write_text("\n".join(lines) + "\n", encoding="utf-8")
    fasttext.train_supervised(
        input=str(src), epoch=1, dim=8, thread=MIN_THREADS, verbose=0
    ).save_model(str(tmp_path / "other.bin"))
    with pytest.raises(ValueError, match=POS_LABEL):
        QualityModel(tmp_path / "other.bin")
    assert NEG_LABEL == "__label__neg"


# --- evaluation helpers ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("labels", "scores", "expected"),
    [
        ([1, 1, 0, 0], [0.9, 0.8, 0.2, 0.1], 1.0),
        ([1, 1, 0, 0], [0.1, 0.2, 0.8, 0.9], 0.0),
        ([1, 0, 1, 0], [0.5, 0.5, 0.5, 0.5], 0.5),
        ([1, 0, 1, 0], [0.9, 0.8, 0.3, 0.1], 0.75),
        ([1, 0, 0], [0.5, 0.5, 0.1], 0.75),
    ],
)
def test_roc_auc(labels, scores, expected):
    assert training.roc_auc(labels, scores) == pytest.approx(expected)


def test_roc_auc_without_both_classes_is_nan():
    assert np.isnan(training.roc_auc([1, 1], [0.2, 0.3]))


def test_accuracy_uses_the_threshold():
    assert training.accuracy([1, 0, 1, 0], [0.9, 0.4, 0.5, 0.6]) == 0.75
    assert training.accuracy([1, 0], [0.7, 0.6], threshold=0.65) == 1.0


def test_holdout_split_is_stable_and_keeps_duplicates_together():
    texts = [f"文档{i}" for i in range(2000)] + ["重复的文档"] * 5
    train_part, held = training.split_holdout(texts, 0.2)
    assert 300 < len(held) < 500
    assert (train_part, held) == training.split_holdout(list(texts), 0.2)
    assert held.count("重复的文档") in (0, 5)
    assert training.split_holdout(texts, 0.0) == (texts, [])


def test_read_documents_from_jsonl_gzip_and_text_files(tmp_path):
    (tmp_path / "a.jsonl").write_text(
        "\n".join(
            json.dumps(r, ensure_ascii=False)
            for r in [{"output": "答案一"}, {"text": "正文二"}, {"output": ""}, {"other": "x"}]
        )
        + "\n\n",
        encoding="utf-8",
    )
    with gzip.open(tmp_path / "b.jsonl.gz", "wt", encoding="utf-8") as f:
        f.write(json.dumps({"content": "压缩的三"}, ensure_ascii=False) + "\n")
    (tmp_path / "c.txt").write_text("\ufeff第一行\n\n第二行\r\n", encoding="utf-8")
    docs, files = training.read_documents([str(tmp_path / "*.jsonl*"), str(tmp_path / "*.txt")])
    assert docs == ["答案一", "正文二", "压缩的三", "第一行", "第二行"]
    assert [Path(f).name for f in files] == ["a.jsonl", "b.jsonl.gz", "c.txt"]
    only_text, _ = training.read_documents([str(tmp_path / "a.jsonl")], fields=["text"])
    assert only_text == ["正文二"]


def test_read_documents_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="no file matches"):
        training.read_documents([str(tmp_path / "*.jsonl")])
    (tmp_path / "a.jsonl").write_text('{"title": "x"}\n', encoding="utf-8")
    with pytest.raises(ValueError, match="no documents"):
        training.read_documents([str(tmp_path / "a.jsonl")])
    (tmp_path / "b.jsonl").write_text("[1, 2]\n", encoding="utf-8")
    with pytest.raises(ValueError, match="must be an object"):
        training.read_documents([str(tmp_path / "b.jsonl")])


# --- the command -------------------------------------------------------------------------------


def _write_inputs(tmp_path: Path, data: dict[str, list[str]]) -> tuple[str, str]:
    pos_dir, neg_dir = tmp_path / "pos", tmp_path / "neg"
    pos_dir.mkdir()
    neg_dir.mkdir()
    half = len(data["pos"]) // 2
    for name, part in (("a.jsonl", data["pos"][:half]), ("b.jsonl", data["pos"][half:])):
        (pos_dir / name).write_text(
            "".join(json.dumps({"output": t}, ensure_ascii=False) + "\n" for t in part),
            encoding="utf-8",
        )
    (neg_dir / "junk.txt").write_text("\n".join(data["neg"]) + "\n", encoding="utf-8")
    return str(pos_dir / "*.jsonl"), str(neg_dir / "*.txt")


def test_train_quality_command_end_to_end(data, tmp_path, capsys):
    pos, neg = _write_inputs(tmp_path, data)
    out = tmp_path / "model" / "quality.bin"
    argv = ["train-quality", "--pos", pos, "--neg", neg, "--out", str(out)]
    argv += ["--field", "output", "--epochs", "25", "--dim", "16", "--lr", "0.2"]
    assert cli.main(argv) == 0
    printed = capsys.readouterr().out
    assert "positives: 150 documents from 2 file(s)" in printed
    assert "negatives: 150 documents from 1 file(s)" in printed
    assert "AUC" in printed and "accuracy" in printed
    auc = float(printed.split("AUC ")[1].split(",")[0])
    assert auc > 0.95
    model = QualityModel(out)
    assert model.score(data["pos_test"]).mean() > model.score(data["neg_test"]).mean() + 0.5


def test_train_quality_command_reports_bad_input(tmp_path, capsys):
    missing = str(tmp_path / "none-*.jsonl")
    argv = ["train-quality", "--pos", missing, "--neg", missing, "--out", str(tmp_path / "m")]
    assert cli.main(argv) == cli.EXIT_SPEC
    assert "no file matches" in capsys.readouterr().err
    assert cli.main([*argv, "--epocs", "3"]) == cli.EXIT_SPEC
    assert "unrecognized arguments: --epocs 3" in capsys.readouterr().err


# --- real data ---------------------------------------------------------------------------------


@pytest.mark.corpora
def test_real_good_and_bad_text_separate(corpora, tmp_path):
    import csv

    good = []
    for path in sorted((corpora / "coig-cqia").rglob("*.jsonl"))[:12]:
        good += [
            json.loads(line)["output"]
            for line in path.read_text(encoding="utf-8").split("\n")
            if line.strip()
        ][:60]
    with (corpora / "cold-offensive" / "test.csv").open(encoding="utf-8-sig", newline="") as f:
        bad = [row["TEXT"] for row in csv.DictReader(f) if row["label"] == "1"][:600]
    result = training.train_and_evaluate(good, bad, tmp_path / "real.bin", holdout=0.25, **SMALL)
    assert result.n_test_pos > 50 and result.n_test_neg > 50
    assert result.auc > 0.97


def test_a_predict_only_fasttext_module_is_refused(monkeypatch, tmp_path):
    import sys
    import types

    from beam_cqia.models._fasttext import import_fasttext

    monkeypatch.setitem(sys.modules, "fasttext", types.ModuleType("fasttext"))
    with pytest.raises(ImportError, match="fasttext-predict"):
        import_fasttext()
    with pytest.raises(ImportError, match="fasttext-predict"):
        train(["好文章"], ["坏文章"], tmp_path / "m.bin")
