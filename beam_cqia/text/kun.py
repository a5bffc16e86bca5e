"""COIG-Kun's text rules, without Beam: context-dependent instructions and the output filter.

COIG-Kun (CQIA-METHOD.md §5) labels raw text with an instruction written by a model, then drops
instructions that only make sense next to the text they were written from, and, after answer
polishing, drops answers that show the model talking about itself or about the source text. Its
released scripts match bare keywords (根据, 文章, 文本, 材料, 作为...), which in ordinary Chinese
also hit self-contained instructions ("根据勾股定理求斜边", "如何写一篇议论文"). The rules here
are hand-written because that precision is our edge: every context pattern names a reference to
a text that is not there (a demonstrative or 上文/下文/原文 plus a noun for a text, or a
"given/provided" text), and every compound that merely contains such characters (日本文化,
基本文件, 安全文化) is excluded.

- :func:`context_references` / :func:`is_context_dependent`: the phrases of an instruction that
  refer to a missing context (根据上文, 这篇文章, 以下材料, 本文, 文中, 如图, the text above...).
- :func:`clean_instruction`: a label model's answer made into an instruction (labels such as
  "指令：" and enclosing quotes removed, cut at a long whitespace run as COIG-Kun does).
- :func:`clean_answer`: a polishing model's answer made into an output.
- :func:`check_output`: the output filter: banned phrases (作为一个AI, 抱歉, 我无法, 以下是润色,
  根据您提供的...), minimum length, an answer that opens by repeating the instruction, an answer
  that opens with one unit repeated many times, and an answer that refers to a missing context.
"""

import dataclasses
import difflib
import unicodedata
from collections.abc import Iterable, Sequence

import regex

# Nouns for a piece of text (or an attachment) an instruction may point at.
_NOUNS = (
    "文章|文本|文字|文段|短文|段落|片段|选段|选文|节选|原文|全文|正文|材料|资料|内容|信息|新闻"
    "|报道|消息|通知|公告|故事|对话|句子|语段|诗歌|诗词|诗句|诗|歌词|话|书|描述|说法|观点|论述"
    "|数据|表格|图表|图片|图像|照片|视频|音频|录音|链接|网址|网页|附件|文件|文档|邮件|简历|代码"
    "|案例|例子|范文|作文|回复|回答"
)
# Nouns that name the text itself, after 根据/按照/结合 ("根据材料" but not "根据数据分析").
_SOURCE_NOUNS = (
    "文章|文本|文段|短文|段落|材料|原文|全文|对话|故事|描述|图片|图表|题意|题目|新闻|报道"
)
# Words that place a text before or after the instruction.
_PLACE = (
    "上下文|上文|下文|前文|原文|全文|文中|本文|上述|以上|以下|下面|上面|下列|如下|前面|后文"
    "|所给|给定|给出的|提供的|所提供的|附上的"
)
# Measure words between a demonstrative and its noun (这篇文章, 该段材料, 这首诗).
_MEASURE = "(?:篇|段|份|则|首|条|句|个|些|张|幅|封|部|本|项|组|章|节|页|处)?"
# 这/那/该/此 (and the Traditional 這/該), but not in 因此, 彼此, 如此, 应该, 活该, 刹那;
# 本 only where it is not part of a word (基本, 日本, 剧本, 样本...).
_DEMONSTRATIVE = (
    r"(?:[这這]|(?<!刹)那|(?<![应活應])[该該]|(?<![因彼如由从從])此"
    r"|(?:(?<![\p{Han}])|(?<=[据在从于对将把读看照合按]))本)"
)

_CONTEXT = regex.compile(
    "|".join(
        [
            # 根据上文 / 根据以上内容 / 根据材料 / 按照题目 / 结合这段话 / 根据您提供的
            rf"(?:根据|依据|按照|结合)(?:您|你)?(?:{_PLACE}|{_SOURCE_NOUNS}|这|该|此)",
            # 阅读下面的文章 / 基于上述 / 参考以下: no bare nouns ("阅读文章的技巧" is fine)
            rf"(?:阅读|读完|看完|基于|参考)(?:{_PLACE}|这|该|此)",
            # 这篇文章 / 该段材料 / 这首诗 / 这段代码 / 本文
            # (not after a title: "《红楼梦》这本书" names its book)
            rf"(?<![》」”\"])(?:{_DEMONSTRATIVE}){_MEASURE}(?:{_NOUNS})",
            r"(?<![\p{Han}])(?:此|该)(?:文|段|篇|章|节)(?![化学字件具明物体])",
            # 以下材料 / 下面的文章 / 上述内容 / 以上几段话
            rf"(?:以下|下面|下列|上面|上述|以上|前面|如下|后面|下文|上文|前文)"
            rf"(?:的|这|这些|这个|几|一|所|给出的)?{_MEASURE}(?:{_NOUNS})",
            # 给定的文本 / 所给材料 / 提供的信息 / 附上的链接
            rf"(?:给定|所给)的?{_MEASURE}(?:{_NOUNS})",
            rf"(?:提供|所提供|给出|附上|附带|上传|粘贴)的{_MEASURE}(?:{_NOUNS})",
            # bare references: 上文 下文 前文 原文 全文 本文 上述 (minus 日本文化, 安全文明,
            # 网上文章, 还原文件, 目前文化, 上下文管理器...)
            r"(?<![日基根资版剧课范样脚账标文网线乡史还复安健完目当眼提与上])"
            r"(?:上文|下文|前文|原文|全文|本文|本章|本节|本段|本篇)(?![化学件具明档字本物])",
            r"上述",
            # 文中 / 在文章中 / 材料中
            r"(?:(?<![\p{Han}])|(?<=[在从据于由对照]))文(?:中|章中)",
            r"(?:材料|短文|选段|选文|原文)(?:中|里|当中)",
            # figures: 如图 / 如下图所示 / 图中 / 见附图
            r"如(?:下|上)?图|(?:(?<![\p{Han}])|(?<=[在从由据见]))图(?:中|里|上)"
            r"|(?:下|上|附|左|右)图(?=所示|中|里|[，,。:：；;？?]|$)",
            # the reader addressed as having given something: 你提供的 / 您给出的
            r"(?:您|你)所?(?:提供|给出|给|发来|上传|贴出)的",
            # English: the following passage, the text above, this article (but not "center
            # the text in CSS" or "resize the image")
            r"(?i:\b(?:following|above|given|provided|attached)\s+(?:text|passage|article"
            r"|paragraph|document|excerpt|material|story|context|image|picture|table|information"
            r"|data)\b|\b(?:this|the)\s+(?:passage|article|excerpt)\b"
            r"|\b(?:this|the)\s+text\s+(?:above|below)\b|\bthis\s+text\b)",
        ]
    ),
    regex.MULTILINE,
)


def context_references(instruction: str) -> list[str]:
    """The phrases of ``instruction`` that refer to a text or attachment the reader lacks.

    "根据上文，作者的观点是什么？" → ``["根据上文"]``; "为什么天空是蓝色的？" → ``[]``.
    """
    found = []
    for match in _CONTEXT.finditer(instruction or ""):
        phrase = match.group(0).strip()
        if phrase and phrase not in found:
            found.append(phrase)
    return found


def is_context_dependent(instruction: str) -> bool:
    """Whether ``instruction`` is meaningless without a text it refers to."""
    return bool(context_references(instruction))


# --- cleaning model answers ---------------------------------------------------------------------

_INSTRUCTION_LABEL = regex.compile(
    r"\A\s*(?:\*\*)?(?:指令|用户指令|问题|用户问题|提问|任务|Instruction|Question)(?:\*\*)?"
    r"\s*[:：]\s*(?:\*\*)?",
    regex.IGNORECASE,
)
_ANSWER_LABEL = regex.compile(
    r"\A\s*(?:\*\*)?(?:回答|答案|答复|回复|答|Answer)(?:\*\*)?\s*[:：]\s*(?:\*\*)?",
    regex.IGNORECASE,
)
_QUOTES = (("“", "”"), ('"', '"'), ("「", "」"), ("『", "』"), ("【", "】"), ("‘", "’"))
_FENCE = regex.compile(r"\A```[^\n]*\n(.*)\n```\Z", regex.S)
# COIG-Kun cuts an instruction at a run of five or more whitespace characters: what follows is
# the label model running on into an answer.
_LONG_GAP = regex.compile(r"\s{5,}")


def clean_instruction(text: str) -> str:
    """A label model's answer as an instruction: trimmed, a leading "指令："/"问题：" label and
    one pair of enclosing quotes removed, cut at the first run of 5+ whitespace characters, and,
    when the answer has several lines that repeat, the first line only. "" when nothing is left.
    """
    text = (text or "").strip()
    text = _LONG_GAP.split(text, maxsplit=1)[0].strip()
    text = _INSTRUCTION_LABEL.sub("", text, count=1).strip()
    for left, right in _QUOTES:
        if len(text) > 2 and text.startswith(left) and text.endswith(right):
            inner = text[len(left) : -len(right)]
            if left not in inner and right not in inner:
                text = inner.strip()
            break
    lines = [line.strip() for line in text.split("\n") if line.strip()]
    if len(lines) > 1 and len(set(lines)) < len(lines):
        text = lines[0]
    return text


def clean_answer(text: str) -> str:
    """A polishing model's answer as an output: trimmed, one enclosing code fence around the
    whole answer and a leading "回答："/"答：" label removed. "" when nothing is left."""
    text = (text or "").strip()
    fenced = _FENCE.match(text)
    if fenced and "```" not in fenced.group(1):
        text = fenced.group(1).strip()
    return _ANSWER_LABEL.sub("", text, count=1).strip()


# --- the output filter --------------------------------------------------------------------------

# Phrases a polished answer must not contain: the model talking about itself, refusing, or
# presenting its edit ("以下是润色后的回答") instead of answering. Matched case-insensitively
# after NFKC (so full-width letters and "ＡＩ" count). COIG-Kun's own list (作为, 根据, 知识库,
# 2023, 抱歉) drops ordinary sentences; these name the assistant or the edit.
DEFAULT_BANNED_PHRASES: tuple[str, ...] = (
    "作为一个AI",
    "作为一名AI",
    "作为AI",
    "作为一个人工智能",
    "作为人工智能",
    "作为一个语言模型",
    "作为语言模型",
    "作为一个大语言模型",
    "我是一个AI",
    "我是AI",
    "我是人工智能",
    "AI助手",
    "AI语言模型",
    "抱歉",
    "对不起，我",
    "我无法",
    "我不能回答",
    "我没有办法",
    "知识库",
    "训练数据",
    "以下是润色",
    "以下是改写",
    "以下是修改",
    "以下是优化",
    "润色后的",
    "改写后的",
    "修改后的回答",
    "根据您提供的",
    "根据你提供的",
    "根据提供的",
    "根据所提供的",
    "根据给定的",
    "根据原文",
    "根据文章",
    "根据材料",
    "根据上文",
    "原文中",
    "as an ai",
)
# COIG-Kun drops outputs under 20 characters.
DEFAULT_MIN_CHARS = 20
# How similar (0-1, difflib ratio on letters and digits) the opening of an answer must be to the
# instruction to count as repeating it.
DEFAULT_REPEAT_SIMILARITY = 0.8
# COIG-Kun's "catastrophic repetition": an opening unit repeated more than this many times.
DEFAULT_MAX_OPENING_REPEATS = 5
OUTPUT_REASONS = (
    "banned_phrase",
    "answer_too_short",
    "repeats_instruction",
    "repeated_opening",
    "answer_refers_to_context",
)


def _fold(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold()


def banned_phrases(text: str, phrases: Iterable[str] = DEFAULT_BANNED_PHRASES) -> list[str]:
    """The ``phrases`` found in ``text`` (case-insensitive, after NFKC), in the given order."""
    folded = _fold(text or "")
    return [p for p in phrases if p and _fold(p) in folded]


def visible_chars(text: str) -> int:
    """Characters that are not whitespace."""
    return sum(1 for c in text or "" if not c.isspace())


def _letters(text: str) -> str:
    """Letters, digits and ideographs only, case-folded: what two phrasings share."""
    return "".join(c for c in _fold(text) if unicodedata.category(c)[0] in ("L", "N"))


_ECHO_LABEL = regex.compile(
    r"\A\s*(?:\*\*)?(?:指令|问题|提问|题目|问|Q|Question)(?:\*\*)?\s*[:：]", regex.IGNORECASE
)


def repeats_instruction(
    instruction: str, output: str, similarity: float = DEFAULT_REPEAT_SIMILARITY
) -> bool:
    """Whether ``output`` opens by repeating ``instruction`` (a restated question before the
    answer, with or without a "问题：" label).

    The instruction's letters and digits are compared with the same number at the start of the
    output's; instructions of fewer than 4 such characters are never "repeated".
    """
    wanted = _letters(instruction or "")
    if len(wanted) < 4:
        return False
    opening = _letters(_ECHO_LABEL.sub("", output or "", count=1))[: len(wanted)]
    if len(opening) < len(wanted):
        return False
    return difflib.SequenceMatcher(None, wanted, opening, autojunk=False).ratio() >= similarity


def opening_repeats(text: str, max_unit: int = 20) -> int:
    """How many times the text's opening unit repeats back to back at its start (1 when nothing
    repeats), over units of 1 to ``max_unit`` visible characters; whitespace is ignored.

    "哈哈哈哈哈哈哈好笑" → 7 (unit 哈); "你好你好你好，请问" → 3.
    """
    chars = "".join(c for c in text or "" if not c.isspace())
    best = 1
    for size in range(1, min(max_unit, len(chars) // 2) + 1):
        unit = chars[:size]
        count = 1
        while chars.startswith(unit, count * size):
            count += 1
        if count > best:
            best = count
    return best


@dataclasses.dataclass(frozen=True)
class OutputRules:
    """The output filter's settings (see :func:`check_output`)."""

    banned: tuple[str, ...] = DEFAULT_BANNED_PHRASES
    min_chars: int = DEFAULT_MIN_CHARS
    repeat_similarity: float = DEFAULT_REPEAT_SIMILARITY
    max_opening_repeats: int = DEFAULT_MAX_OPENING_REPEATS
    check_context: bool = True


def check_output(
    instruction: str, output: str, rules: OutputRules = OutputRules()
) -> list[tuple[str, str]]:
    """Every rule ``output`` fails, as ``(reason, detail)`` in the order of
    :data:`OUTPUT_REASONS`; ``[]`` when it passes.

    Reasons: ``banned_phrase`` (detail: the phrases), ``answer_too_short`` (fewer than
    ``min_chars`` visible characters), ``repeats_instruction`` (:func:`repeats_instruction`),
    ``repeated_opening`` (:func:`opening_repeats` above ``max_opening_repeats``) and
    ``answer_refers_to_context`` (the answer names a text the reader lacks: 原文, 上文, 文中...).
    """
    failures: list[tuple[str, str]] = []
    found = banned_phrases(output, rules.banned)
    if found:
        failures.append(("banned_phrase", "contains " + ", ".join(found)))
    chars = visible_chars(output)
    if chars < rules.min_chars:
        failures.append(("answer_too_short", f"{chars} visible characters < {rules.min_chars}"))
    if rules.repeat_similarity <= 1 and repeats_instruction(
        instruction, output, rules.repeat_similarity
    ):
        failures.append(("repeats_instruction", "the answer opens with the instruction"))
    repeats = opening_repeats(output)
    if repeats > rules.max_opening_repeats:
        failures.append(
            (
                "repeated_opening",
                f"opening unit repeated {repeats} times > {rules.max_opening_repeats}",
            )
        )
    if rules.check_context:
        refs = context_references(output)
        if refs:
            failures.append(("answer_refers_to_context", "refers to " + ", ".join(refs)))
    return failures


def truncate_text(text: str, max_chars: int) -> str:
    """``text`` cut to at most ``max_chars`` characters, at the last sentence end (。！？!?. or
    a line break) in the second half of the budget when there is one."""
    if len(text) <= max_chars:
        return text
    head = text[:max_chars]
    cut = max(head.rfind(mark) for mark in ("。", "！", "？", "!", "?", ". ", "\n"))
    if cut >= max_chars // 2:
        return head[: cut + 1].rstrip()
    return head.rstrip()


def check_phrases(phrases: Sequence[str] | None, name: str) -> tuple[str, ...]:
    """Validates a phrase list config: a list of non-empty strings.

    Raises:
        ValueError: naming ``name`` and the bad value.
    """
    if phrases is None:
        return ()
    if isinstance(phrases, str) or not all(isinstance(p, str) and p.strip() for p in phrases):
        raise ValueError(f"{name} must be a list of non-empty phrases, got {phrases!r}")
    return tuple(p.strip() for p in phrases)
