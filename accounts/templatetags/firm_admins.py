"""``{% ask_admin %}``: the firm admins the reader (``user`` in the context) can ask, by name."""

from django import template

from .. import admins

register = template.Library()


@register.simple_tag(takes_context=True)
def ask_admin(context: template.Context) -> str:
    user = context.get("user")
    firm = getattr(user, "firm", None) if getattr(user, "is_authenticated", False) else None
    return admins.ask_admin(firm, besides=user)
