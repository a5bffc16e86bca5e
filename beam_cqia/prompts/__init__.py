"""The prompt-template registry: versioned Jinja2 templates kept as data, not code.

A rebuild template is a file ``rebuild/<source>_<task>.vN.j2``. It opens with a Jinja comment
holding YAML front matter and defines blocks::

    {#---
    description: Zhihu answers: the question as asked is the instruction.
    task_type: {major: [问答], minor: [知乎问答]}
    domain: [通用]
    requires: [question, answer]
    metadata: [qid, aid, tag]
    ---#}
    {% block instruction_1 %}{{ question }}{% endblock %}
    {% block output %}{{ answer }}{% endblock %}

``instruction_1`` ... ``instruction_N`` are paraphrased variants; the variant for a record is
chosen from its id (the same record always gets the same variant) and recorded in ``template_id``
as ``<name>#<n>``. ``input`` and ``output`` are optional and mandatory blocks. Strings in
``task_type``, ``domain`` and ``copyright`` may use Jinja too (``domain: ["{{ meta.subject }}"]``;
list items that render empty are dropped); ``task_type`` and ``domain`` may also be one string
that renders JSON (``domain: "{{ meta.domain }}"``). ``metadata`` lists meta keys to format as
COIG-CQIA's ``k:v, k:v``, or is a string rendered verbatim. ``answer_from`` and
``human_verified`` (strings rendering ``human``/``llm``/... and ``true``/``false``) set those fields
instead of TagSchema's per-source defaults. ``strip: false`` keeps the blocks' surrounding
whitespace (for exact passthrough).
``min_output_chars`` (an integer) is the shortest output the task accepts: RebuildFromTemplate sends
a record whose rendered output is shorter to ``rejected`` with reason ``output_too_short`` (each
packaged template notes the COIG-CQIA figure its value comes from).

Rendering uses a sandboxed environment with strict undefined variables, so a template that names a
missing field fails loudly instead of rendering an empty string; the error names the template,
the variant and the field (``douban_synopsis.v1#3: UndefinedError: missing field 'meta.year'``).
A field listed in ``requires`` that is present but empty (or only whitespace) is a render failure
too, and so is an instruction or output that renders empty: nothing is published with an empty
slot. Optional fields are read with ``meta.get('key')`` and guarded with ``{% if %}``.

Besides the record's fields (``id``, ``source``, ``subset``, ``url``, ``title``, ``question``,
``body``, ``answer``, ``meta``, ``signals``) a template can use:

- ``variant``: the number of the instruction variant chosen for the record (so that the output
  can follow it, e.g. a translation direction);
- ``pick(items, salt="")``: one element of a non-empty sequence, chosen from the record id (the
  same record always gets the same element; ``salt`` makes independent choices);
- ``sections(text)``: the ``## `` sections of a Markdown text as ``{heading, text}`` mappings, the
  lead (text before the first heading) with heading ``""``;
- ``filled(items, keys)``: the keys (in order) whose value is non-empty in every mapping of
  ``items``, e.g. the fields every recommended subject has;
- the ``numsort(key, reverse=False)`` filter: mappings sorted by the number in ``key``;
- the ``fromjson`` filter: a JSON string (e.g. ``meta.subjects``) as lists and mappings, and a
  ``tojson`` that keeps Chinese readable (``value|tojson(2)`` indents).

A ``let`` mapping in the front matter names Jinja expressions computed once per record, in order,
before any block: every block and front-matter string can use them (blocks are rendered one by
one, so a ``{% set %}`` outside a block would not reach them)::

    let:
      topic: "pick(['病因', '治疗'])"
      question: "title ~ '的' ~ topic ~ '是什么？'"

Users add or override templates by pointing a spec at a directory with the same layout: a file
there with the same name replaces the packaged one.

LLM prompts (``llm/<name>.vN.j2``, loaded with ``load_sources(kind="llm")``) are ``ChatPrompt``s:
the same header and sandboxed environment, a ``user`` block and an optional ``system`` block
(each one chat message), and front matter naming the ``variables`` the prompt uses, those it
``requires`` to be non-empty, and the ``parser`` that reads the model's answer::

    {#---
    description: 10-point CQIA rubric judge.
    variables: [instruction, input, output]
    requires: [instruction, output]
    parser: score_json
    ---#}
    {% block system %}你是……{% endblock %}
    {% block user %}【指令】{{ instruction }} ……{% endblock %}
"""

import json
import re
from collections.abc import Iterable, Mapping
from importlib import resources
from typing import Any, NamedTuple

import jinja2
import yaml
from jinja2.sandbox import SandboxedEnvironment

from beam_cqia.text.ids import stable_bucket

NAME_PATTERN = re.compile(r"^[a-z0-9]+(?:_[a-z0-9]+)*\.v[1-9][0-9]*$")
_FRONT_MATTER = re.compile(r"\A\{#---\n(.*?)\n---#\}\n?", re.S)
_VARIANT_BLOCK = re.compile(r"^instruction_([1-9][0-9]*)$")
_FRONT_KEYS = {
    "description",
    "task_type",
    "domain",
    "requires",
    "metadata",
    "copyright",
    "answer_from",
    "human_verified",
    "strip",
    "min_output_chars",
    "let",
}
_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]*$")
RAW_FIELDS = ("id", "source", "subset", "url", "title", "question", "body", "answer")


class TemplateError(ValueError):
    """A template file is malformed, or a record cannot be rendered with it."""


def check_name(name: str, origin: str = "") -> None:
    """Checks a rebuild template name against ``<source>_<task>.vN``.

    Raises:
        TemplateError: naming the file (or the name) and the expected form.
    """
    if not NAME_PATTERN.match(name):
        raise TemplateError(
            f"{origin or name}: template name {name!r} is not valid: template names look like "
            "<source>_<task>.vN (lower-case ASCII letters and digits, words joined by '_', a "
            "version from v1; e.g. douban_synopsis.v1), and files are named <name>.j2"
        )


class Rendered(NamedTuple):
    """The parts of a CqiaRecord a template produces."""

    template_id: str  # <name>#<variant>
    instruction: str
    input: str
    output: str
    task_major: list[str]
    task_minor: list[str]
    domain: list[str]
    metadata_keys: list[str]
    copyright: str
    metadata: str | None = None  # verbatim metadata, when the template renders it as a string
    answer_from: str | None = None  # None: left to TagSchema
    human_verified: bool | None = None  # None: left to TagSchema


class _Meta(dict):
    """A record's ``meta`` in a template context (so a missing key is named ``meta.<key>``)."""


class _Signals(dict):
    """A record's ``signals`` in a template context."""


class _MissingField(jinja2.StrictUndefined):
    """StrictUndefined whose error names the missing record field (``meta.year``, ``title``)."""

    @property
    def _undefined_message(self) -> str:
        obj, name = self._undefined_obj, self._undefined_name
        if self._undefined_hint is None and isinstance(name, str):
            if isinstance(obj, _Meta):
                return f"missing field 'meta.{name}'"
            if isinstance(obj, _Signals):
                return f"missing field 'signals.{name}'"
            if obj is jinja2.utils.missing:
                return f"missing field {name!r}"
        return super()._undefined_message


def _fromjson(text: Any) -> Any:
    try:
        return json.loads(str(text))
    except ValueError as exc:
        raise TemplateError(f"fromjson: not JSON: {str(text)[:80]!r}") from exc


_HEADING = re.compile(r"^## +(.+?)\s*$", re.M)


def markdown_sections(text: str) -> list[dict[str, str]]:
    """The ``## `` sections of a Markdown text as ``{heading, text}`` (the lead has heading "").

    Sections with no text are left out; deeper headings stay inside their section's text.
    """
    out = []
    starts = list(_HEADING.finditer(text))
    lead = text[: starts[0].start()] if starts else text
    if lead.strip():
        out.append({"heading": "", "text": lead.strip()})
    for i, match in enumerate(starts):
        end = starts[i + 1].start() if i + 1 < len(starts) else len(text)
        body = text[match.end() : end].strip()
        if body:
            out.append({"heading": match.group(1), "text": body})
    return out


def filled(items: Iterable[Mapping[str, Any]], keys: Iterable[str]) -> list[str]:
    """The ``keys`` (in their order) whose value is non-empty in every one of ``items``."""
    rows = list(items)
    return [k for k in keys if rows and all(str(row.get(k) or "").strip() for row in rows)]


def _numsort(items: Iterable[Mapping[str, Any]], key: str, reverse: bool = False) -> list[Any]:
    """Mappings sorted by ``float(item[key])`` (stable; items without a number go last)."""
    rows = list(items)

    def number(row: Mapping[str, Any]) -> float | None:
        try:
            return float(str(row.get(key, "")))
        except ValueError:
            return None

    valued = [r for r in rows if number(r) is not None]
    valued.sort(key=lambda r: number(r) or 0.0, reverse=reverse)
    return valued + [r for r in rows if number(r) is None]


def _environment() -> SandboxedEnvironment:
    env = SandboxedEnvironment(
        undefined=_MissingField,
        autoescape=False,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
    )
    env.filters["fromjson"] = _fromjson
    env.filters["numsort"] = _numsort
    # Chinese stays readable and nothing is HTML-escaped (autoescape is off: these are not pages).
    env.filters["tojson"] = lambda value, indent=None: json.dumps(
        value, ensure_ascii=False, indent=indent
    )
    return env


class Template:
    """One parsed rebuild template."""

    def __init__(self, name: str, source: str, origin: str = ""):
        check_name(name, origin)
        match = _FRONT_MATTER.match(source)
        if not match:
            raise TemplateError(f"{origin or name}: must start with a {{#--- ... ---#}} header")
        try:
            front = yaml.safe_load(match.group(1)) or {}
        except yaml.YAMLError as exc:
            raise TemplateError(f"{origin or name}: bad YAML front matter: {exc}") from exc
        if not isinstance(front, Mapping):
            raise TemplateError(f"{origin or name}: front matter must be a mapping")
        unknown = sorted(set(front) - _FRONT_KEYS)
        if unknown:
            raise TemplateError(f"{origin or name}: unknown front matter keys {unknown}")
        where = origin or name
        task_type = front.get("task_type")
        if not isinstance(task_type, str) and (
            not isinstance(task_type, Mapping)
            or set(task_type) != {"major", "minor"}
            or not all(_is_str_list(task_type[k]) for k in ("major", "minor"))
        ):
            raise TemplateError(
                f"{where}: task_type must be {{major: [...], minor: [...]}} or a string that "
                "renders that as JSON"
            )
        for key in ("domain", "metadata"):
            if key in front and not (_is_str_list(front[key]) or isinstance(front[key], str)):
                raise TemplateError(f"{where}: {key} must be a list of strings or a string")
        for key in ("domain", "task_type"):
            if isinstance(front.get(key), str) and "{{" not in front[key]:
                raise TemplateError(
                    f"{where}: {key} must be a list of strings, or a Jinja string that renders "
                    f"JSON (got the plain string {front[key]!r})"
                )
        if "requires" in front and not _is_str_list(front["requires"]):
            raise TemplateError(f"{where}: requires must be a list of strings")
        for key in ("answer_from", "human_verified", "copyright"):
            if key in front and not isinstance(front[key], str):
                raise TemplateError(f"{where}: {key} must be a string")
        let = front.get("let", {})
        if not isinstance(let, Mapping) or not all(
            isinstance(k, str) and _IDENTIFIER.match(k) and isinstance(v, str)
            for k, v in let.items()
        ):
            raise TemplateError(
                f"{where}: let must map lower-case names to Jinja expressions (strings)"
            )
        reserved = {*RAW_FIELDS, "meta", "signals", "pick", "sections", "filled", "variant"}
        clash = sorted(set(let) & reserved)
        if clash:
            raise TemplateError(f"{where}: let must not redefine {clash}")
        if not isinstance(front.get("strip", True), bool):
            raise TemplateError(f"{where}: strip must be true or false")
        min_chars = front.get("min_output_chars", 0)
        if isinstance(min_chars, bool) or not isinstance(min_chars, int) or min_chars < 0:
            raise TemplateError(
                f"{where}: min_output_chars must be a whole number >= 0, got {min_chars!r}"
            )
        for field in front.get("requires", []):
            if field not in RAW_FIELDS and not field.startswith("meta."):
                raise TemplateError(
                    f"{where}: requires names {field!r}; use {list(RAW_FIELDS)} or meta.<key>"
                )
        self.name = name
        self.origin = origin
        self.source = source
        self.description = str(front.get("description", ""))
        self.requires: list[str] = list(front.get("requires", []))
        metadata = front.get("metadata", [])
        self.metadata_keys: list[str] = list(metadata) if isinstance(metadata, list) else []
        self.min_output_chars: int = min_chars
        self._strip = front.get("strip", True)
        env = _environment()

        def compile_value(value: Any) -> Any:
            if isinstance(value, str):
                return env.from_string(value)
            if isinstance(value, list):
                return [env.from_string(v) for v in value]
            return {k: compile_value(v) for k, v in value.items()}

        try:
            self._let = [
                (key, env.compile_expression(expr, undefined_to_none=False))
                for key, expr in let.items()
            ]
            self._template = env.from_string(source)
            self._front = {
                "task_type": compile_value(task_type),
                "domain": compile_value(front.get("domain", [])),
                "copyright": compile_value(front.get("copyright", "")),
                "metadata": compile_value(metadata) if isinstance(metadata, str) else None,
                "answer_from": compile_value(front["answer_from"])
                if "answer_from" in front
                else None,
                "human_verified": compile_value(front["human_verified"])
                if "human_verified" in front
                else None,
            }
        except jinja2.TemplateSyntaxError as exc:
            raise TemplateError(f"{where}: line {exc.lineno}: {exc.message}") from exc
        blocks = self._template.blocks
        variants = sorted(
            (int(m.group(1)), block) for block in blocks if (m := _VARIANT_BLOCK.match(block))
        )
        if not variants:
            raise TemplateError(f"{origin or name}: defines no instruction_1 block")
        numbers = [n for n, _ in variants]
        if numbers != list(range(1, len(numbers) + 1)):
            raise TemplateError(f"{origin or name}: instruction blocks must be numbered 1..N")
        if "output" not in blocks:
            raise TemplateError(f"{origin or name}: defines no output block")
        extra = sorted(
            b for b in blocks if b not in {"input", "output"} and not _VARIANT_BLOCK.match(b)
        )
        if extra:
            raise TemplateError(f"{origin or name}: unknown blocks {extra}")
        self.variants = [block for _, block in variants]

    def variant_for(self, record_id: str) -> int:
        """The 1-based instruction variant for a record id (stable across runs and machines)."""
        return stable_bucket(f"{self.name}\x1f{record_id}", len(self.variants)) + 1

    def render(self, doc: Any) -> Rendered:
        """Renders a RawDoc (or any object with its fields) with this template.

        Raises:
            TemplateError: when a required field is empty or rendering fails.
        """
        context: dict[str, Any] = {
            field: "" if (value := getattr(doc, field, "")) is None else value
            for field in RAW_FIELDS
        }
        context["meta"] = _Meta(getattr(doc, "meta", None) or {})
        context["signals"] = _Signals(getattr(doc, "signals", None) or {})
        variant = self.variant_for(context["id"])
        template_id = f"{self.name}#{variant}"
        for field in self.requires:
            if field.startswith("meta."):  # an absent key counts as empty
                value = context["meta"].get(field[5:], "")
            else:
                value = context.get(field, "")
            if not str(value).strip():
                raise TemplateError(f"{template_id}: required field {field!r} is empty")
        context["pick"] = _picker(self.name, str(context["id"]), template_id)
        context["sections"] = markdown_sections
        context["filled"] = filled
        context["variant"] = variant
        front = self._front
        try:
            for key, expression in self._let:  # in order: a name may use the ones before it
                context[key] = expression(**context)
            ctx = self._template.new_context(context)
            parts = {}
            for block in (self.variants[variant - 1], "input", "output"):
                if block in self._template.blocks:
                    text = "".join(self._template.blocks[block](ctx))
                    parts[block] = text.strip() if self._strip else text
            if isinstance(front["task_type"], Mapping):
                major = _render_list(front["task_type"]["major"], context)
                minor = _render_list(front["task_type"]["minor"], context)
            else:
                task_type = _render_json(front["task_type"], context, template_id, "task_type")
                if not isinstance(task_type, Mapping) or set(task_type) != {"major", "minor"}:
                    raise TemplateError(
                        f"{template_id}: task_type did not render as {{major, minor}}"
                    )
                major = _json_str_list(task_type["major"], template_id, "task_type.major")
                minor = _json_str_list(task_type["minor"], template_id, "task_type.minor")
            if isinstance(front["domain"], list):
                domain = _render_list(front["domain"], context)
            else:
                domain = _json_str_list(
                    _render_json(front["domain"], context, template_id, "domain"),
                    template_id,
                    "domain",
                )
            copyright_text = front["copyright"].render(context).strip()
            metadata = front["metadata"].render(context) if front["metadata"] else None
            answer_from = (
                front["answer_from"].render(context).strip() if front["answer_from"] else None
            )
            human_verified = None
            if front["human_verified"]:
                flag = front["human_verified"].render(context).strip().lower()
                if flag not in ("true", "false", ""):
                    raise TemplateError(
                        f"{template_id}: human_verified rendered {flag!r}, not true/false"
                    )
                human_verified = {"true": True, "false": False}.get(flag)
        except jinja2.TemplateError as exc:
            raise TemplateError(f"{template_id}: {type(exc).__name__}: {exc}") from exc
        except TemplateError as exc:  # from pick() or fromjson
            raise TemplateError(f"{template_id}: {exc}") from exc
        except (TypeError, ValueError, ArithmeticError, LookupError) as exc:
            # A failing expression ({{ 1/0 }}, {% import %} without a loader): name the template.
            raise TemplateError(f"{template_id}: {type(exc).__name__}: {exc}") from exc
        for block in (self.variants[variant - 1], "output"):
            if not parts[block].strip():
                what = "output" if block == "output" else "instruction"
                raise TemplateError(f"{template_id}: the {what} rendered empty")
        return Rendered(
            template_id=template_id,
            instruction=parts[self.variants[variant - 1]],
            input=parts.get("input", ""),
            output=parts["output"],
            task_major=major,
            task_minor=minor,
            domain=domain,
            metadata_keys=list(self.metadata_keys),
            copyright=copyright_text,
            metadata=metadata,
            answer_from=answer_from,
            human_verified=human_verified,
        )


def _picker(name: str, record_id: str, template_id: str) -> Any:
    def pick(items: Any, salt: str = "") -> Any:
        seq = list(items)
        if not seq:
            raise TemplateError(f"pick() got an empty sequence (salt {salt!r})")
        return seq[stable_bucket(f"{name}\x1f{record_id}\x1f{salt}", len(seq))]

    return pick


def _render_list(templates: list[Any], context: Mapping[str, Any]) -> list[str]:
    """Renders each item; items that render empty are dropped."""
    return [v for v in (t.render(context).strip() for t in templates) if v]


def _render_json(template: Any, context: Mapping[str, Any], name: str, key: str) -> Any:
    text = template.render(context)
    try:
        return json.loads(text)
    except ValueError as exc:
        raise TemplateError(f"{name}: {key} did not render as JSON: {text[:80]!r}") from exc


def _json_str_list(value: Any, name: str, key: str) -> list[str]:
    if not _is_str_list(value):
        raise TemplateError(f"{name}: {key} must be a JSON list of strings, got {value!r}")
    return list(value)


class TemplateRegistry:
    """Templates by name: the packaged ones, overridden by any user directories."""

    def __init__(self, templates: Mapping[str, Template]):
        self._templates = dict(templates)

    @classmethod
    def from_sources(cls, sources: Mapping[str, tuple[str, str]]) -> "TemplateRegistry":
        """Builds a registry from ``{name: (source text, origin)}``."""
        return cls({name: Template(name, text, origin) for name, (text, origin) in sources.items()})

    def names(self) -> list[str]:
        return sorted(self._templates)

    def get(self, name: str) -> Template:
        try:
            return self._templates[name]
        except KeyError:
            raise TemplateError(f"unknown template {name!r}; known: {self.names()}") from None


_CHAT_FRONT_KEYS = {"description", "variables", "requires", "parser"}
_CHAT_BLOCKS = ("system", "user")


class ChatPrompt:
    """One parsed LLM prompt: chat messages rendered from a record's fields."""

    def __init__(self, name: str, source: str, origin: str = ""):
        where = origin or name
        if not NAME_PATTERN.match(name):
            raise TemplateError(f"{where}: prompt names look like <task>_<what>.vN")
        match = _FRONT_MATTER.match(source)
        if not match:
            raise TemplateError(f"{where}: must start with a {{#--- ... ---#}} header")
        try:
            front = yaml.safe_load(match.group(1)) or {}
        except yaml.YAMLError as exc:
            raise TemplateError(f"{where}: bad YAML front matter: {exc}") from exc
        if not isinstance(front, Mapping):
            raise TemplateError(f"{where}: front matter must be a mapping")
        unknown = sorted(set(front) - _CHAT_FRONT_KEYS)
        if unknown:
            raise TemplateError(f"{where}: unknown front matter keys {unknown}")
        variables = front.get("variables")
        if not _is_str_list(variables) or not variables:
            raise TemplateError(f"{where}: variables must list the names the prompt uses")
        requires = front.get("requires", [])
        if not _is_str_list(requires) or set(requires) - set(variables):
            raise TemplateError(f"{where}: requires must list some of the variables {variables}")
        parser = front.get("parser")
        if not isinstance(parser, str) or not parser:
            raise TemplateError(f"{where}: parser must name the parser of the model's answer")
        try:
            self._template = _environment().from_string(source)
        except jinja2.TemplateSyntaxError as exc:
            raise TemplateError(f"{where}: line {exc.lineno}: {exc.message}") from exc
        blocks = set(self._template.blocks)
        if "user" not in blocks:
            raise TemplateError(f"{where}: defines no user block")
        extra = sorted(blocks - set(_CHAT_BLOCKS))
        if extra:
            raise TemplateError(f"{where}: unknown blocks {extra}; use system and user")
        self.name = name
        self.origin = origin
        self.source = source
        self.description = str(front.get("description", ""))
        self.variables: list[str] = list(variables)
        self.requires: list[str] = list(requires)
        self.parser = parser

    def render(self, values: Mapping[str, str]) -> list[dict[str, str]]:
        """The chat messages for ``values`` (one per variable; extra names are an error).

        Raises:
            TemplateError: when a variable is missing or unknown, a required one is empty, or
                rendering fails.
        """
        missing = [v for v in self.variables if v not in values]
        extra = sorted(set(values) - set(self.variables))
        if missing or extra:
            raise TemplateError(f"{self.name}: missing variables {missing}, unknown {extra}")
        for name in self.requires:
            if not str(values[name]).strip():
                raise TemplateError(f"{self.name}: required variable {name!r} is empty")
        try:
            ctx = self._template.new_context(dict(values))
            messages = []
            for block in _CHAT_BLOCKS:
                if block in self._template.blocks:
                    text = "".join(self._template.blocks[block](ctx)).strip()
                    messages.append({"role": block, "content": text})
        except jinja2.TemplateError as exc:
            raise TemplateError(f"{self.name}: {type(exc).__name__}: {exc}") from exc
        return messages


def load_chat_prompt(name: str, template_dir: str | None = None) -> ChatPrompt:
    """The LLM prompt ``name``: packaged in ``llm/``, or from ``template_dir`` (which wins).

    Raises:
        TemplateError: when there is no such prompt or it is malformed.
    """
    sources = load_sources([template_dir] if template_dir else [], kind="llm")
    if name not in sources:
        raise TemplateError(f"unknown LLM prompt {name!r}; known: {sorted(sources)}")
    text, origin = sources[name]
    return ChatPrompt(name, text, origin)


def packaged_sources(kind: str = "rebuild") -> dict[str, tuple[str, str]]:
    """The packaged templates of a kind as ``{name: (text, origin)}``."""
    folder = resources.files(__package__) / kind
    out = {}
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".j2"):
            out[entry.name[:-3]] = (entry.read_text(encoding="utf-8"), f"{kind}/{entry.name}")
    return out


def directory_sources(directory: str, kind: str = "rebuild") -> dict[str, tuple[str, str]]:
    """Templates in a user directory (any Beam filesystem path) as ``{name: (text, origin)}``.

    Both ``<directory>/<kind>/*.j2`` and ``<directory>/*.j2`` are read.
    """
    from apache_beam.io.filesystems import FileSystems

    out = {}
    base = directory.rstrip("/")
    patterns = [f"{base}/{kind}/*.j2", f"{base}/*.j2"]
    found = False
    for result in FileSystems.match(patterns):
        for meta in sorted(result.metadata_list, key=lambda m: m.path):
            found = True
            filename = meta.path.rsplit("/", 1)[-1]
            if kind == "rebuild":
                check_name(filename[:-3], meta.path)
            with FileSystems.open(meta.path) as fh:
                out[filename[:-3]] = (fh.read().decode("utf-8"), meta.path)
    if not found:
        raise TemplateError(f"no templates (*.j2) found in {directory!r} or its {kind}/ folder")
    return out


def load_sources(
    template_dirs: Iterable[str] = (), kind: str = "rebuild"
) -> dict[str, tuple[str, str]]:
    """Packaged templates, then each directory's, later ones replacing earlier ones by name."""
    sources = packaged_sources(kind)
    for directory in template_dirs:
        sources.update(directory_sources(directory, kind))
    return sources


def _is_str_list(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)
