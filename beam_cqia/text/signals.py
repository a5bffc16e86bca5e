"""Rule-based quality signals for Chinese text.

Chinese has no spaces between words, so every signal here works on characters and lines, not
whitespace tokens. Each signal is a pure function of a string; :data:`RULES` names the rules a
spec can ask for and :func:`compute` turns a record's fields into named float signals. Two rules
need data that is built once per process and passed in a :class:`SignalContext` (see
:func:`make_context`): ``trad_ratio`` (the Traditional-only character set) and ``sensitive_hits``
(a word list loaded with :func:`load_lexicon`).

"Visible" characters are the non-whitespace ones. Every rule except ``chars`` runs on the
answer-side text of the record (:func:`content_of`; ``cut_off``: :func:`answer_of`). Signals, by
rule (range in brackets):

- ``chars`` → ``chars.<field>`` [>= 0]: characters in each text field.
- ``cjk_ratio`` [0, 1]: Han ideographs / visible characters.
- ``trad_ratio`` [0, 1] (context ``trad_chars``): Traditional-only characters / Han characters;
  0 without Han characters.
- ``punct_ratio`` [0, 1]: Unicode punctuation (P*) / visible characters.
- ``special_char_ratio`` [0, 1]: symbols (S*: ￥ $ + | ^ ~ ★ ...) and other non-text characters
  (C*: controls, format, private use, unassigned) / visible characters; emoji and the pieces
  emoji are built from are not special.
- ``emoji_ratio`` [0, 1]: emoji pictographs (Extended_Pictographic) / visible characters.
- ``url_count`` [>= 0]: URLs (http://, https://, www.).
- ``url_density`` [>= 0]: URLs per 1,000 characters.
- ``sentence_end_ratio`` [0, 1]: prose lines that end a sentence / prose lines; 1 when there is
  no prose line (:func:`sentence_end_ratio`).
- ``truncated`` {0, 1}: 1 when the text ends mid-sentence (:func:`truncated`).
- ``cut_off`` {0, 1}: 1 when the text ends on a mark no finished text ends on, or inside an
  unclosed code or formula block (:func:`cut_off`; stricter than ``truncated``); computed on
  the answer alone (:func:`answer_of`), not on answer and body.
- ``dup_line_frac`` [0, 1]: characters of non-empty lines that repeat an earlier line /
  characters of non-empty lines.
- ``dup_para_frac`` [0, 1]: the same for paragraphs (separated by blank lines).
- ``top_char_frac`` [0, 1]: share of visible characters taken by the most frequent one.
- ``top_ngram_frac`` → ``top_ngram_frac.<n>``, n = 2, 3, 4 [0, 1]: share of visible characters
  covered by the most frequent character n-gram.
- ``dup_ngram_frac`` → ``dup_ngram_frac.<n>``, n = 5..10 [0, 1]: share of visible characters
  covered by character n-grams that occur more than once.
- ``boilerplate_hits`` [>= 0]: site chrome (谢邀, 编辑于 <date>, IP属地, 著作权归作者所有,
  转载请注明, 本文首发于, 原文链接, 记得点赞关注, 赞同/收藏 UI rows, 来源：知乎, 侵删, END).
- ``ad_hits`` [>= 0]: advertising and contact harvesting (加微信, 微信：abc123, 私信领取,
  扫码关注, 领优惠券, 优惠码, 点击下方链接, 咨询热线).
- ``assistant_hits`` [>= 0]: AI-assistant boilerplate (作为一个AI语言模型，我; 我是人工智能助手;
  抱歉，我无法; 我不能提供; 截至我的知识截止日期; 我没有个人观点; 由OpenAI开发).
- ``sensitive_hits`` [>= 0] (context ``sensitive``): matches of the sensitive-word lexicon, and
  ``sensitive.<category>`` [>= 0] for every category of the lexicon.

The phrase counts (boilerplate, ads, assistant) are anchored on phrases ordinary Q&A prose does
not use; on the released COIG-CQIA outputs they fire only where the data has the phrase (xhs
self-promotion, CValues' LLM answers), see benchmarks/results/signals_speed.md.

The n-gram fractions follow Gopher's repetition rules (Rae et al. 2021) with characters in place
of words, computed on the visible characters (whitespace removed, so line breaks do not hide a
repetition). An n-gram "covers" the n positions it spans; overlapping occurrences are counted
once, so "哈哈哈哈" has top 2-gram fraction 1.0, not 1.5. Among equally frequent n-grams the one
covering most characters counts. Texts shorter than n have no n-grams: 0.
"""

import dataclasses
import itertools
import os
import re
import string
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

import ahocorasick_rs
import numpy as np
import regex

from beam_cqia.text.script import traditional_only_chars

_HAN = regex.compile(r"\p{Han}")
# Runs: one match object per run instead of per character (4x faster on Chinese text).
_HAN_RUN = regex.compile(r"\p{Han}+")
_PUNCT = regex.compile(r"\p{P}")
_SPACE_RUN = regex.compile(r"\s+")
_URL = regex.compile(r"(?:https?://|www\.)[^\s，。！？、；：“”‘’（）()<>]+", regex.IGNORECASE)
_EMOJI = regex.compile(r"\p{Extended_Pictographic}")
# Symbols and other non-text characters, minus what emoji_ratio counts and the pieces emoji are
# built from (skin-tone modifiers, regional-indicator flags, zero-width joiner).
_SPECIAL = regex.compile(
    r"(?V1)[[\p{S}\p{C}]--[\s\p{Extended_Pictographic}\p{Emoji_Modifier}"
    r"\U0001F1E6-\U0001F1FF\u200d]]+"
)

# --- phrase lists --------------------------------------------------------------------------------
# Each alternative is one hit. They are written for answers that went through NormalizeText, and
# every one is anchored on a phrase that ordinary Q&A prose does not use (tested on negatives).

# Advertising and contact-harvesting phrases common on Chinese Q&A sites.
_AD_CUE = r"(?:免费|私信|私聊|留言|评论区?|后台|扫码|关注|微信|vx|v信|wx|群|戳我|找我|加我)"
_AD = regex.compile(
    r"加(?:我|个)?\s*(?:微信|vx|v信|wx|q群|qq群?|扣扣)"
    # An ID after a colon, or an ID with a digit right after the name ("微信 WeChat" is no ID).
    r"|(?:微信|v信|威信|薇信|扣扣)号?\s*(?:[:：]\s*[a-z0-9_-]{5,}|(?=[a-z0-9_-]{5,})[a-z_-]*\d)"
    r"|(?<![a-z0-9_.])(?:vx|wx|qq)号?(?:\s*[:：]\s*|\s+)[a-z0-9_-]{5,}(?![a-z0-9_.(])"
    r"|(?:qq|q|扣扣|交流|粉丝|学习)群号?\s*[:：]?\s*\d{5,}"
    r"|私信(?:我)?(?:领取|获取|免费)"
    # 领取 + a freebie, after a cue in the same clause ("到窗口领取申请资料" is no advert).
    rf"|领取(?<={_AD_CUE}[^，。！？；,.!?;\n]{{0,6}}领取)[^\s，。！？；,.!?;]{{0,8}}?"
    r"(?:资料|福利|优惠|课程|红包|礼包|教程|资源)"
    r"|领取免费[^\s，。！？；,.!?;]{0,6}?(?:资料|福利|课程|礼包|教程|资源)"
    # A coupon offered, not one discussed ("优惠券怎么用"): a giving verb or an offer after it.
    r"|(?:领|送|发|免费|内部|隐藏|大额)优惠券|优惠券(?=链接|领取|免费|限时|口令|[:：])|(?:优惠|折扣)码"
    r"|扫码(?:关注|领取|添加|进群|咨询|购买|下单)"
    r"|(?:长按|扫描|扫一扫)(?:识别)?(?:下方|上方|图中)?(?:二维码|小程序码)"
    r"|名额有限(?=[，,！!。\s]*(?:先到先得|报名|速|赶紧|抓紧|点击|扫码|私信|预约|$))"
    r"|限时(?:免费|优惠|特价|抢购)"
    r"|点击(?:下方|文末|左下角)(?:链接|卡片|名片|小程序|蓝字)|点击(?:链接|蓝字)"
    r"|(?:淘宝|天猫|拼多多)(?:店铺|搜索)|淘口令"
    r"|(?:诚招|招募)(?:代理|加盟)|(?:咨询|订购|加盟|预约)(?:热线|电话)\s*[:：]?\s*\d"
    r"|(?:添加|加)(?:客服|小助手|小助理|助教)",
    regex.IGNORECASE,
)

_DATE = (
    r"(?:\d{4}\s*[-/.年]\s*\d{1,2}\s*[-/.月]\s*\d{1,2}日?|\d{1,2}\s*[-/]\s*\d{1,2}(?!\d)"
    r"|\d{1,2}月\d{1,2}日|昨天|前天|今天|刚刚|\d+\s*(?:秒|分钟|小时|天|周|个月)前)"
)
_UI_LABEL = r"(?:赞同|反对|收藏|喜欢|分享|举报|评论|转发|点赞|回复|添加评论|\d+\s*条评论)"
_UI_COUNT = r"(?:[\d,.]+\s*[万千kKwW]?\+?)"
# Site chrome: what NormalizeText strips when asked, and more, anywhere in the text.
_BOILERPLATE = regex.compile(
    r"谢邀(?![请约])"  # not the middle of 感谢邀请 / 谢谢邀请
    r"|^[ \t>]*(?:谢谢|感谢)[^\n。！？!?]{0,12}?邀(?:请|答)(?=[\s。！？!?，,、~～…:：]|$)"
    rf"|(?:^|(?<=[。！？!?\s·•]))(?:最后)?(?:编辑|发布|发表|修改|更新)(?:于|时间[:：]?)\s*{_DATE}"
    r"|(?i:ip)\s*属地\s*[:：]\s*\S"
    r"|著作权归(?:原)?作者所有|商业转载请联系作者获得授权|非商业转载请注明出处"
    r"|转载请(?:注明|保留|联系)|(?:禁止|谢绝|请勿|严禁)转载"
    r"|未经(?:作者)?(?:授权|允许|许可|同意)[，,]?\s*(?:禁止|严禁|不得|请勿)(?:任何形式的?)?(?:转载|摘编)"
    r"|本文(?:首发|最早发布|最早发表|原载|首载|转载|转自|摘自|来源于|来自)"
    r"|首发于(?:知乎|微信|公众号|个人|我的|今日头条|头条|微博|B站|简书|CSDN|博客)"
    r"|原文(?:链接|地址)|(?:点击|戳)(?:左下角|下方|这里)?阅读原文|^[ \t]*阅读原文[ \t]*$"
    r"|(?:点击|欢迎|(?<![要需追寻谋恳祈力乞征诉渴央讲])求|记得|麻烦|顺手|顺便|别忘了?)(?:一下)?"
    r"(?:关注|点赞|三连|转发)"
    r"|关注(?:我)?不迷路|一键三连|关注(?:我的|我们的|本)(?:微信)?公众号|关注公众号[「“\"【]"
    r"|^[ \t]*(?:\d[\d,.]*\s*[万千kK]?\s*)?人?赞同了该(?:回答|文章)"
    r"|^[ \t]*(?:展开阅读全文|展开全文|显示全部|查看全部(?:\s*\d+\s*(?:个回答|条评论))?"
    r"|收起全文|\d+\s*条评论|添加评论)[ \t]*[>›»↓∨]?[ \t]*$"
    # Two or more UI labels, apart or with counts between them ("喜欢喜欢" is a reader's cheer).
    rf"|^[ \t]*{_UI_LABEL}(?:[ \t]*{_UI_COUNT})?"
    rf"(?:(?:[ \t·•|]+|(?<=[\d万千kKwW+])){_UI_LABEL}(?:[ \t]*{_UI_COUNT})?)+[ \t·•|]*$"
    rf"|^[ \t]*{_UI_LABEL}[ \t]*{_UI_COUNT}[ \t]*$"
    r"|^[ \t]*(?:赞同|添加评论|举报)[ \t]*$"
    r"|^[ \t]*来源[:：]\s*(?:知乎|微信公众号|公众号|豆瓣|小红书|微博|百度(?:知道|百科|经验)?|CSDN"
    r"|简书|头条|今日头条|网络|互联网)"
    r"|^[ \t]*链接[:：]\s*https?://"
    r"|版权声明[:：]|本文为[^\n。]{0,30}?原创文章|责任编辑[:：]"
    r"|(?:图片|配图|图)(?:来自|来源于?|源自|源于?)(?:网络|互联网)|侵删"
    r"|如有侵权[，,]?(?:请)?(?:联系)?[^。\n]{0,8}?删除"
    r"|本词条"
    # END markers closing a WeChat-style article; a bare "end" is a line of Ruby or Lua.
    r"|^[ \t]*[—\-=*~·]+[ \t]*(?i:end)[ \t]*[—\-=*~·]*[ \t]*$|^[ \t]*(?:END|全文完)[ \t]*$",
    regex.MULTILINE,
)

# The assistant talking about itself. "作为" or "根据" alone (COIG-Kun's output filter) are far too
# common in ordinary Chinese, so every pattern names the AI, a refusal or the model's knowledge.
_SELF = (
    r"(?:(?:虚拟|智能)?(?:AI|人工智能)(?:语言模型|助手|助理|模型|程序|机器人|数字人)?"
    r"|(?:虚拟|智能|聊天)(?:助手|助理|机器人)|(?:大型|大)?语言模型)"
)
_ASSISTANT = regex.compile(
    # "作为" + AI + "我": without the first person it is often a sentence about AI.
    rf"作为(?:一[个名款位])?{_SELF}[，,、]?(?=\s*我)"
    rf"|我(?:只|仅仅|仅)?是(?:一[个名款位])?(?:由[^，。\n]{{1,16}}?(?:开发|训练|创建|打造)的)?"
    rf"{_SELF}(?=[，,、。：:；;！!\s]|而|$)"
    r"|(?:很|非常|十分)?抱歉[，,]?\s*(?:我|作为)(?:目前|暂时|并)?(?:无法|不能|没有办法|不具备|做不到)"
    r"|我(?:无法|不能)(?:为您|为你|向您|向你)?(?:提供|访问|浏览|获取(?:实时|最新))"
    r"|(?:截至|截止)(?:到)?我的?(?:知识|训练|最后一次)(?:截止|更新|数据)"
    r"|我的(?:知识库|训练数据|知识截止)"
    r"|我没有(?:个人的?(?:情感|感情|观点|意见|喜好|偏好|经历|信仰)|(?:情感|感情)(?:和|或)"
    r"(?:意识|意见|观点)|自我意识|实体)"
    r"|我(?:不具备|没有)(?:实时)?(?:联网|上网|浏览网页|访问互联网|访问网络)的?(?:能力|功能)"
    r"|由\s*OpenAI\s*(?:开发|训练|创建)|(?:ChatGPT|GPT-?[34]|OpenAI)\s*(?:训练|开发)的(?:语言)?模型"
    r"|as an ai(?: language model| assistant)?",
    regex.IGNORECASE,
)

# --- line structure (sentence ends, truncation) --------------------------------------------------

_FENCES = ("```", "~~~")
_HEADING = regex.compile(r"^#{1,6}\s")
_HASHTAGS = regex.compile(r"^(?:#[^#\s]+(?:\[话题\])?#?\s*)+$")
_LIST_ITEM = regex.compile(
    r"^(?:[-*+•·]\s+|\d{1,3}(?:[.．](?!\d)|[)、）])|[（(](?:\d{1,3}|[一二三四五六七八九十]{1,3})[)）]"
    r"|[一二三四五六七八九十]{1,3}[、.．]|[①-⑳]|[a-zA-Z][.)]\s)"
)
_TABLE_ROW = regex.compile(r"^\|")
_RULE_LINE = regex.compile(
    r"^(?:[-*_—=~·]\s*){3,}$|^[—\-=*~·\s]*(?:END|全文完)[—\-=*~·\s]*$", regex.I
)
# Keyword rows ("瘦腿 | 筷子腿 | 漫画腿", "穿搭/通勤/显瘦") and attributions ("——彼得·德鲁克").
_TAG_ROW = regex.compile(r"^[^|/｜。！？!?]{1,14}(?:\s*[|/｜]\s*[^|/｜。！？!?]{1,14}){2,}$")
_ATTRIBUTION = regex.compile(r"^(?:——|－－|--|—)\s*[^\s—－-][^。！？!?]{0,30}$")
_LINK_ONLY = regex.compile(r"^(?:!?\[[^\]]*\]\([^)]*\)|(?:https?://|www\.)\S+)$", regex.I)
_DISPLAY_MATH = regex.compile(r"^\$\$.*\$\$$")
# Option letters given as the answer of an exam item: "故本题选择：B", "因此答案为：A、C".
_ANSWER_KEY = regex.compile(
    r"(?:答案|选|选择|选项|答)\s*(?:为|是)?\s*[:：]?\s*[（(]?[A-H](?:\s*[、,，和]\s*[A-H])*[)）]?$"
)
_TRAILING_URL = regex.compile(r"(?:https?://|www\.)\S+$", regex.I)
_EMOJI_TAIL = regex.compile(
    r"(?:\p{Extended_Pictographic}|[\U0001F1E6-\U0001F1FF])"
    r"[\ufe0f\u20e3\u200d\p{Emoji_Modifier}]*$"
)
_KEYCAP_TAIL = regex.compile(r"[0-9#*]\ufe0f?\u20e3$")
# The characters _EMOJI_TAIL and _KEYCAP_TAIL can end on, and those _ANSWER_KEY can end on.
_EMOJI_TAIL_LAST = regex.compile(
    r"[\p{Extended_Pictographic}\U0001F1E6-\U0001F1FF\ufe0f\u20e3\u200d\p{Emoji_Modifier}]+"
)
_ANSWER_KEY_LAST = frozenset("ABCDEFGH)）")
_SENTENCE_END = frozenset("。｡！？!?…⋯．.～~‼⁇⁈⁉")
# Closing quotes and brackets, which also end emoticon codes ([偷笑R]) and citations ([2]).
_CLOSERS = frozenset('”’」』"）)】]》}〕〉')
# Clause ends: a line may end here inside a text (enumerations, "如下："), a text may not.
_CLAUSE_END = frozenset("；;：:")
_EMPHASIS = "*_` \t"
_NEEDS_MORE = frozenset("，、,：:（(“‘「『《【[")

_TERMINAL, _CLAUSE, _OPEN = 0, 1, 2


def _line_end(line: str) -> int:
    """How a stripped, non-empty line ends: a sentence end, a clause end, or open."""
    tail = line.rstrip(_EMPHASIS)
    if not tail:
        return _OPEN
    last = tail[-1]
    if last in _SENTENCE_END or last in _CLOSERS or last == "$":
        return _TERMINAL
    if last in _CLAUSE_END:
        return _CLAUSE
    # Each pattern is tried only when the last character (or a literal) allows it.
    if (
        (
            _char_bits(last) & _EMOJI_TAIL_BIT
            and (_EMOJI_TAIL.search(tail) or _KEYCAP_TAIL.search(tail))
        )
        or (last in _ANSWER_KEY_LAST and _ANSWER_KEY.search(tail))
        or (("." in tail or "://" in tail) and _TRAILING_URL.search(tail))
    ):
        return _TERMINAL
    return _OPEN


# Kinds of line for sentence_end_ratio and truncated.
# Kinds of line for sentence_end_ratio and truncated; _TEXT is a line outside code and math
# that :func:`_classify` has not looked at yet.
_PROSE, _LIST, _HEAD, _BLOCK, _CODE_OPEN, _MATH_OPEN, _TEXT = range(7)
_RULE_FIRST = frozenset("-*_—=~·Ee全")
_DASHES = frozenset("—－-")
_LINK_FIRST = frozenset("![hHwW")


def _walk_lines(text: str) -> list[tuple[int, str]]:
    """Non-empty stripped lines: code and math lines as _BLOCK, the others as _TEXT.

    A final ``_CODE_OPEN`` or ``_MATH_OPEN`` entry says the text ends inside a fenced code block
    or a ``$$`` block.
    """
    out: list[tuple[int, str]] = []
    in_code = in_math = False
    for raw in text.split("\n"):
        line = raw.strip()
        if not line:
            continue
        fence = line.startswith(_FENCES)
        if in_code or fence:
            if fence:
                in_code = not in_code
            out.append((_BLOCK, line))
            continue
        # An odd number of $$ opens or closes a display block; Zhihu also writes $$x$$ inline.
        dollars = line.count("$$") if "$$" in line else 0
        if in_math:
            in_math = dollars % 2 == 0
            out.append((_BLOCK, line))
            continue
        if dollars % 2:
            in_math = True
            if line.startswith("$$"):
                out.append((_BLOCK, line))
                continue
        elif dollars and _DISPLAY_MATH.match(line):
            out.append((_BLOCK, line))
            continue
        out.append((_TEXT, line))
    if in_code:
        out.append((_CODE_OPEN, ""))
    elif in_math:
        out.append((_MATH_OPEN, ""))
    return out


def _classify(line: str) -> tuple[int, str]:
    """The kind of a stripped line outside code and math, and the line without quote markers.

    Kinds: prose; list item; heading (Markdown ``#``, or a bold-only line); block (table row,
    rule, hashtag line, keyword row, attribution, link-only line, END marker). Each pattern is
    tried only when the first character allows it (most lines are prose).
    """
    while line.startswith(">"):
        line = line[1:].lstrip()
    if not line:
        return _BLOCK, line
    first = line[0]
    if first == "#":
        if _HEADING.match(line):
            return _HEAD, line
        if _HASHTAGS.match(line):
            return _BLOCK, line
    if (
        first == "|"
        or (first in _RULE_FIRST and _RULE_LINE.match(line))
        or (first in _DASHES and _ATTRIBUTION.match(line))
        or (first in _LINK_FIRST and _LINK_ONLY.match(line))
        or (("|" in line or "/" in line or "｜" in line) and _TAG_ROW.match(line))
    ):
        return _BLOCK, line
    if _LIST_ITEM.match(line):
        return _LIST, line
    if line.startswith("**") and len(line) > 4 and line.endswith("**") and "**" not in line[2:-2]:
        # A line in bold with no sentence end inside is a heading ("**总结**").
        return (_PROSE if _line_end(line) == _TERMINAL else _HEAD), line
    return _PROSE, line


# --- per-character classes and the work rules share ---------------------------------------------
# The character-class signals look every character up in one table over all code points instead
# of running a regex per class; the table is built from the regexes themselves (``_TABLE_BITS``),
# so a character is counted exactly when the regex would match it. Phrase counts first look for
# literals every match must contain (``_PHRASE_ANCHORS``) and run their regex only where one is
# present. tests/text/test_signals_fastpaths.py checks both against the regexes.

_SPACE_BIT, _HAN_BIT, _PUNCT_BIT, _SPECIAL_BIT, _EMOJI_BIT, _TRAD_BIT = 1, 2, 4, 8, 16, 32
_EMOJI_TAIL_BIT = 64  # only looked up for single characters, never counted
_COUNTED_BITS = (_SPACE_BIT, _HAN_BIT, _PUNCT_BIT, _SPECIAL_BIT, _EMOJI_BIT, _TRAD_BIT)
# Each pattern matches runs of one class (or single characters of it).
_TABLE_BITS = (
    (_SPACE_BIT, _SPACE_RUN),
    (_HAN_BIT, _HAN_RUN),
    (_PUNCT_BIT, _PUNCT),
    (_SPECIAL_BIT, _SPECIAL),
    (_EMOJI_BIT, _EMOJI),
    (_EMOJI_TAIL_BIT, _EMOJI_TAIL_LAST),
)
_CODE_POINTS = 0x110000
# Table value -> how many of each counted bit it has (bincount of the values @ this: the counts).
_BIT_COUNTS = np.array([[(v & b) != 0 for b in _COUNTED_BITS] for v in range(256)], np.int64)
_char_tables: dict[frozenset[str] | None, np.ndarray] = {}
_char_bytes: list[bytes] = []


def _build_char_table() -> np.ndarray:
    every = np.arange(_CODE_POINTS, dtype=np.uint32).tobytes().decode("utf-32-le", "surrogatepass")
    table = np.zeros(_CODE_POINTS, np.uint8)
    for bit, pattern in _TABLE_BITS:
        for match in pattern.finditer(every):
            table[match.start() : match.end()] |= bit
    return table


def _char_table(trad_chars: frozenset[str] | None = None) -> np.ndarray:
    """The class bits of every code point, with ``_TRAD_BIT`` on the members of ``trad_chars``.

    Built on first use (~0.1 s for the base table) and kept: one per set of Traditional
    characters, a few sets at most.
    """
    if trad_chars is not None and not isinstance(trad_chars, frozenset):
        trad_chars = frozenset(trad_chars)  # any set works, as it did before the table
    table = _char_tables.get(trad_chars)
    if table is not None:
        return table
    base = _char_tables.get(None)
    if base is None:
        base = _char_tables.setdefault(None, _build_char_table())
    if trad_chars is None:
        return base
    table = base.copy()
    # Only single characters can equal a character of a text.
    codes = [ord(c) for c in trad_chars if isinstance(c, str) and len(c) == 1]
    table[np.array(codes, np.int64)] |= _TRAD_BIT
    if len(_char_tables) > 8:
        _char_tables.pop(next(k for k in list(_char_tables) if k is not None), None)
    _char_tables[trad_chars] = table
    return table


def _char_bits(char: str) -> int:
    """The class bits of one character (see ``_TABLE_BITS``)."""
    if not _char_bytes:
        _char_bytes.append(_char_table().tobytes())
    return _char_bytes[0][ord(char)]


def _case_variants(words: str, sep: str | None = " ") -> list[str]:
    """Every spelling of the ASCII words that ``regex.IGNORECASE`` matches: both cases, and for
    i also İ and ı (``i`` matches İ, ``I`` matches ı), for s ſ, for k the Kelvin sign. ``words``
    are separated by ``sep``; None: one word."""
    extra = {"i": "İı", "s": "ſ", "k": "\u212a"}
    out = []
    for word in words.split(sep) if sep else [words]:
        options = [
            c.lower() + c.upper() + extra.get(c.lower(), "") if c.isascii() and c.isalpha() else c
            for c in word
        ]
        out += ["".join(p) for p in itertools.product(*options)]
    return out


# A check of where an anchor was found: (text, start, end) -> whether a match can use it.
_Check = Callable[[str, int, int], bool]
_Anchor = tuple[str, _Check | None]


def _anchors(words: str, check: _Check | None = None) -> tuple[_Anchor, ...]:
    return tuple((w, check) for w in words.split())


def _joined(firsts: Iterable[str], seconds: str) -> str:
    """Every first + second (seconds: a space-separated list), space-separated."""
    return " ".join(a + b for a in firsts for b in seconds.split())


def _line_start(chars: str) -> _Check:
    """The anchor has only ``chars`` before it on its line (``^`` in MULTILINE: after \\n)."""

    def check(text: str, start: int, _end: int) -> bool:
        return not text[text.rfind("\n", 0, start) + 1 : start].strip(chars)

    return check


_IP = frozenset(_case_variants("ip"))


def _after_ip(text: str, start: int, _end: int) -> bool:
    """``(?i:ip)\\s*`` stands before the anchor."""
    while start and _char_bits(text[start - 1]) & _SPACE_BIT:
        start -= 1
    return text[start - 2 : start] in _IP


_QUOTE_OPENS = frozenset('「“"【')  # after 关注公众号

# A bracket, a syllable (1 to 6 lower-case letters) and a closing bracket.
_BRACKETED_LETTERS = re.compile(r"[(（][a-z]{1,6}[)）]")


def _pinyin_shape(text: str, start: int, _end: int) -> bool:
    """A Han character, then ``_BRACKETED_LETTERS`` from the anchor on."""
    return bool(
        start and _char_bits(text[start - 1]) & _HAN_BIT and _BRACKETED_LETTERS.match(text, start)
    )


# Literals a match of each phrase regex must contain, and optionally a check of the text around
# one. Derived alternative by alternative from _BOILERPLATE, _AD, _ASSISTANT, _URL and
# _PINYIN_INSERT (the comments name the alternatives not spelled out); change them together.
_UI_LINE = _line_start(" \t")
_PHRASE_ANCHORS: Mapping[str, tuple[_Anchor, ...]] = MappingProxyType(
    {
        "boilerplate_hits": (
            *_anchors("谢邀 著作权归 首发于 原文链接 原文地址 阅读原文 不迷路 一键三连 赞同了该"),
            *_anchors("展开阅读全文 展开全文 显示全部 查看全部 收起全文 条评论 添加评论 原创文章"),
            *_anchors("侵删 如有侵权 本词条 全文完 摘编 转载请"),
            *_anchors(_joined("止绝勿禁得式的", "转载")),  # (禁止|...|请勿)转载, 未经...转载
            *_anchors(_joined("的本", "公众号 微信公众号")),  # 关注(我的|我们的|本)(微信)?公众号
            *_anchors("关注公众号", lambda text, _start, end: text[end : end + 1] in _QUOTE_OPENS),
            *_anchors(_joined(("版权声明", "责任编辑"), ": ：")),
            *_anchors("属地", _after_ip),
            *_anchors("谢谢 感谢", _line_start(" \t>")),
            *_anchors(_joined(("编辑", "发布", "发表", "修改", "更新"), "于 时间")),
            *_anchors(_joined(["本文"], "首发 最早 原载 首载 转载 转自 摘自 来源于 来自")),
            # (点击|欢迎|求|记得|麻烦|顺手|顺便|别忘了?)(一下)?(关注|点赞|三连|转发)
            *_anchors(_joined("击迎求得烦手便忘了下", "关注 点赞 三连 转发")),
            # A UI row starts with a label (添加评论 and \d+条评论 are above).
            *_anchors("赞同 反对 收藏 喜欢 分享 举报 评论 转发 点赞 回复", _UI_LINE),
            *_anchors(_joined(("来源", "链接"), ": ："), _UI_LINE),
            # (图片|配图|图)(来自|来源于?|源自|源于?)(网络|互联网)
            *_anchors(_joined(("来自", "源自", "源于", "源"), "网络 互联网")),
            *_anchors(" ".join(_case_variants("end")), _line_start(" \t—-=*~·")),
        ),
        "ad_hits": (
            *_anchors(" ".join(_case_variants("vx wx qq q群 v信"))),
            *_anchors("微信 威信 薇信 扣扣 私信 领取 优惠券 惠码 扣码 扫码 二维码 小程序码"),
            *_anchors("名额有限 限时 点击 淘口令 加客服 加小助 加助教"),
            *_anchors(_joined("流丝习", "群")),  # (交流|粉丝|学习)群; 扣扣群 has 扣扣
            *_anchors(_joined("宝猫多", "店铺 搜索")),
            *_anchors(_joined("招募", "代理 加盟")),
            *_anchors(_joined("询购盟约", "热线 电话")),
        ),
        "assistant_hits": (
            # _SELF after 作为, 是, 一[个名款位], 由...的; AI and 人工智能 also after 虚拟 and
            # 智能, 语言模型 after 大 and 大型.
            *_anchors(_joined("为个名款位是的拟能", " ".join(_case_variants("ai")) + " 人工智能")),
            *_anchors(_joined("为个名款位是的型大", "语言模型")),
            *_anchors(_joined("拟能天", "助 机器人")),  # (虚拟|智能|聊天)(助手|助理|机器人)
            *((v, None) for v in _case_variants("as an ai", sep=None)),
            *_anchors("抱歉 我无法 我不能 截至我 截止我 截至到我 截止到我 我的知识 我的训练"),
            *_anchors("我没有 我不具备 " + " ".join(_case_variants("openai gpt"))),
        ),
        "url": _anchors(":// " + " ".join(_case_variants("www."))),
        # A bracket and the first letter of a syllable (every lower-case letter can start one).
        "pinyin_inserts": _anchors(_joined("(（", " ".join(string.ascii_lowercase)), _pinyin_shape),
    }
)


class _Anchors:
    """Finds which phrase rules a text may match, in one Aho-Corasick pass over their anchors."""

    __slots__ = ("_automaton", "_entries", "_rules")

    def __init__(self, anchors: Mapping[str, Iterable[_Anchor]]):
        entries: dict[str, list[tuple[str, _Check | None]]] = {}
        for rule, pairs in anchors.items():
            for literal, check in pairs:
                entries.setdefault(literal, []).append((rule, check))
        self._entries = tuple(tuple(e) for e in entries.values())
        self._rules = frozenset(anchors)
        self._automaton = ahocorasick_rs.AhoCorasick(
            list(entries), implementation=ahocorasick_rs.Implementation.DFA
        )

    def rules_in(self, text: str) -> frozenset[str] | set[str]:
        """The rules whose regex may match: those with an anchor (that passes its check)."""
        try:
            found = self._automaton.find_matches_as_indexes(text, overlapping=True)
        except UnicodeEncodeError:  # lone surrogates: no pre-check, every regex runs
            return self._rules
        rules: set[str] = set()
        for index, start, end in found:
            for rule, check in self._entries[index]:
                if rule not in rules and (check is None or check(text, start, end)):
                    rules.add(rule)
        return rules


_ANCHORS = _Anchors(_PHRASE_ANCHORS)


class _Facts:
    """One text and what several rules derive from it, each computed on first use."""

    __slots__ = (
        "_classified",
        "_cls",
        "_counts",
        "_cps",
        "_phrases",
        "_trad",
        "_urls",
        "_walk",
        "text",
    )

    def __init__(self, text: str, trad_chars: frozenset[str] | None = None):
        self.text = text
        self._trad = trad_chars
        self._counts: list[int] | None = None
        self._phrases: frozenset[str] | set[str] | None = None
        self._urls: int | None = None
        self._walk: list[tuple[int, str]] | None = None
        self._classified: list[tuple[int, str]] | None = None

    def counts(self) -> list[int]:
        """Characters per counted class: whitespace, Han, punctuation, special, emoji, trad."""
        if self._counts is None:
            self._cps = np.frombuffer(self.text.encode("utf-32-le", "surrogatepass"), np.uint32)
            self._cls = _char_table(self._trad)[self._cps]
            self._counts = (np.bincount(self._cls, minlength=256) @ _BIT_COUNTS).tolist()
        return self._counts

    def visible(self) -> int:
        """Non-whitespace characters."""
        return len(self.text) - self.counts()[0]

    def top_char_count(self) -> int:
        """Occurrences of the most frequent non-whitespace character; 0 without one."""
        spaces = self.counts()[0]
        cps = self._cps if not spaces else self._cps[(self._cls & _SPACE_BIT) == 0]
        if not cps.size:
            return 0
        cps = np.sort(cps)
        # Run boundaries of the sorted code points, the ends included.
        edges = np.empty(cps.size + 1, bool)
        edges[0] = edges[-1] = True
        np.not_equal(cps[1:], cps[:-1], out=edges[1:-1])
        return int(np.diff(np.flatnonzero(edges)).max())

    def may_match(self, rule: str) -> bool:
        """False when the phrase regex of ``rule`` (a key of _PHRASE_ANCHORS) cannot match."""
        if self._phrases is None:
            self._phrases = _ANCHORS.rules_in(self.text)
        return rule in self._phrases

    def url_count(self) -> int:
        if self._urls is None:
            self._urls = len(_URL.findall(self.text)) if self.may_match("url") else 0
        return self._urls

    def walk(self) -> list[tuple[int, str]]:
        """:func:`_walk_lines` of the text."""
        if self._walk is None:
            self._walk = _walk_lines(self.text)
        return self._walk

    def last_line(self) -> tuple[int, str]:
        """The last entry of :meth:`classified` (of a text with at least one line)."""
        if self._classified is not None:
            return self._classified[-1]
        kind, line = self.walk()[-1]
        return _classify(line) if kind == _TEXT else (kind, line)

    def classified(self) -> list[tuple[int, str]]:
        """:func:`_walk_lines` with every _TEXT line replaced by :func:`_classify` of it."""
        if self._classified is None:
            self._classified = [
                _classify(line) if kind == _TEXT else (kind, line) for kind, line in self.walk()
            ]
        return self._classified


# --- basic character signals ----------------------------------------------------------------------


def char_len(text: str) -> float:
    """Number of characters (Chinese text is measured in characters, not words)."""
    return float(len(text))


def _visible_share(facts: _Facts, index: int) -> float:
    visible = facts.visible()
    return facts.counts()[index] / visible if visible else 0.0


def _cjk_ratio(facts: _Facts) -> float:
    return _visible_share(facts, 1)


def cjk_ratio(text: str) -> float:
    """Fraction of non-whitespace characters that are Han ideographs; 0 for empty text."""
    return _cjk_ratio(_Facts(text))


def _trad_ratio(facts: _Facts) -> float:
    counts = facts.counts()
    han = counts[1]
    return min(1.0, counts[5] / han) if han else 0.0


def trad_ratio(text: str, trad_chars: frozenset[str]) -> float:
    """Fraction of Han characters that are Traditional-only; 0 without Han characters.

    Args:
        text: the text.
        trad_chars: the Traditional-only Han characters (see :func:`traditional_chars`); every
            character of the text that is in the set counts.
    """
    return _trad_ratio(_Facts(text, trad_chars))


def _punct_ratio(facts: _Facts) -> float:
    return _visible_share(facts, 2)


def punct_ratio(text: str) -> float:
    """Fraction of non-whitespace characters that are punctuation; 0 for empty text."""
    return _punct_ratio(_Facts(text))


def _special_char_ratio(facts: _Facts) -> float:
    return _visible_share(facts, 3)


def special_char_ratio(text: str) -> float:
    """Fraction of non-whitespace characters that are symbols or other non-text characters.

    Counts Unicode symbols (S*: currency, math, modifier and other symbols such as ￥ + | ~ ★) and
    other characters (C*: controls, format, private use, unassigned), but not whitespace, emoji
    (counted by :func:`emoji_ratio`) or the pieces emoji are built from. Letters, digits and
    punctuation are not special. 0 for empty text.
    """
    return _special_char_ratio(_Facts(text))


def _emoji_ratio(facts: _Facts) -> float:
    return _visible_share(facts, 4)


def emoji_ratio(text: str) -> float:
    """Fraction of non-whitespace characters that are emoji pictographs; 0 for empty text."""
    return _emoji_ratio(_Facts(text))


def _url_count(facts: _Facts) -> float:
    return float(facts.url_count())


def url_count(text: str) -> float:
    """Number of URLs in the text."""
    return _url_count(_Facts(text))


def _url_density(facts: _Facts) -> float:
    text = facts.text
    return 1000.0 * facts.url_count() / len(text) if text else 0.0


def url_density(text: str) -> float:
    """URLs per 1,000 characters of the text; 0 for empty text."""
    return _url_density(_Facts(text))


# --- lines and paragraphs -------------------------------------------------------------------------


def sentence_end_ratio(text: str) -> float:
    """Fraction of prose lines that end a sentence; 1.0 when the text has no prose line.

    Prose lines are the non-empty lines that are not Markdown structure: list items (``-``,
    ``1.``, ``1、``, ``（一）``, ``①`` ...), headings, bold-only headings, fenced code, ``$$``
    blocks, table rows, rules, hashtag lines, keyword rows ("瘦腿 | 筷子腿 | 漫画腿"),
    attributions ("——彼得·德鲁克"), link-only lines. Blockquote markers are removed first.

    A prose line ends a sentence when, after trailing ``*``/``_``/backticks, its last character
    is a sentence end (。！？!?…．.～~), a closing quote or bracket (”’」』"）)】]》), ``$``
    (inline math), a clause end that introduces or continues an enumeration (：:；;), or an
    emoji (emoticon codes such as [偷笑R] end in a bracket); a line ending in option letters
    after 答案/选 ("故选：B") or in a URL counts too. Lines ending in ，、 or a plain character
    do not: they are fragments (navigation, titles, keyword lists) or hard-wrapped text.
    """
    return _sentence_end_ratio(_Facts(text))


def _sentence_end_ratio(facts: _Facts) -> float:
    total = ended = 0
    for kind, line in facts.classified():
        if kind == _PROSE:
            total += 1
            ended += _line_end(line) != _OPEN
    return ended / total if total else 1.0


def truncated(text: str) -> float:
    """1.0 if the text ends mid-sentence, else 0.0; 0.0 for empty text.

    The last non-empty line decides:

    - inside an unclosed ``` fence or ``$$`` block: truncated;
    - a Markdown heading: truncated (the section it opens is missing);
    - the end of a block (closing fence, ``$$`` formula, table row, rule, hashtag line, keyword
      row, attribution, link-only line, END marker): not truncated;
    - a list item: not truncated (the end of a list) unless it ends in a mark that needs a
      continuation: ，、,：: or an opening bracket or quote such as （“《;
    - prose: not truncated when it ends a sentence as in :func:`sentence_end_ratio` but without
      clause ends: a text that stops at ；or ：has stopped mid-enumeration.

    Real truncation and a casual answer that ends without punctuation look the same here.
    """
    return _truncated(_Facts(text))


def _truncated(facts: _Facts) -> float:
    lines = facts.walk()
    if not lines:
        return 0.0
    kind, line = facts.last_line()
    if kind in (_CODE_OPEN, _MATH_OPEN, _HEAD):
        return 1.0
    if kind == _BLOCK:
        return 0.0
    if kind == _LIST:
        tail = line.rstrip(_EMPHASIS)[-1:]
        return 1.0 if tail and tail in _NEEDS_MORE else 0.0
    return 0.0 if _line_end(line) == _TERMINAL else 1.0


# Marks after which a text cannot end: a clause continues, a list or quote opens. Unlike
# truncated(), the clause ends ；; are not here: COIG-CQIA's lists and exam analyses end on them
# by style.
_CONTINUES = frozenset("，、,：:（(“‘「『《【[〔〈")
_LONE_HAN = regex.compile(r"^\p{Han}$")


def cut_off(text: str) -> float:
    """1.0 if the text was visibly cut off or left a block open, else 0.0; 0.0 for empty text.

    A stricter sibling of :func:`truncated`, meant for data that is already clean (the
    published COIG-CQIA files), where an answer ending without a full stop is usually style
    (8% of its Zhihu answers) rather than a cut. It fires only on endings no finished text has:

    - the text ends inside a ``` fence or a ``$$`` block (an unclosed block is a format defect
      even when the prose after it is whole);
    - the last character (after trailing ``*``/``_``/backticks) continues a clause or opens
      something: ，、,：: or an opening bracket or quote such as （“《 — on any kind of line,
      headings and list items included;
    - the last line opens a book-title mark 《 it does not close (``——高鼎《村居``);
    - the last line is a single Han character after other lines (``…获得成功。\n大``).
    """
    return _cut_off(_Facts(text))


def _cut_off(facts: _Facts) -> float:
    lines = facts.walk()
    if not lines:
        return 0.0
    kind, line = lines[-1]
    if kind in (_CODE_OPEN, _MATH_OPEN):
        return 1.0
    if kind == _BLOCK:
        return 0.0
    tail = line.rstrip(_EMPHASIS)
    if not tail:
        return 0.0
    if tail[-1] in _CONTINUES or tail.rfind("《") > tail.rfind("》"):
        return 1.0
    return 1.0 if len(lines) > 1 and _LONE_HAN.match(tail) else 0.0


def _dup_frac(parts: Iterable[str]) -> float:
    parts = [p for p in parts if p]
    total = sum(len(p) for p in parts)
    if not total:
        return 0.0
    seen: set[str] = set()
    dup = 0
    for part in parts:
        if part in seen:
            dup += len(part)
        else:
            seen.add(part)
    return dup / total


_PARAGRAPH_BREAK = regex.compile(r"\n[^\S\n]*\n")


def dup_line_frac(text: str) -> float:
    """Fraction of characters in non-empty lines that repeat an earlier line (Gopher-style)."""
    return _dup_frac(line.strip() for line in text.split("\n"))


def dup_para_frac(text: str) -> float:
    """Fraction of paragraph characters in paragraphs that repeat an earlier one (Gopher-style).

    Paragraphs are separated by blank lines and compared after stripping outer whitespace; their
    inner line breaks count as characters. 0 for a text without repeated paragraphs.
    """
    return _dup_frac(p.strip() for p in _PARAGRAPH_BREAK.split(text))


def top_char_frac(text: str) -> float:
    """Fraction of non-whitespace characters taken by the most frequent one ("顶顶顶" → 1.0)."""
    return _top_char_frac(_Facts(text))


def _top_char_frac(facts: _Facts) -> float:
    visible = facts.visible()
    return facts.top_char_count() / visible if visible else 0.0


# --- character n-gram repetition ------------------------------------------------------------------

TOP_NGRAM_NS = (2, 3, 4)
DUP_NGRAM_NS = (5, 6, 7, 8, 9, 10)
_CP_BITS = np.uint64(21)  # code points < 2**21; a class id shifted by 21 bits fits in 64
_SENTINEL = 0x110000  # past the last code point; sentinels are distinct, so never repeat


def _coverage(starts: np.ndarray, n: int) -> int:
    """Characters covered by n-grams at the ascending positions ``starts``."""
    if not len(starts):
        return 0
    return n + int(np.minimum(starts[1:] - starts[:-1], n).sum())


def ngram_repetition(
    text: str, top: Iterable[int] = TOP_NGRAM_NS, dup: Iterable[int] = DUP_NGRAM_NS
) -> tuple[dict[int, float], dict[int, float]]:
    """Top and duplicate character n-gram fractions of the visible characters, in one pass.

    Args:
        text: the text; whitespace is removed first.
        top: the n (>= 2) for which to compute the share of characters covered by the most
            frequent n-gram (ties: the one covering most characters).
        dup: the n (>= 2) for which to compute the share of characters covered by n-grams that
            occur more than once.

    Returns:
        ``({n: top fraction}, {n: duplicate fraction})``.

    Exact, no hashing: n-grams are grouped for n = 2 (or 3), 3, ... by sorting (group of the
    (n-1)-gram, next code point) pairs, and only positions whose (n-1)-gram repeats are carried
    to n, since an n-gram can only repeat where its prefix does. A third of the positions of
    typical Chinese text survive n = 2 and a tenth n = 5, so the cost is a few sorts of at most
    the text's length (benchmarks/bench_signals.py).
    """
    top, dup = tuple(top), tuple(dup)
    if any(n < 2 for n in (*top, *dup)):
        raise ValueError(f"n-gram sizes must be >= 2, got top={top}, dup={dup}")
    tops = dict.fromkeys(top, 0.0)
    dups = dict.fromkeys(dup, 0.0)
    visible = "".join(text.split())
    size = len(visible)
    if not size or not (top or dup):
        return tops, dups
    n_max = max((*top, *dup))
    cps = np.empty(size + n_max, np.uint64)
    cps[:size] = np.frombuffer(visible.encode("utf-32-le", "surrogatepass"), np.uint32)
    # n-grams running past the end get distinct sentinels, so they never repeat.
    cps[size:] = np.arange(_SENTINEL, _SENTINEL + n_max, dtype=np.uint64)
    # The first step packs n0 code points (3 x 21 bits fit in 64) and skips the steps below.
    n0 = min(3, *top, *dup)
    pos = np.arange(size)
    key = cps[:size].copy()
    for j in range(1, n0):
        key = (key << _CP_BITS) | cps[j : size + j]
    for n in range(n0, n_max + 1):
        order = key.argsort()
        keys, pos = key[order], pos[order]
        first = np.empty(len(keys), bool)
        first[0] = True
        np.not_equal(keys[1:], keys[:-1], out=first[1:])
        if n in tops:
            tops[n] = _top_coverage(first, pos, n, size) / size
        repeated = ~first
        repeated[:-1] |= ~first[1:]
        if not repeated.any():
            for m in tops:
                if m > n:
                    tops[m] = m / size if size >= m else 0.0
            break
        group = np.cumsum(first, dtype=np.uint64)[repeated]
        pos = pos[repeated]
        if n in dups:
            dups[n] = _coverage(np.sort(pos), n) / size
        # The (n+1)-gram at a position: its n-gram's group, then the next code point.
        key = (group << _CP_BITS) | cps[pos + n]
    return tops, dups


def _top_coverage(first: np.ndarray, pos: np.ndarray, n: int, size: int) -> int:
    """Coverage of the most frequent n-gram among sorted keys (``first`` marks group starts)."""
    starts = first.nonzero()[0]
    counts = np.empty_like(starts)
    counts[:-1] = starts[1:] - starts[:-1]
    counts[-1] = len(first) - starts[-1]
    most = int(counts.max())
    if most < 2:
        return n if size >= n else 0
    tied = starts[counts == most]
    grid = pos[tied[:, None] + np.arange(most)]
    grid.sort(axis=1)
    covered = n + np.minimum(grid[:, 1:] - grid[:, :-1], n).sum(axis=1)
    return int(covered.max())


def top_ngram_frac(text: str, n: int) -> float:
    """Share of visible characters covered by the most frequent character n-gram."""
    return ngram_repetition(text, (n,), ())[0][n]


def dup_ngram_frac(text: str, n: int) -> float:
    """Share of visible characters covered by character n-grams that occur more than once."""
    return ngram_repetition(text, (), (n,))[1][n]


# --- phrase counts --------------------------------------------------------------------------------


def boilerplate_hits(text: str) -> float:
    """Number of site-chrome phrases: 谢邀, 编辑于 <date>, IP属地, 著作权归作者所有, 转载请注明,
    本文首发于, 原文链接, 点击关注, UI rows (赞同 1.2万 · 收藏 · 分享), 来源：知乎, 侵删, END..."""
    return _boilerplate_hits(_Facts(text))


def _phrase_hits(facts: _Facts, rule: str, pattern: regex.Pattern[str]) -> float:
    return float(len(pattern.findall(facts.text))) if facts.may_match(rule) else 0.0


def _boilerplate_hits(facts: _Facts) -> float:
    return _phrase_hits(facts, "boilerplate_hits", _BOILERPLATE)


def ad_hits(text: str) -> float:
    """Number of advertising or contact-harvesting phrases (加微信, 私信领取, 优惠券...)."""
    return _ad_hits(_Facts(text))


def _ad_hits(facts: _Facts) -> float:
    return _phrase_hits(facts, "ad_hits", _AD)


def assistant_hits(text: str) -> float:
    """Number of AI-assistant phrases: 作为一个AI语言模型, 我是人工智能助手, 抱歉，我无法,
    我不能提供, 截至我的知识截止日期, 我没有个人观点, 由OpenAI开发..."""
    return _assistant_hits(_Facts(text))


def _assistant_hits(facts: _Facts) -> float:
    return _phrase_hits(facts, "assistant_hits", _ASSISTANT)


# A Han character followed by a bracketed toneless pinyin syllable: 烟(yan)台市(shi). Spinning
# tools insert these to make a copied article look new to keyword and duplicate filters;
# annotations in teaching material carry tone marks (长(zhǎng)) and English glosses in
# encyclopedias (劳动力（labour）) are no syllable: neither matches.
_PINYIN_SYLLABLE = (
    r"(?:zh|ch|sh|[bpmfdtnlgkhjqxrzcsyw])?"
    r"(?:iang|iong|uang|ueng|ang|eng|ong|ing|ian|iao|uai|uan|van|ai|ei|ao|ou|an|en|er|ia|ie|iu"
    r"|in|ua|uo|ui|un|ue|ve|vn|a|o|e|i|u|v)"
)
_PINYIN_INSERT = regex.compile(rf"\p{{Han}}[(（]{_PINYIN_SYLLABLE}[)）]")


def pinyin_inserts(text: str) -> float:
    """Number of toneless pinyin syllables bracketed after a Han character (烟(yan)台), the mark of
    spun (machine-rewritten) copies of web articles."""
    return _pinyin_inserts(_Facts(text))


def _pinyin_inserts(facts: _Facts) -> float:
    return _phrase_hits(facts, "pinyin_inserts", _PINYIN_INSERT)


# --- lexicons -------------------------------------------------------------------------------------

LAYOUTS = ("auto", "word_category", "category_word")
_ASCII_WORD = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")


def _fold(text: str) -> str:
    """Lower case, keeping the length (offsets of matches must stay valid)."""
    low = text.lower()
    if len(low) == len(text):
        return low
    return "".join(c if len(c.lower()) != 1 else c.lower() for c in text)


class Lexicon:
    """An immutable word list with optional categories, matched with Aho-Corasick.

    Matching is case-insensitive and finds leftmost-longest, non-overlapping occurrences. A word
    that starts (ends) with an ASCII letter or digit matches only where the text has no ASCII
    letter or digit just before (after) it, so "av" does not match inside "java"; Chinese words
    match anywhere, including single characters. Build it with :func:`load_lexicon`; the
    automaton is built once and only read afterwards.

    The automaton is ahocorasick_rs (Rust): on Chinese text it ran about 8 times faster than
    pyahocorasick (whose trie nodes search their children linearly, and a CJK root has
    hundreds) and 30 times faster than one regex alternation (benchmarks/results/
    signals_speed.md).

    Args:
        words: word → its categories (possibly empty).
    """

    __slots__ = ("_ascii", "_automaton", "_categories", "_patterns", "_words")

    def __init__(self, words: Mapping[str, Iterable[str]]):
        folded: dict[str, list[str]] = {}
        for word, cats in words.items():
            key = _fold(word.strip())
            if not key:
                raise ValueError(f"empty word in lexicon: {word!r}")
            merged = folded.setdefault(key, [])
            merged.extend(c for c in cats if c and c not in merged)
        self._words = MappingProxyType({w: tuple(c) for w, c in folded.items()})
        self._categories = tuple(dict.fromkeys(c for cats in self._words.values() for c in cats))
        self._patterns = tuple(self._words)
        self._ascii = tuple((w[0] in _ASCII_WORD, w[-1] in _ASCII_WORD) for w in self._patterns)
        self._automaton = (
            ahocorasick_rs.AhoCorasick(
                self._patterns, matchkind=ahocorasick_rs.MatchKind.LeftmostLongest
            )
            if self._patterns
            else None
        )

    @property
    def words(self) -> Mapping[str, tuple[str, ...]]:
        """Word (lower-cased) → its categories, read-only."""
        return self._words

    @property
    def categories(self) -> tuple[str, ...]:
        """The categories in order of first appearance."""
        return self._categories

    def __len__(self) -> int:
        return len(self._words)

    def __repr__(self) -> str:
        return f"Lexicon({len(self._words)} words, categories={list(self._categories)})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (Lexicon, (dict(self._words),))

    def matches(self, text: str) -> list[tuple[int, str]]:
        """``(start, word)`` of every match, in text order; ``word`` as stored (lower case)."""
        if self._automaton is None or not text:
            return []
        folded = _fold(text)
        found = []
        for index, start, end in self._automaton.find_matches_as_indexes(folded):
            ascii_start, ascii_end = self._ascii[index]
            if ascii_start and start > 0 and folded[start - 1] in _ASCII_WORD:
                continue
            if ascii_end and end < len(folded) and folded[end] in _ASCII_WORD:
                continue
            found.append((start, self._patterns[index]))
        return found

    def count(self, text: str) -> tuple[int, dict[str, int]]:
        """Number of matches and matches per category (every category, zeros included)."""
        per = dict.fromkeys(self.categories, 0)
        matches = self.matches(text)
        for _start, word in matches:
            for cat in self._words[word]:
                per[cat] += 1
        return len(matches), per


def load_lexicon(source: "str | bytes | os.PathLike[str]", layout: str = "auto") -> Lexicon:
    """Reads a word list: one word per line, optionally with a category in a second column.

    Lines are split on a tab; blank lines and lines starting with ``#`` are skipped; a UTF-8 BOM
    is ignored. A word listed under several categories belongs to all of them.

    Args:
        source: the list's text (a ``str`` holding a newline or a tab; a one-word list is
            ``"word\\n"``), its UTF-8 bytes (e.g. read through Beam's ``FileSystems``), or the
            path of a local file (a ``Path``, or a ``str`` without newline or tab).
        layout: ``word_category`` (``word<TAB>category``), ``category_word``
            (``category<TAB>word``, the ChineseWebText layout), or ``auto``: the column with
            fewer distinct values is the category (``word_category`` on a tie).

    Raises:
        FileNotFoundError: when a path does not exist.
        ValueError: on an unknown layout or a line with more than two columns or no word.
    """
    if layout not in LAYOUTS:
        raise ValueError(f"unknown lexicon layout {layout!r}; use one of {list(LAYOUTS)}")
    if isinstance(source, bytes):
        text = source.decode("utf-8")
    elif isinstance(source, str) and ("\n" in source or "\t" in source):
        text = source
    else:
        text = Path(source).read_text(encoding="utf-8")
    rows: list[tuple[int, list[str]]] = []
    for number, raw in enumerate(text.lstrip("\ufeff").splitlines(), 1):
        if not raw.strip() or raw.lstrip().startswith("#"):
            continue
        cols = [c.strip() for c in raw.split("\t")]
        if len(cols) > 2 or not all(cols):
            raise ValueError(f"lexicon line {number}: expected word[<TAB>category], got {raw!r}")
        rows.append((number, cols))
    if layout == "auto":
        pairs = [cols for _, cols in rows if len(cols) == 2]
        first = {c[0] for c in pairs}
        second = {c[1] for c in pairs}
        layout = "category_word" if len(first) < len(second) else "word_category"
    words: dict[str, tuple[str, ...]] = {}
    for _number, cols in rows:
        if len(cols) == 1:
            word, cats = cols[0], ()
        elif layout == "word_category":
            word, cats = cols[0], (cols[1],)
        else:
            word, cats = cols[1], (cols[0],)
        words[word] = (*words.get(word, ()), *cats)
    return Lexicon(words)


def sensitive_hits(text: str, lexicon: Lexicon) -> dict[str, float]:
    """``sensitive_hits`` (matches of the lexicon) and ``sensitive.<category>`` per category."""
    total, per = lexicon.count(text)
    out = {"sensitive_hits": float(total)}
    out.update({f"sensitive.{cat}": float(n) for cat, n in per.items()})
    return out


# --- context --------------------------------------------------------------------------------------


def traditional_chars(convert: Callable[[str], str] | None = None) -> frozenset[str]:
    """The Traditional-only Han characters of a t2s converter (OpenCC ``t2s`` if None; ~0.2 s).

    Build it once per process (e.g. in a DoFn's ``setup``) and pass it in a
    :class:`SignalContext`.
    """
    if convert is None:
        import opencc  # only workers that compute trad_ratio need OpenCC

        convert = opencc.OpenCC("t2s").convert
    return frozenset(c for c in traditional_only_chars(convert) if _HAN.match(c))


@dataclasses.dataclass(frozen=True)
class SignalContext:
    """Data some rules need, built once per process and shared read-only by every call.

    Attributes:
        trad_chars: Traditional-only characters, for ``trad_ratio`` (:func:`traditional_chars`).
        sensitive: the sensitive-word lexicon, for ``sensitive_hits`` (:func:`load_lexicon`).
    """

    trad_chars: frozenset[str] | None = None
    sensitive: Lexicon | None = None


# --- rules ----------------------------------------------------------------------------------------

# Rules with one signal named like the rule, computed over a record's main content.
CONTENT_RULES: Mapping[str, Callable[[str], float]] = MappingProxyType(
    {
        "cjk_ratio": cjk_ratio,
        "punct_ratio": punct_ratio,
        "dup_line_frac": dup_line_frac,
        "top_char_frac": top_char_frac,
        "url_count": url_count,
        "emoji_ratio": emoji_ratio,
        "ad_hits": ad_hits,
        "special_char_ratio": special_char_ratio,
        "url_density": url_density,
        "sentence_end_ratio": sentence_end_ratio,
        "truncated": truncated,
        "dup_para_frac": dup_para_frac,
        "boilerplate_hits": boilerplate_hits,
        "assistant_hits": assistant_hits,
        "pinyin_inserts": pinyin_inserts,
        "cut_off": cut_off,
    }
)
# The same rules on a _Facts, which shares work between the rules of one text.
_FACT_RULES: Mapping[str, Callable[[_Facts], float]] = MappingProxyType(
    {
        "cjk_ratio": _cjk_ratio,
        "punct_ratio": _punct_ratio,
        "dup_line_frac": lambda facts: dup_line_frac(facts.text),
        "top_char_frac": _top_char_frac,
        "url_count": _url_count,
        "emoji_ratio": _emoji_ratio,
        "ad_hits": _ad_hits,
        "special_char_ratio": _special_char_ratio,
        "url_density": _url_density,
        "sentence_end_ratio": _sentence_end_ratio,
        "truncated": _truncated,
        "dup_para_frac": lambda facts: dup_para_frac(facts.text),
        "boilerplate_hits": _boilerplate_hits,
        "assistant_hits": _assistant_hits,
        "pinyin_inserts": _pinyin_inserts,
        "cut_off": _cut_off,
    }
)
# Content rules about how the answer ends, computed on answer_of(record), not content_of(record).
ENDING_RULES = frozenset({"cut_off"})
# Rules giving a family of signals: <rule>.<n>.
NGRAM_RULES = ("top_ngram_frac", "dup_ngram_frac")
# Rules that need a SignalContext, and the attribute each needs.
CONTEXT_RULES: Mapping[str, str] = MappingProxyType(
    {"trad_ratio": "trad_chars", "sensitive_hits": "sensitive"}
)
# "chars" gives one signal per text field: chars.<field>.
RULES = ("chars", *CONTENT_RULES, *NGRAM_RULES, *CONTEXT_RULES)
# The rules ScoreQuality computed before the context existed; all need no context.
DEFAULT_RULES = (
    "chars",
    "cjk_ratio",
    "punct_ratio",
    "dup_line_frac",
    "top_char_frac",
    "url_count",
    "emoji_ratio",
    "ad_hits",
)

RAW_TEXT_FIELDS = ("title", "question", "body", "answer")
CQIA_TEXT_FIELDS = ("instruction", "input", "output")


def make_context(
    rules: Iterable[str],
    *,
    sensitive: "Lexicon | str | bytes | os.PathLike[str] | None" = None,
    t2s: Callable[[str], str] | None = None,
) -> SignalContext:
    """Builds the context the given rules need (and nothing more).

    Args:
        rules: the rules that will be computed.
        sensitive: the sensitive lexicon, or its source for :func:`load_lexicon`.
        t2s: the converter for :func:`traditional_chars` (OpenCC ``t2s`` if None).

    Raises:
        ValueError: when ``sensitive_hits`` is asked for without a lexicon.
    """
    rules = set(rules)
    trad = traditional_chars(t2s) if "trad_ratio" in rules else None
    lexicon = None
    if "sensitive_hits" in rules:
        if sensitive is None:
            raise ValueError("rule 'sensitive_hits' needs a sensitive-word lexicon")
        lexicon = sensitive if isinstance(sensitive, Lexicon) else load_lexicon(sensitive)
    return SignalContext(trad_chars=trad, sensitive=lexicon)


def check_rules(rules: Iterable[str], context: SignalContext | None = None) -> None:
    """Raises ValueError naming unknown rules or rules the context cannot serve."""
    rules = list(rules)
    unknown = [r for r in rules if r not in RULES]
    if unknown:
        raise ValueError(f"unknown rules {unknown}; known: {list(RULES)}")
    missing = [
        f"{r} (needs SignalContext.{CONTEXT_RULES[r]})"
        for r in rules
        if r in CONTEXT_RULES and getattr(context, CONTEXT_RULES[r], None) is None
    ]
    if missing:
        raise ValueError(f"rules need a context: {', '.join(missing)}; see make_context()")


def text_fields_of(record: object) -> tuple[str, ...]:
    """The text fields of a RawDoc (or RawDoc-shaped row) or of a CqiaRecord-shaped row."""
    if hasattr(record, "instruction"):
        return CQIA_TEXT_FIELDS
    return RAW_TEXT_FIELDS


def content_of(record: object) -> str:
    """The text a reader receives as the answer: answer and body (RawDoc) or output (CQIA).

    Falls back to the question (or instruction) when there is no answer-side text, so a record
    is never scored on nothing when it has text.
    """
    if hasattr(record, "instruction"):
        parts = [record.output]  # type: ignore[attr-defined]
        fallback = record.instruction  # type: ignore[attr-defined]
    else:
        parts = [record.answer, record.body]  # type: ignore[attr-defined]
        fallback = record.question or record.title  # type: ignore[attr-defined]
    text = "\n".join(p for p in parts if p)
    return text or fallback


def compute_text(
    text: str, rules: Iterable[str], context: SignalContext | None = None
) -> dict[str, float]:
    """Computes the content rules (all but ``chars``) on one text: ``{signal_name: value}``.

    Raises:
        ValueError: when a rule is unknown or needs what the context lacks.
    """
    rules = [r for r in rules if r != "chars"]
    check_rules(rules, context)
    return _content_signals(text, rules, context)


def _content_signals(
    text: str, rules: list[str], context: SignalContext | None
) -> dict[str, float]:
    out: dict[str, float] = {}
    trad = context.trad_chars if context is not None and "trad_ratio" in rules else None
    facts = _Facts(text, trad)
    want_top, want_dup = "top_ngram_frac" in rules, "dup_ngram_frac" in rules
    ngrams = None
    if want_top or want_dup:
        ngrams = ngram_repetition(
            text, TOP_NGRAM_NS if want_top else (), DUP_NGRAM_NS if want_dup else ()
        )
    for rule in rules:
        fn = _FACT_RULES.get(rule)
        if fn is not None:
            out[rule] = fn(facts)
        elif rule == "top_ngram_frac" and ngrams is not None:
            out.update({f"top_ngram_frac.{n}": v for n, v in ngrams[0].items()})
        elif rule == "dup_ngram_frac" and ngrams is not None:
            out.update({f"dup_ngram_frac.{n}": v for n, v in ngrams[1].items()})
        elif rule == "trad_ratio":
            out[rule] = _trad_ratio(facts)
        elif rule == "sensitive_hits":
            out.update(sensitive_hits(text, context.sensitive))  # type: ignore[union-attr,arg-type]
    return out


def compute(
    record: object, rules: tuple[str, ...] | list[str], context: SignalContext | None = None
) -> dict[str, float]:
    """Computes the named rules on a record and returns ``{signal_name: value}``.

    Args:
        record: a RawDoc or CqiaRecord (or a row shaped like one).
        rules: rule names from :data:`RULES`.
        context: data for the rules in :data:`CONTEXT_RULES`; not needed by the others.

    Raises:
        ValueError: when a rule is unknown or needs what the context lacks.
    """
    check_rules(rules, context)
    out: dict[str, float] = {}
    if "chars" in rules:
        for field in text_fields_of(record):
            out[f"chars.{field}"] = char_len(getattr(record, field) or "")
    content_rules = [r for r in rules if r != "chars"]
    ending = [r for r in content_rules if r in ENDING_RULES]
    content_rules = [r for r in content_rules if r not in ENDING_RULES]
    if content_rules:
        out.update(_content_signals(content_of(record), content_rules, context))
    if ending:
        out.update(_content_signals(answer_of(record), ending, context))
    return out


def answer_of(record: object) -> str:
    """The text whose end is the end of the record's answer: the output (CQIA), the answer
    (RawDoc), or, for a RawDoc without one, its body (an article); the question or title when
    there is nothing else. :func:`content_of` appends the body to the answer, which for a
    published record read back is its input, not where its output ends."""
    if hasattr(record, "instruction"):
        return record.output or record.instruction  # type: ignore[attr-defined]
    for field in ("answer", "body", "question", "title"):
        value = getattr(record, field, "") or ""
        if value.strip():
            return value
    return ""


def numeric_meta(meta: Mapping[str, str], key: str) -> float | None:
    """Reads a numeric source signal (votes, rank...) from a record's meta; None if absent."""
    value = meta.get(key) if meta else None
    if value is None or value == "":
        return None
    try:
        return float(value)
    except ValueError:
        return None
