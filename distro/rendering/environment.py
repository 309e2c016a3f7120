"""The one Jinja2 environment, and loading and rendering templates with their mistakes placed.

Autoescape is on and undefined names are errors. Templates run sandboxed because staff may edit
them. A template folder from config is searched before the packaged one; ``default:NAME`` always
means the packaged original, so a custom template can extend it and override some blocks.

A template's mistake is raised as ``TemplateError`` naming the template (an include or parent,
maybe) and line, so staff editing their own templates can find it.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jinja2
from jinja2.sandbox import SandboxedEnvironment

import distro
from distro.errors import TemplateError
from distro.rendering.slots import safe_filter


def packaged_templates() -> Path:
    """The templates shipped with distro: inside an installed wheel, or in the source checkout."""
    package = Path(distro.__file__).parent
    for candidate in (package / "_templates", package.parent / "templates"):
        if candidate.is_dir():
            return candidate
    raise TemplateError(f"distro's packaged templates are missing (looked beside {package})")


def make_environment(user_folder: Path | None = None) -> SandboxedEnvironment:
    packaged = jinja2.FileSystemLoader(packaged_templates())
    loaders: list[jinja2.BaseLoader] = []
    if user_folder is not None:
        loaders.append(jinja2.FileSystemLoader(user_folder))
    loaders.append(jinja2.PrefixLoader({"default": packaged}, delimiter=":"))
    loaders.append(packaged)
    environment = SandboxedEnvironment(
        loader=jinja2.ChoiceLoader(loaders),
        autoescape=jinja2.select_autoescape(
            enabled_extensions=("html", "htm", "xml"), default_for_string=True
        ),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    # ``safe`` must see through the slots of a send's first render (distro.rendering.slots).
    environment.filters["safe"] = safe_filter
    return environment


def load_template(environment: jinja2.Environment, name: str) -> jinja2.Template:
    try:
        return environment.get_template(name)
    except jinja2.TemplateNotFound as exc:
        raise TemplateError(f"template {exc.name} not found") from None
    except jinja2.TemplateSyntaxError as exc:
        raise TemplateError(
            f"template {exc.filename or exc.name} line {exc.lineno}: {exc.message}"
        ) from None


def render_template(template: jinja2.Template, context: Mapping[str, Any]) -> str:
    try:
        return template.render(context)
    except jinja2.TemplateError as exc:
        name, line = _error_place(exc, template)
        raise TemplateError(
            f"template {name}" + (f" line {line}" if line else "") + f": {exc}"
        ) from None


def _error_place(exc: BaseException, template: jinja2.Template) -> tuple[str, int | None]:
    """Which template (an include or parent, maybe) and line an error was raised at.

    Jinja rewrites tracebacks so that frames of template code carry the template's file name
    and line; the innermost such frame is where the mistake is.
    """
    name, line = str(template.name), None
    trace = exc.__traceback__
    while trace is not None:
        frame = trace.tb_frame
        if "__jinja_exception__" in frame.f_globals:
            name, line = _shown_name(frame.f_code.co_filename, name), trace.tb_lineno
        trace = trace.tb_next
    return name, line


def _shown_name(filename: str, fallback: str) -> str:
    path = Path(filename)
    if not path.is_absolute():
        return fallback
    for root in (packaged_templates(),):
        if path.is_relative_to(root):
            return str(path.relative_to(root))
    return str(path)
