"""Tests for beam_cqia.text.html (pure functions, no Beam)."""

import html as htmllib
import json
import re
import statistics
import warnings
from pathlib import Path
from urllib.parse import quote

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import html as lxml_html

from beam_cqia.text import html as html_mod
from beam_cqia.text.html import Extracted, extract_main, fragment_to_markdown

CORPORA = Path(__file__).resolve().parents[2].parent / "shared" / "corpora"
NEWS = CORPORA / "news-html-gne"
ZHIHU = CORPORA / "zhihu-api-fixtures"

# Measured 0.790 mean character-bigram F1 for extract_main on the 20 referenced pages
# (benchmarks/results/html_extraction.md); the bar sits a little below.
MIN_MEAN_F1 = 0.75
MIN_TITLE_F1 = 0.95

FENCED = re.compile(r"(?ms)^[ \t]*(`{3,})[^\n]*\n.*?^[ \t]*\1[ \t]*$")
MATH = re.compile(r"\$\$.+?\$\$|\$[^$\n]+?\$", re.S)
TAG = re.compile(r"</?[A-Za-z][A-Za-z0-9-]*(?:\s[^<>]*)?/?>")


def _corpus(folder: Path) -> Path:
    if not folder.is_dir():
        pytest.skip(f"real corpora not found at {folder}; this test needs ../shared/corpora")
    return folder


# --- fragment_to_markdown: table ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("fragment", "expected"),
    [
        pytest.param(
            "<p>第一段，讲背景。</p><p>第二段，讲结论。</p>",
            "第一段，讲背景。\n\n第二段，讲结论。",
            id="paragraphs",
        ),
        pytest.param(
            "<p>这是<b>重点</b>，那是<strong>更重要的</strong>。</p>",
            "这是**重点**，那是**更重要的**。",
            id="bold",
        ),
        pytest.param(
            "<p>这个方程叫做<b>开普勒方程</b><b>，</b>是基础。</p>",
            "这个方程叫做**开普勒方程，**是基础。",
            id="adjacent-bold-merged",
        ),
        pytest.param(
            "<p>我<em>真的</em>不知道，<i>也许</i>吧</p>", "我*真的*不知道，*也许*吧", id="italic"
        ),
        pytest.param(
            "<h1>一级</h1><h2>二级 <b>加粗</b></h2><h3>三级</h3><p>正文</p>",
            "# 一级\n\n## 二级 **加粗**\n\n### 三级\n\n正文",
            id="headings",
        ),
        pytest.param(
            "<ul><li>水果<ul><li>苹果</li><li>香蕉<ol><li>进口</li><li>国产</li></ol></li></ul></li>"
            "<li>蔬菜</li></ul><p>以上。</p>",
            "- 水果\n  - 苹果\n  - 香蕉\n    1. 进口\n    2. 国产\n- 蔬菜\n\n以上。",
            id="nested-lists",
        ),
        pytest.param(
            '<ol start="3"><li>第三步</li><li>第四步<ul><li>注意事项</li></ul></li></ol>',
            "3. 第三步\n4. 第四步\n   - 注意事项",
            id="ordered-list-start",
        ),
        pytest.param(
            '<div class="highlight"><pre><code class="language-python">'
            '<span class="k">def</span> <span class="nf">f</span>(x):\n'
            '    <span class="k">if</span> x &lt; 1 &amp;&amp; y:\n'
            '        return "a_b*c"\n\n\n'
            "    return x  \n</code></pre></div><p>完。</p>",
            '```python\ndef f(x):\n    if x < 1 && y:\n        return "a_b*c"\n\n\n'
            "    return x\n```\n\n完。",
            id="code-block-language-indentation",
        ),
        pytest.param(
            '<pre class="lang-js">let s = `a`;\nconsole.log(s)</pre>',
            "```js\nlet s = `a`;\nconsole.log(s)\n```",
            id="code-block-lang-class-on-pre",
        ),
        pytest.param(
            "<pre><code>~~~\n```\n引号里的围栏\n```</code></pre>",
            "````\n~~~\n```\n引号里的围栏\n```\n````",
            id="code-block-containing-fence",
        ),
        pytest.param(
            "<p>运行 <code>pip install -U beam_cqia</code> 即可，变量 <code>a`b</code> 特殊</p>",
            "运行 `pip install -U beam_cqia` 即可，变量 `` a`b `` 特殊",
            id="inline-code",
        ),
        pytest.param(
            '<p>勾股定理 <img eeimg="1" src="https://www.zhihu.com/equation?tex=a%5E2%2Bb%5E2%3Dc%5E2"'
            ' alt="a^2+b^2=c^2"/> 成立。</p>',
            "勾股定理 $a^2+b^2=c^2$ 成立。",
            id="zhihu-inline-formula",
        ),
        pytest.param(
            '<p>积分得：</p><p><img eeimg="2" src="https://www.zhihu.com/equation?tex=W" '
            'alt="W = \\int F \\, dx"/></p><p>证毕。</p>',
            "积分得：\n\n$$W = \\int F \\, dx$$\n\n证毕。",
            id="zhihu-display-eeimg-2",
        ),
        pytest.param(
            '<p>开普勒方程写成：<img src="https://www.zhihu.com/equation?tex=x" '
            'alt="e \\sin E=E-M \\tag{1}\\\\ " eeimg="1"/> 其中</p>',
            "开普勒方程写成：\n\n$$e \\sin E=E-M \\tag{1}$$\n\n其中",
            id="zhihu-display-trailing-backslashes",
        ),
        pytest.param(
            '<p>由 <img eeimg="1" alt="" src="https://www.zhihu.com/equation?tex=%5Cfrac%7B1%7D%7B2%7D+mv%5E2"/>'
            " 可知</p>",
            "由 $\\frac{1}{2} mv^2$ 可知",
            id="zhihu-formula-latex-from-src",
        ),
        pytest.param(
            '<p>面积 <span class="ztext-math" data-eeimg="1" data-tex="S=\\pi r^2">S=πr²</span>，'
            '体积</p><p><span class="ztext-math" data-eeimg="1" '
            'data-tex="V=\\frac{4}{3}\\pi r^3\\\\">V</span></p>',
            "面积 $S=\\pi r^2$，体积\n\n$$V=\\frac{4}{3}\\pi r^3$$",
            id="ztext-math-inline-and-display",
        ),
        pytest.param(
            '<p>看图<img src="https://pic1.zhimg.com/v2-abc_720w.jpg" alt="示意图">就懂了</p>'
            '<noscript><img src="https://pic1.zhimg.com/v2-abc_b.jpg"/></noscript>',
            "看图就懂了",
            id="images-dropped",
        ),
        pytest.param(
            '<p>如下图：</p><figure data-size="normal"><noscript><img src="https://pic2.zhimg.com/a.jpg">'
            '</noscript><img src="data:image/svg+xml;utf8,&lt;svg&gt;" data-actualsrc="a.jpg">'
            "<figcaption>图1：实验装置</figcaption></figure><p>装置很简单。</p>",
            "如下图：\n\n装置很简单。",
            id="figure-and-caption-dropped",
        ),
        pytest.param(
            '<figure class="highlight"><pre><code class="language-go">fmt.Println("你好")'
            "</code></pre><figcaption>main.go</figcaption></figure>",
            '```go\nfmt.Println("你好")\n```\n\nmain.go',
            id="figure-with-code-kept",
        ),
        pytest.param(
            '<p>参考<a href="https://zhuanlan.zhihu.com/p/36297534">这篇文章</a>，'
            '代码在 <a href="https://github.com/x/y">https://github.com/x/y</a> 。</p>',
            "参考这篇文章，代码在 。",
            id="link-text-kept-url-text-dropped",
        ),
        pytest.param(
            '<p>项目地址：<a href="https://link.zhihu.com/?target=https%3A//github.com/x/y" '
            'class=" wrap external"><span class="invisible">https://</span>'
            '<span class="visible">github.com/x/y</span><span class="invisible"></span></a></p>',
            "项目地址：",
            id="zhihu-external-link-url-dropped",
        ),
        pytest.param(
            '<a class="video-box" href="https://link.zhihu.com/?target=https%3A//www.zhihu.com/'
            'video/123"><img class="thumbnail" src="https://pic1.zhimg.com/v.jpg"/>'
            '<span class="content"><span class="title">实验演示视频</span>'
            '<span class="url">https://www.zhihu.com/video/123</span></span></a>',
            "实验演示视频",
            id="zhihu-video-card-url-dropped",
        ),
        pytest.param(
            '<p>官网<a href="https://python.org">www.python.org上的文档</a>写得很清楚</p>',
            "官网上的文档写得很清楚",
            id="url-inside-link-text-dropped",
        ),
        pytest.param(
            '<p>见论文<sup data-text="An exact solution" data-url="https://x.org" '
            'data-draft-type="reference" data-numero="1">[1]</sup>，'
            "以及 H<sub>2</sub>O 和 x<sup>2</sup></p>",
            "见论文，以及 H2O 和 x2",
            id="zhihu-reference-marker-dropped",
        ),
        pytest.param(
            "<blockquote><p>学而不思则罔，</p><p>思而不学则殆。</p></blockquote><p>——《论语》</p>",
            "> 学而不思则罔，\n>\n> 思而不学则殆。\n\n——《论语》",
            id="blockquote",
        ),
        pytest.param(
            "<p>床前明月光，<br>疑是地上霜。<br/>举头望明月，<br />低头思故乡。</p>",
            "床前明月光，\n疑是地上霜。\n举头望明月，\n低头思故乡。",
            id="br",
        ),
        pytest.param(
            "<p>&lt;div&gt; 标签、&amp;符号、&quot;引号&quot;、&copy; 版权、&#x4E2D;&#25991;、"
            "不换行&nbsp;&nbsp;空格</p>",
            '<div> 标签、&符号、"引号"、© 版权、中文、不换行 空格',
            id="entities",
        ),
        pytest.param(
            "<p>中文标点：“引号”、（括号）、【方括号】、《书名》！"
            "#话题# 1. 不是列表 * 星号 _下划线_</p>",
            "中文标点：“引号”、（括号）、【方括号】、《书名》！#话题# 1. 不是列表 * 星号 _下划线_",
            id="no-markdown-escaping",
        ),
        pytest.param(
            "<custom-box><p>自定义标签</p><x-note>里的文字</x-note></custom-box><hr/><p>分隔后</p>",
            "自定义标签\n\n里的文字\n\n---\n\n分隔后",
            id="unknown-tags-keep-text",
        ),
        pytest.param(
            "<p>正文</p><script>alert('x')</script><style>p{}</style>"
            "<video src='v.mp4'>视频</video><iframe src='https://v.qq.com'></iframe>"
            "<button>复制代码</button>",
            "正文",
            id="scripts-media-ui-dropped",
        ),
        pytest.param(
            "<p>  多余   空白\n换行  </p>\n\n\n<p></p><p><br/></p><p>下一段</p>",
            "多余 空白 换行\n\n下一段",
            id="whitespace-normalized",
        ),
        pytest.param(
            "<table><tr><th>城市</th><th>人口</th></tr><tr><td>北京</td><td>2189万</td></tr></table>",
            "| 城市 | 人口 |\n| --- | --- |\n| 北京 | 2189万 |",
            id="table",
        ),
        pytest.param("只有文字，没有标签。", "只有文字，没有标签。", id="plain-text"),
        pytest.param("", "", id="empty"),
        pytest.param("   \n\t ", "", id="blank"),
        pytest.param("<p></p><div> </div>", "", id="empty-elements"),
    ],
)
def test_fragment_to_markdown(fragment, expected):
    assert fragment_to_markdown(fragment) == expected


@pytest.mark.parametrize(
    "garbage",
    [
        "<<<>>>&&&;;",
        "<p>未闭合的段落<div>还有<b>粗体",
        "</p></div></li>只有结束标签",
        "\x00\x01\x02<p>控制\x00字符</p>\x7f",
        "<pre><code>没有结束的代码块\n  缩进",
        "<" * 1000 + "中" + ">" * 1000,
        "<div>" * 3000 + "很深的嵌套" + "</div>" * 3000,
        '<img eeimg="1"><span class="ztext-math"></span><a href="">',
        "\ud800 lone surrogate",
        "<?xml version='1.0' encoding='gb2312'?><p>带XML声明</p>",
    ],
)
def test_fragment_to_markdown_survives_garbage(garbage):
    out = fragment_to_markdown(garbage)
    assert isinstance(out, str)
    assert "\x00" not in out
    assert not any(line != line.rstrip() for line in out.split("\n"))


@pytest.mark.parametrize(
    ("fragment", "expected"),
    [
        ("https://www.zhihu.com/question/1", "https://www.zhihu.com/question/1"),
        ("answer.html", "answer.html"),
        ("<?xml version='1.0' encoding='utf-8'?><p>带声明</p>", "带声明"),
    ],
)
def test_fragment_to_markdown_does_not_warn(fragment, expected):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert fragment_to_markdown(fragment) == expected


def test_fragment_to_markdown_keeps_the_words_of_absurdly_deep_markup():
    # Forum posts with hundreds of unclosed <font> tags nest deeper than markdownify can recurse.
    deep = "<font><script>var x;</script>" * 2000 + "楼主说得<b>对</b>" + "</font>" * 2000
    assert fragment_to_markdown(deep) == "楼主说得 对"
    assert fragment_to_markdown("<font>" * 50 + "楼主说得<b>对</b>") == "楼主说得**对**"


def test_fragment_to_markdown_rejects_non_strings():
    assert fragment_to_markdown(None) == ""  # type: ignore[arg-type]
    assert fragment_to_markdown(b"<p>bytes</p>") == ""  # type: ignore[arg-type]


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.sampled_from(
                [
                    "<p>",
                    "</p>",
                    "<b>",
                    "</b>",
                    "<ul><li>",
                    "</li></ul>",
                    "<br>",
                    "<pre>",
                    "</pre>",
                    "<code>",
                    "</code>",
                    "&amp;",
                    "&nbsp;",
                    '<img eeimg="1" alt="x^2">',
                    "\n",
                    "  ",
                ]
            ),
            st.text(alphabet="中文字符，。abc *_#`$<>&;\\", max_size=8),
        ),
        max_size=30,
    ).map("".join)
)
def test_fragment_to_markdown_output_is_tidy(fragment):
    out = fragment_to_markdown(fragment)
    assert out == out.strip("\n")
    assert "\n\n\n" not in FENCED.sub("```", out)  # blank lines inside code are the code's
    assert all(line == line.rstrip() for line in out.split("\n"))


# --- extract_main ------------------------------------------------------------------------------

NEWS_PAGE = """<!DOCTYPE html>
<html lang="zh-CN">
<head><meta charset="gb2312"><title>长江流域今年首次启动防汛应急响应_某某新闻网</title>
<script>var ad = "广告脚本";</script><style>.nav{color:red}</style></head>
<body>
<header><nav><ul><li><a href="/">首页</a></li><li><a href="/news">国内新闻</a></li>
<li><a href="/sports">体育频道</a></li><li><a href="/login">登录注册</a></li></ul></nav></header>
<div class="ad banner">限时优惠！点击领取百元红包，下载客户端立享会员特权</div>
<main><article>
<h1>长江流域今年首次启动防汛应急响应</h1>
<p>记者从水利部获悉，受持续强降雨影响，长江中下游干流水位快速上涨，水利部于6月18日针对湖北、湖南、
江西、安徽四省启动洪水防御Ⅳ级应急响应。</p>
<p>据气象部门预测，未来一周长江中下游地区仍将有较强降雨过程，累计降雨量可达100至200毫米，局部地区超过
300毫米，防汛形势十分严峻。</p>
<p>水利部要求有关地区密切关注雨情水情变化，加强水库、堤防巡查防守，提前转移危险区域群众，确保人民群众
生命安全。各级防汛部门已派出工作组赶赴一线指导抗洪抢险工作。</p>
<p>专家表示，今年入梅时间较常年偏早，降雨集中且强度大，需特别警惕中小河流洪水、山洪灾害以及城市内涝等
次生灾害的发生。</p>
</article></main>
<aside class="sidebar"><h3>热门推荐</h3><ul><li><a href="/a1">明星离婚内幕大曝光</a></li>
<li><a href="/a2">这种食物千万别再吃了</a></li></ul></aside>
<footer><p>版权所有 © 2024 某某新闻网 京ICP备12345678号</p>
<p>联系我们 | 关于我们 | 广告合作</p></footer>
</body></html>"""


def test_extract_main_returns_the_article_without_chrome():
    out = extract_main(NEWS_PAGE, url="https://news.example.cn/2024/0618/flood.html")
    assert out.method == "trafilatura"
    assert out.title == "长江流域今年首次启动防汛应急响应"
    paragraphs = out.text.split("\n\n")
    assert len(paragraphs) == 4
    assert paragraphs[0].startswith("记者从水利部获悉")
    assert paragraphs[-1].endswith("次生灾害的发生。")
    for chrome in [
        "首页",
        "体育频道",
        "红包",
        "热门推荐",
        "明星离婚",
        "版权所有",
        "广告合作",
        "广告脚本",
    ]:
        assert chrome not in out.text, chrome


@pytest.mark.parametrize(
    "page",
    [
        "",
        "   ",
        "只是一段纯文本，没有任何标签。",
        "<<<>>>&&&",
        "\x00\x01\x02<p>",
        "<html></html>",
        "<html><head><title></title></head><body><script>var x=1;</script></body></html>",
        "\ud800<p>",
    ],
)
def test_extract_main_gives_empty_text_for_non_pages(page):
    out = extract_main(page)
    assert isinstance(out, Extracted)
    assert out.text == ""
    assert out.method == ""


def test_extract_main_rejects_non_strings():
    assert extract_main(None) == Extracted("", "", "")  # type: ignore[arg-type]
    assert extract_main(b"<p>bytes</p>") == Extracted("", "", "")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "page",
    [
        "<p>未闭合的段落<div>第二块<b>粗体",
        "<div>" * 5000 + "深层嵌套里的字" + "</div>" * 5000,
        "<?xml version='1.0' encoding='utf-8'?><html><body><p>带XML声明的页面</p></body></html>",
        "<p>短</p>",
    ],
)
def test_extract_main_recovers_text_from_malformed_pages(page):
    out = extract_main(page)
    assert out.text
    assert out.method in ("trafilatura", "resiliparse", "plain")


def test_extract_main_falls_back_when_trafilatura_fails(monkeypatch):
    def broken(html, url):
        raise ValueError("trafilatura exploded")

    monkeypatch.setattr(html_mod, "_trafilatura", broken)
    out = extract_main(NEWS_PAGE)
    assert out.method == "resiliparse"
    assert "记者从水利部获悉" in out.text
    assert out.title.startswith("长江流域今年首次启动防汛应急响应")


def test_extract_main_falls_back_to_plain_dump(monkeypatch):
    monkeypatch.setattr(html_mod, "_trafilatura", lambda html, url: ("", ""))
    real = html_mod._resiliparse
    monkeypatch.setattr(
        html_mod,
        "_resiliparse",
        lambda html, main_content: ("", "") if main_content else real(html, False),
    )
    out = extract_main(NEWS_PAGE)
    assert out.method == "plain"
    assert "记者从水利部获悉" in out.text
    assert "\n\n" in out.text


# --- real data ---------------------------------------------------------------------------------


@pytest.mark.corpora
def test_extract_main_on_real_news_pages():
    from benchmarks.html_extraction import load_pages, overlap_score

    pages = load_pages(_corpus(NEWS))
    assert len(pages) == 66
    scores, titles = {}, []
    for page in pages:  # articles and list pages alike give some text, tidily
        out = extract_main(page.html)
        assert out.text and out.method, page.path
        assert not re.search(r"\n{3,}|[ \t]\n", out.text), f"{page.path}: untidy whitespace"
        if page.ref_text is not None:
            scores[page.path] = overlap_score(out.text, page.ref_text).f1
            titles.append(overlap_score(out.title, page.ref_title or "").f1)
    assert len(scores) == 20, "GNE's result.txt references 20 pages"
    assert statistics.fmean(scores.values()) >= MIN_MEAN_F1, sorted(scores.items())
    assert statistics.fmean(titles) >= MIN_TITLE_F1


def _zhihu_bodies(root: Path) -> list[tuple[str, str]]:
    """Every answer/article HTML body in the fixtures: API objects and the two saved answers."""
    bodies: list[tuple[str, str]] = []

    def walk(obj, where):
        if isinstance(obj, dict):
            if obj.get("type") in ("answer", "article") and isinstance(obj.get("content"), str):
                bodies.append((f"{where}#{obj.get('id')}", obj["content"]))
            for value in obj.values():
                walk(value, where)
        elif isinstance(obj, list):
            for value in obj:
                walk(value, where)

    for path in sorted(root.rglob("*.json")):
        if "formula-corpus" not in path.parts[-2]:
            walk(json.loads(path.read_text(encoding="utf-8")), path.name)
    for path in sorted(root.glob("*.html")):
        bodies.append((path.name, path.read_text(encoding="utf-8")))
    return bodies


def _formula_sources(tree) -> list[str]:
    imgs = tree.xpath('//img[@eeimg or contains(@src, "zhihu.com/equation")]')
    spans = tree.xpath('//span[contains(concat(" ", @class, " "), " ztext-math ")]')
    return [el.get("alt") or "" for el in imgs] + [el.get("data-tex") or "" for el in spans]


@pytest.mark.corpora
def test_fragment_to_markdown_on_real_zhihu_answers():
    bodies = _zhihu_bodies(_corpus(ZHIHU))
    assert len(bodies) >= 6
    totals = {"formulas": 0, "code": 0}
    for where, body in bodies:
        out = fragment_to_markdown(body)
        tree = lxml_html.fromstring(body)
        assert out, where
        prose = FENCED.sub("", out)
        # no tag remnants and no image URLs outside code blocks and formulas
        text = MATH.sub("", prose)
        assert not TAG.search(text), (where, TAG.search(text))
        assert not re.search(r"zhimg\.com|equation\?tex|https?://|!\[|\]\(", out), where
        # every formula in, one formula out, with its LaTeX
        formulas = _formula_sources(tree)
        found = MATH.findall(prose)
        assert len(found) == len(formulas), where
        for latex in formulas:
            core = " ".join(re.sub(r"(?:\\\\\s*)+$", "", latex.strip()).split())
            assert f"${core}$" in prose, (where, latex)
        # every code block kept, verbatim up to trailing spaces
        blocks = tree.xpath("//pre")
        assert len(FENCED.findall(out)) == len(blocks), where
        for pre in blocks:
            code = "\n".join(line.rstrip() for line in pre.text_content().strip("\n").split("\n"))
            assert code in out, (where, code[:80])
        totals["formulas"] += len(formulas)
        totals["code"] += len(blocks)
    assert totals["formulas"] >= 200  # the two saved answers hold 222 formulas
    assert totals["code"] >= 6  # the Kotlin answer holds 6 highlighted code blocks


@pytest.mark.corpora
def test_every_formula_of_the_zhihu_formula_corpus_round_trips():
    path = _corpus(ZHIHU) / "zhihu-formula-corpus" / "formulas.json"
    formulas = [item["latex"] for item in json.loads(path.read_text(encoding="utf-8"))]
    assert len(formulas) > 3000
    displays = 0
    for latex in formulas:
        img = (
            f'<img src="https://www.zhihu.com/equation?tex={quote(latex)}" '
            f'alt="{htmllib.escape(latex)}" eeimg="1"/>'
        )
        out = fragment_to_markdown(f"<p>设{img}成立</p>")
        core = " ".join(re.sub(r"(?:\\\\\s*)+$", "", latex.strip()).split())
        if re.search(r"\\\\\s*$", latex):
            displays += 1
            assert out == f"设\n\n$${core}$$\n\n成立", latex
        else:
            assert out == f"设${core}$成立", latex
    assert displays > 50  # Zhihu writers end display formulas with "\\"


def test_adjacent_bold_runs_merge():
    html = (
        '<p><b>开普勒方程</b><sup data-draft-type="reference">[1]</sup><b>，</b>是天体力学方程</p>'
    )
    assert fragment_to_markdown(html) == "**开普勒方程，**是天体力学方程"
