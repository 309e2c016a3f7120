"""The one Jinja2 environment, and turning a release into personalised emails.

Autoescape is on and undefined names are errors. Templates run sandboxed because staff may edit
them. A template folder from config is searched before the packaged one; ``default:NAME`` always
means the packaged original, so a custom template can extend it and override only some blocks.

What is the same for every recipient (the release body as HTML, the sender, the common context) is
prepared once per send in ``PreparedRelease``; ``personalise`` then only renders per recipient.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import css_inline
import jinja2
from jinja2.sandbox import SandboxedEnvironment
from markdown_it import MarkdownIt

import distro
from distro.errors import TemplateError


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
    return SandboxedEnvironment(
        loader=jinja2.ChoiceLoader(loaders),
        autoescape=jinja2.select_autoescape(
            enabled_extensions=("html", "htm", "xml"), default_for_string=True
        ),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


@cache
def _markdown() -> MarkdownIt:
    # "html": False escapes raw HTML in release bodies instead of passing it through.
    return MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": True})


def markdown_to_html(text: str) -> str:
    return str(_markdown().render(text))


@dataclass(frozen=True, slots=True)
class RenderedEmail:
    subject: str
    html: str
    text: str


class PreparedRelease:
    """A release's templates loaded and its common parts computed, ready to personalise."""

    def __init__(
        self, environment: jinja2.Environment, template: str, common: Mapping[str, Any]
    ) -> None:
        self.name = template
        self.common = dict(common)
        self.html_template = _load(environment, f"email/{template}.html")
        self.text_template = _load(environment, f"email/{template}.txt")
        self.subject_template = _load(environment, f"email/{template}.subject.txt")
        # Mail clients drop <style> blocks unevenly: move the CSS onto the elements.
        self._inliner = css_inline.CSSInliner(keep_style_tags=False, load_remote_stylesheets=False)

    def personalise(self, recipient: Mapping[str, Any]) -> RenderedEmail:
        context = {**self.common, **recipient}
        return RenderedEmail(
            subject=" ".join(_render(self.subject_template, context).split()),
            html=self._inliner.inline(_render(self.html_template, context)),
            text=_render(self.text_template, context),
        )


def _load(environment: jinja2.Environment, name: str) -> jinja2.Template:
    try:
        return environment.get_template(name)
    except jinja2.TemplateNotFound as exc:
        raise TemplateError(f"template {exc.name} not found") from None
    except jinja2.TemplateSyntaxError as exc:
        raise TemplateError(
            f"template {exc.filename or exc.name} line {exc.lineno}: {exc.message}"
        ) from None


def _render(template: jinja2.Template, context: Mapping[str, Any]) -> str:
    try:
        return template.render(context)
    except jinja2.TemplateError as exc:
        line = _template_line(exc, template.filename)
        where = f"template {template.name}" + (f" line {line}" if line else "")
        raise TemplateError(f"{where}: {exc}") from None


def _template_line(exc: BaseException, filename: str | None) -> int | None:
    """The template line an error was raised at (Jinja maps its frames to template lines)."""
    line = None
    trace = exc.__traceback__
    while trace is not None:
        if filename and trace.tb_frame.f_code.co_filename == filename:
            line = trace.tb_lineno
        trace = trace.tb_next
    return line
