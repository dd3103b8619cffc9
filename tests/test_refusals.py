"""Staff users refuse what could deceive: names with control characters, emails that pass for others."""

from __future__ import annotations

import sys

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crm_store.errors import ValidationError
from crm_store.models import OutboxMessage, User
from crm_store.records.lines import one_line
from crm_store.staff import users

CONFUSABLE = [
    pytest.param("ｒｅｐ@example.com", "is not in Unicode normal form", id="fullwidth-local-part"),
    pytest.param("rep@ｅｘａｍｐｌｅ.com", "is not in Unicode normal form", id="fullwidth-domain"),
    pytest.param("ｒｅｐ@ｅｘａｍｐｌｅ．ｃｏｍ", "is not in Unicode normal form", id="fullwidth-everything"),
    pytest.param("ﬁona@example.com", "is not in Unicode normal form", id="ligature"),
    pytest.param("jose\u0301@example.com", "is not in Unicode normal form", id="separate-accent"),
    pytest.param("r\u0435p@example.com", "the part before @ mixes scripts (Cyrillic, Latin)", id="cyrillic-e"),
    pytest.param("\u03bfscar@example.com", "the part before @ mixes scripts (Greek, Latin)", id="greek-o"),
    pytest.param("rep@ex\u0430mple.com", "the domain name 'exаmple' mixes scripts (Cyrillic, Latin)",
                 id="cyrillic-a-domain"),
    pytest.param("rep@xn--exmple-4nf.com", "the domain name 'exаmple' mixes scripts (Cyrillic, Latin)",
                 id="punycode-mixed-domain"),
    pytest.param("rep@例子。台灣", "the domain reads as '例子.台灣'; type that", id="ideographic-full-stop"),
]
ACCEPTED = [
    pytest.param("Rep.One+crm@Leadline.TEST", "rep.one+crm@leadline.test", id="ascii-any-case"),
    pytest.param("王小明@example.com", "王小明@example.com", id="chinese-local-part"),
    pytest.param("陳xiaohua@example.com", "陳xiaohua@example.com", id="han-with-latin"),
    pytest.param("rep@例子.台灣", "rep@例子.台灣", id="chinese-domain"),
    pytest.param("jos\u00e9@example.com", "jos\u00e9@example.com", id="composed-accent"),
    pytest.param("иван@пример.рф", "иван@пример.рф", id="all-cyrillic"),
]


def _users(session: Session) -> int:
    n = session.scalar(select(func.count()).select_from(User)) or 0
    session.rollback()
    return int(n)


@pytest.mark.parametrize(("email", "says"), CONFUSABLE)
def test_a_confusable_email_is_refused_naming_the_field(session: Session, email: str, says: str) -> None:
    with pytest.raises(ValidationError) as err:
        users.add_user(session, email, "Rep One")
    assert err.value.field == "email"
    assert str(err.value).startswith(f"email: {email!r}") and says in str(err.value), str(err.value)
    assert _users(session) == 0


@pytest.mark.parametrize(("email", "stored"), ACCEPTED)
def test_a_plain_email_in_any_one_script_is_accepted(session: Session, email: str, stored: str) -> None:
    user = users.add_user(session, email, "Rep One", welcome=False)
    assert user.email == stored


@pytest.mark.parametrize(
    ("email", "refused"),
    [("rep@ex\u0430mple.com", True), ("rep@例子。台灣", True), ("rep@例子.台灣", False),
     ("rep@xn--fsqu00a.xn--kpry57d", False)],
)
def test_without_the_idna_package_the_standard_codec_judges_the_domain(
    monkeypatch: pytest.MonkeyPatch, email: str, refused: bool
) -> None:
    monkeypatch.setitem(sys.modules, "idna", None)  # `import idna` now fails, as where it is not installed
    with pytest.raises(ImportError):
        import idna  # noqa: F401
    if refused:
        with pytest.raises(ValidationError, match="^email: "):
            users.refuse_confusable_email("email", email)
    else:
        users.refuse_confusable_email("email", email)


def test_a_domain_idna_would_write_differently_is_refused() -> None:
    with pytest.raises(ValidationError, match=r"the domain is not a valid international name"):
        users.refuse_confusable_email("email", "rep@xn--zz.com")


@pytest.mark.parametrize("name", ["Rep\nOne", "Rep\r\nBcc: all@example.com", "Rep\x1b[31mOne", "Rep\u202eenO",
                                  "Rep\u2028One", "Rep\x00One", "Rep\u200bOne"])
def test_a_name_with_a_control_character_is_refused_naming_the_field(session: Session, name: str) -> None:
    with pytest.raises(ValidationError) as err:
        users.add_user(session, "rep@example.com", name)
    assert err.value.field == "name" and "must be one line without control characters" in str(err.value)
    assert _users(session) == 0


def test_names_keep_wide_spaces_and_joiners(session: Session) -> None:
    assert users.add_user(session, "wang@example.com", "王\u3000小明", welcome=False).name == "王\u3000小明"
    assert users.add_user(session, "mehr@example.com", "Mehr\u200cdad", welcome=False).name == "Mehr\u200cdad"


def test_one_line_names_the_first_control_character() -> None:
    assert one_line("title", "plain 中文 text") == "plain 中文 text"
    with pytest.raises(ValidationError, match=r"^title: must be one line without control characters \(found U\+0085"):
        one_line("title", "a\x85b\nc")


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (("ｒｅｐ@example.com", "--name", "Rep One"),
         "error: email: 'ｒｅｐ@example.com' is not in Unicode normal form (fullwidth, ligatures, separate "
         "accents…); type 'rep@example.com'"),
        (("r\u0435p@example.com", "--name", "Rep One"),
         "error: email: 'rеp@example.com': the part before @ mixes scripts (Cyrillic, Latin)"),
        (("rep@example.com", "--name", "Rep\nBcc: all@example.com"),
         "error: name: must be one line without control characters (found U+000A)"),
    ],
)
def test_cli_users_add_refuses_in_one_line_and_adds_nobody(crm, session: Session, args: tuple, error: str) -> None:  # noqa: ANN001
    result = crm("users", "add", *args, ok=False)
    assert result.exit_code == 1 and result.stderr == error + "\n"
    assert _users(session) == 0
    assert session.scalar(select(func.count()).select_from(OutboxMessage)) == 0


def test_cli_users_add_takes_a_chinese_name_and_address(crm, session: Session) -> None:  # noqa: ANN001
    out = crm("users", "add", "王小明@例子.台灣", "--name", "王小明").output
    assert out.startswith("Added rep 王小明 <王小明@例子.台灣>")
    assert _users(session) == 1
