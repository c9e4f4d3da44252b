"""Jinja2 templates for what residents read: building notices and SMS texts.

The defaults ship in ``sampler/notify/templates/``; a street office edits copies of them in a
folder of its own and passes it as ``--templates DIR`` (`sampler notices`, `sampler sms`): a file
there replaces the packaged file of the same name, the others stay the defaults. HTML templates
(``*.html.j2``) are autoescaped, so a building or site name is shown as text and never as markup;
SMS templates (``*.txt.j2``) are plain text. A template that names an unknown value, or does not
parse, is an input error naming the template's file and line, never a traceback.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jinja2

from sampler.errors import InputError, InputIssue

__all__ = ["TEMPLATE_NAMES", "environment", "line_format", "render", "template"]

PACKAGED = Path(__file__).with_name("templates")
TEMPLATE_NAMES = ("notice.html.j2", "notice_body.html.j2", "notice.css", "grid.html.j2", "index.html.j2",
                  "sms_site.txt.j2", "sms_home.txt.j2")
"""The templates a street office may replace (docs/notices.md says what each receives)."""


@functools.lru_cache(maxsize=16)
def _environment(directory: str) -> jinja2.Environment:
    search = [directory, str(PACKAGED)] if directory else [str(PACKAGED)]
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(search, encoding="utf-8"),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html", "html.j2"), default_for_string=False,
                                            default=False),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
    )


def environment(templates: str | Path | None = None) -> jinja2.Environment:
    """The Jinja2 environment that reads ``templates`` first (if given), then the packaged defaults;
    raises InputError when ``templates`` is not a folder."""
    if templates is None or str(templates) == "":
        return _environment("")
    folder = Path(templates)
    if not folder.is_dir():
        raise InputError([InputIssue(str(folder), None, "--templates", str(folder),
                                     "give a folder holding edited copies of sampler/notify/templates/*")])
    unknown = sorted(p.name for p in folder.iterdir() if p.is_file() and p.name.endswith((".j2", ".css"))
                     and p.name not in TEMPLATE_NAMES)
    if unknown:
        raise InputError([InputIssue(str(folder / unknown[0]), None, "(file name)", unknown[0],
                                     f"name it as one of the templates it replaces: {', '.join(TEMPLATE_NAMES)}")])
    return _environment(str(folder.resolve()))


def _where(env: jinja2.Environment, name: str) -> str:
    """The file a template name resolves to (the office's copy or the packaged default)."""
    loader = env.loader
    if isinstance(loader, jinja2.FileSystemLoader):
        for base in loader.searchpath:
            path = Path(base) / name
            if path.is_file():
                return str(path)
    return name


def template(env: jinja2.Environment, name: str) -> jinja2.Template:
    """A compiled template; a syntax error is an InputError naming the file and line."""
    try:
        return env.get_template(name)
    except jinja2.TemplateSyntaxError as exc:
        raise InputError([InputIssue(exc.filename or _where(env, name), exc.lineno, "template", exc.message or "",
                                     "correct the template's syntax (Jinja2: {{ value }}, {% if %}…{% endif %})")]) from None
    except jinja2.TemplateNotFound as exc:
        raise InputError([InputIssue(name, None, "template", str(exc), "restore the template file")]) from None


def render(tpl: jinja2.Template, context: Mapping[str, Any]) -> str:
    """Render a template; an unknown name or a failing expression is an InputError naming the file."""
    try:
        return tpl.render(context)
    except jinja2.UndefinedError as exc:
        known = ", ".join(sorted(context))
        raise InputError([InputIssue(tpl.filename or str(tpl.name), None, "template", str(exc),
                                     f"use only the values the template receives: {known}")]) from None
    except jinja2.TemplateError as exc:
        raise InputError([InputIssue(tpl.filename or str(tpl.name), None, "template", str(exc),
                                     "correct the template")]) from None


def line_format(tpl: jinja2.Template, env: jinja2.Environment, names: set[str]) -> str | None:
    """The template as a `str.format` string when it is only text and ``{{ name }}`` substitutions
    of ``names`` (the SMS defaults): rendering a million texts then costs a format call each
    (about 1 µs) instead of a Jinja2 render (about 40 µs), with the same text. None when it uses
    anything more (filters, conditions, loops), so it is rendered by Jinja2."""
    from jinja2 import nodes

    if tpl.name is None or env.loader is None:
        return None
    source = env.loader.get_source(env, tpl.name)[0]
    parts: list[str] = []
    for node in env.parse(source).body:
        if not isinstance(node, nodes.Output):
            return None
        for child in node.nodes:
            if isinstance(child, nodes.TemplateData):
                parts.append(child.data.replace("{", "{{").replace("}", "}}"))
            elif isinstance(child, nodes.Name) and child.name in names:
                parts.append("{" + child.name + "}")
            else:
                return None
    return "".join(parts)
