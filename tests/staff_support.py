"""Helpers for the staff web app's tests: pages parsed into elements, and a signed-in (or not) test client.

`Page` parses HTML with the standard library into a small tree: `page.find("input", name="csrf_token")`,
`page.all("a")`, `page.by_id("email-error").text`, `page.text` (what a reader sees).
`Staff` wraps a Flask test client: `get`, `post` (with the page's CSRF token unless told not to), `sign_in`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
PASSWORD = "correct horse battery"


@dataclass
class Element:
    """One element: its tag, attributes, children and the text inside it."""

    tag: str
    attrs: dict[str, str]
    children: list[Element] = field(default_factory=list)
    parts: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        """The text inside, spaces squeezed."""
        return " ".join("".join(self._texts()).split())

    def _texts(self) -> list[str]:
        out = list(self.parts)
        for child in self.children:
            out += [" ", *child._texts(), " "]
        return out

    def walk(self) -> list[Element]:
        """This element and every one inside it, in document order."""
        found = [self]
        for child in self.children:
            found += child.walk()
        return found

    def all(self, tag: str | None = None, **attrs: str) -> list[Element]:
        """Elements inside with this tag and these attribute values (`class_` for class: one of its classes)."""
        return [e for e in self.walk()[1:] if (tag is None or e.tag == tag) and _matches(e, attrs)]

    def find(self, tag: str | None = None, **attrs: str) -> Element:
        """The first such element; fails the test when there is none."""
        found = self.all(tag, **attrs)
        assert found, f"no <{tag or '*'}> with {attrs}"
        return found[0]


def _matches(element: Element, attrs: dict[str, str]) -> bool:
    for name, value in attrs.items():
        if name == "class_":
            if value not in element.attrs.get("class", "").split():
                return False
        elif element.attrs.get(name.replace("_", "-")) != value:
            return False
    return True


class Page(HTMLParser):
    """A parsed HTML page."""

    def __init__(self, source: str) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Element("#document", {})
        self._open = [self.root]
        self.source = source
        self.feed(source)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = Element(tag, {k: v or "" for k, v in attrs})
        self._open[-1].children.append(element)
        if tag not in VOID:
            self._open.append(element)

    def handle_endtag(self, tag: str) -> None:
        for i in range(len(self._open) - 1, 0, -1):
            if self._open[i].tag == tag:
                del self._open[i:]
                return

    def handle_data(self, data: str) -> None:
        self._open[-1].parts.append(data)

    def all(self, tag: str | None = None, **attrs: str) -> list[Element]:
        return self.root.all(tag, **attrs)

    def find(self, tag: str | None = None, **attrs: str) -> Element:
        return self.root.find(tag, **attrs)

    def by_id(self, element_id: str) -> Element:
        return self.find(id=element_id)

    @property
    def text(self) -> str:
        body = self.all("body")
        return (body[0] if body else self.root).text

    @property
    def title(self) -> str:
        return self.find("title").text

    @property
    def lang(self) -> str:
        return self.find("html").attrs.get("lang", "")

    def csrf(self) -> str:
        return self.find("input", name="csrf_token").attrs["value"]

    def field_error(self, field_id: str) -> str:
        """The error shown beside a field ('' when none)."""
        found = self.all(id=f"{field_id}-error")
        return found[0].text if found else ""

    def alert(self) -> str:
        """The errors about a whole form ('' when none)."""
        found = self.all(class_="alert")
        return found[0].text if found else ""

    def flashes(self) -> list[str]:
        return [e.text for e in self.all(class_="flash")]


@dataclass(frozen=True)
class Person:
    """A user as the tests name them: plain values, so reading one never opens a transaction.

    (On SQLite the test session begins IMMEDIATE: an expired ORM row read between two requests would
    hold the write lock the app needs.)
    """

    id: int
    email: str
    name: str

    @classmethod
    def of(cls, user: Any) -> Person:
        return cls(user.id, user.email, user.name)


class Staff:
    """A browser-like test client: keeps cookies, posts forms with the CSRF token of the last page seen."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.last: Page | None = None
        self.response: Any = None

    def get(self, path: str, **kw: Any) -> Page:
        self.response = self.client.get(path, **kw)
        self.last = Page(self.response.get_data(as_text=True))
        return self.last

    def post(self, path: str, data: dict[str, Any] | None = None, *, csrf: bool = True, **kw: Any) -> Page:
        """Post a form; the CSRF token comes from the last page (fetched from `path` first if none)."""
        values = dict(data or {})
        if csrf:
            if self.last is None or not self.last.all("input", name="csrf_token"):
                self.get(_form_page(path))
            assert self.last is not None
            values.setdefault("csrf_token", self.last.csrf())
        self.response = self.client.post(path, data=values, **kw)
        self.last = Page(self.response.get_data(as_text=True))
        return self.last

    @property
    def status(self) -> int:
        return int(self.response.status_code)

    @property
    def location(self) -> str:
        return str(self.response.headers.get("Location", ""))

    def sign_in(self, email: str, password: str = PASSWORD, **kw: Any) -> Page:
        self.get("/auth/sign-in")
        return self.post("/auth/sign-in", {"email": email, "password": password}, **kw)

    def sign_out(self) -> Page:
        self.get("/")
        return self.post("/auth/sign-out")


def _form_page(path: str) -> str:
    """Where the form posting to `path` is shown (a POST-only route's form is on another page)."""
    if re.fullmatch(r"/users/\d+/welcome", path):
        return "/users"
    return {"/auth/sign-out": "/", "/language": "/auth/sign-in", "/profile/password": "/profile"}.get(path, path)


def make_staff(session: Any) -> dict[str, Any]:
    """admin; a manager; rep_a (reports to the manager) and rep_b in the team "North"; rep_c on their own.

    "rep" is rep_a, the rep the role-by-relation tests act as.
    """
    from crm_store.staff import teams
    from crm_store.staff.users import add_user

    admin = add_user(session, "admin@example.com", "Admin", role="admin", welcome=False)
    boss = add_user(session, "boss@example.com", "Boss", role="manager", welcome=False)
    rep_a = add_user(session, "a@example.com", "Rep A", manager_email=boss.email, welcome=False)
    rep_b = add_user(session, "b@example.com", "Rep B", welcome=False)
    rep_c = add_user(session, "c@example.com", "Rep C", welcome=False)
    north = teams.add_team(session, "North", boss.email)
    for rep in (rep_a, rep_b):
        teams.add_member(session, north, rep.email)
    return {"admin": admin, "manager": boss, "rep": rep_a, "rep_a": rep_a, "rep_b": rep_b, "rep_c": rep_c}
