"""Turning templates and a release into email and web pages, one job a module.

- ``environment``: the one sandboxed Jinja2 environment (autoescape, the staff template folder
  searched before the packaged one, ``default:NAME``), and loading and rendering templates with
  their mistakes reported by template and line.
- ``markdown``: a release's Markdown as sanitised HTML.
- ``slots`` and ``prepared``: a send's templates rendered once with slots for the personal
  values, then filled in per recipient (``PreparedRelease``).

The names callers use are re-exported here.
"""

from __future__ import annotations

from distro.rendering.environment import make_environment, packaged_templates
from distro.rendering.markdown import BODY_ATTRIBUTES, BODY_TAGS, markdown_to_html
from distro.rendering.prepared import PreparedRelease, RenderedEmail, email_inliner
from distro.rendering.slots import PERSONAL, TRACKING, OpenFields

__all__ = [
    "BODY_ATTRIBUTES",
    "BODY_TAGS",
    "PERSONAL",
    "TRACKING",
    "OpenFields",
    "PreparedRelease",
    "RenderedEmail",
    "email_inliner",
    "make_environment",
    "markdown_to_html",
    "packaged_templates",
]
